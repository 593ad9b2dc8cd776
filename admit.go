package cache

import (
	"bytes"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/fiber-caches/cache/internal/entry"
	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"
)

// cacheableStatus lists the statuses that may be stored.
func cacheableStatus(status int) bool {
	switch status {
	case 200, 203, 204, 206, 300, 301, 404, 405, 410, 414, 501:
		return true
	}
	return false
}

// runAndStore runs the rest of the chain and, when its response may be
// stored, stores it. It returns the stored entry and the request header
// names that entry varies on; nil when nothing was stored. gen0 is the
// URL's invalidation generation, read before the handler runs: it tells,
// after the store, whether an invalidation happened meanwhile.
func (m *Cache) runAndStore(c *fiber.Ctx, t *target, varyRec *entry.Entry, head bool, gen0 [16]byte) (*entry.Entry, []string, error) {
	before := headersBefore(&c.Response().Header)
	if err := c.Next(); err != nil {
		return nil, nil, err
	}

	now := time.Now()
	e, names, reason := m.admit(c, now, head, before)
	if reason != "" {
		if m.log.enabled(LevelTrace) {
			m.log.log(LevelTrace, "response_not_cachable reason="+reason,
				slog.String("method", c.Method()), slog.String("url", c.OriginalURL()), slog.Int("status", c.Response().StatusCode()))
		}
		return nil, nil, nil
	}
	if !m.persist(c, t, varyRec, e, names, gen0) {
		return nil, nil, nil
	}
	if m.cacheHeader != nil {
		c.Response().Header.SetCanonical(m.cacheHeader, strMiss)
	}
	if m.log.enabled(slog.LevelDebug) {
		maxAge := "forever"
		if e.Expires != 0 {
			maxAge = strconv.FormatInt((e.Expires-e.Stored)/int64(time.Second), 10)
		}
		m.log.log(slog.LevelDebug, "store_in_cache max_age="+maxAge,
			slog.String("method", c.Method()), slog.String("url", c.OriginalURL()), slog.Any("vary", names))
	}
	return e, names, nil
}

// admit decides whether the response in c may be stored. If so it sets the
// response's Cache-Control max-age and Expires and returns the entry to
// store and the request header names it varies on; if not, the reason.
func (m *Cache) admit(c *fiber.Ctx, now time.Time, head bool, before []byte) (*entry.Entry, []string, string) {
	resp := c.Response()
	h := &resp.Header
	status := resp.StatusCode()
	if !cacheableStatus(status) {
		return nil, nil, "status_code"
	}
	rule := m.cfg.ruleFor(c.Path(), status)
	switch {
	case rule == nil:
		return nil, nil, "no_matching_rule"
	case rule.Skip:
		return nil, nil, "rule_skip"
	}
	if resp.IsBodyStream() {
		return nil, nil, "streamed_body"
	}
	if len(resp.Body()) > m.cfg.maxBodySize {
		return nil, nil, "body_too_large"
	}
	names, star := varyNames(h)
	if star {
		return nil, nil, "vary_star"
	}
	if status == fasthttp.StatusPartialContent {
		// A partial response answers only its own Range: keyed by it, it
		// can never be served to a request for the whole representation.
		names = unionNames(names, []string{"range"})
	}
	if hasSetCookie(h) && len(c.Request().Header.Peek(fasthttp.HeaderCookie)) == 0 {
		return nil, nil, "cookies_for_cookieless_request"
	}
	cc := readCacheControl(h)
	switch {
	case cc.noStore:
		return nil, nil, "no_store"
	case cc.private:
		return nil, nil, "private"
	case cc.noCache:
		return nil, nil, "no_cache"
	}
	// RFC 9111 §3.5: a shared cache keeps an answer to an authenticated
	// request only when the response says it may.
	if len(c.Request().Header.Peek(fasthttp.HeaderAuthorization)) > 0 && !cc.public && !cc.mustRevalidate && cc.sMaxAge < 0 {
		return nil, nil, "authorization"
	}
	ttl := m.cfg.ttl
	if rule.TTL > 0 {
		ttl = rule.TTL
	}
	storeFor, advertise := lifetimes(ttl, &cc, h, now)
	if storeFor == 0 {
		return nil, nil, "expired"
	}

	PatchCacheControl(h, MaxAge(advertise))
	var date [len(http.TimeFormat)]byte
	h.SetBytesV(fasthttp.HeaderExpires, fasthttp.AppendHTTPDate(date[:0], now.Add(advertise)))

	e := &entry.Entry{
		Kind:   entry.KindResponse,
		Head:   head,
		Status: status,
		Stored: now.UnixNano(),
	}
	if storeFor > 0 {
		e.Expires = now.Add(storeFor).UnixNano()
	}
	m.snapshot(e, h, resp.Body(), before)
	return e, names, ""
}

func hasSetCookie(h *fasthttp.ResponseHeader) bool {
	found := false
	h.VisitAllCookie(func(_, _ []byte) { found = true })
	return found
}

// headersBefore records the response headers set before the handler ran
// (by middleware in front of the cache, such as a request ID), as
// "key\x00value\x00" pairs: those are set again by that middleware on every
// request, so an entry does not replay them.
func headersBefore(h *fasthttp.ResponseHeader) []byte {
	var b []byte
	h.VisitAll(func(k, v []byte) {
		if bytes.EqualFold(k, []byte(fasthttp.HeaderContentType)) {
			return // always present: fasthttp's default
		}
		b = append(append(append(append(b, k...), 0), v...), 0)
	})
	return b
}

func containsPair(pairs, k, v []byte) bool {
	for len(pairs) > 0 {
		var pk, pv []byte
		pk, pairs, _ = bytes.Cut(pairs, []byte{0})
		pv, pairs, _ = bytes.Cut(pairs, []byte{0})
		if bytes.Equal(pk, k) && bytes.Equal(pv, v) {
			return true
		}
	}
	return false
}

// snapshot copies the headers worth replaying, and the body, into e, in one
// allocation.
func (m *Cache) snapshot(e *entry.Entry, h *fasthttp.ResponseHeader, body, before []byte) {
	skip := connectionTokens(h)
	size := len(body)
	n := 0
	keep := func(k, v []byte) bool {
		return !dropHeader(k, skip) && !bytes.EqualFold(k, m.cacheHeader) && !containsPair(before, k, v)
	}
	h.VisitAll(func(k, v []byte) {
		if keep(k, v) {
			size += len(k) + len(v)
			n++
		}
	})
	arena := make([]byte, 0, size)
	e.Headers = make([]entry.Header, 0, n)
	h.VisitAll(func(k, v []byte) {
		if !keep(k, v) {
			return
		}
		arena = append(arena, k...)
		key := arena[len(arena)-len(k):]
		arena = append(arena, v...)
		val := arena[len(arena)-len(v):]
		first := !slices.ContainsFunc(e.Headers, func(x entry.Header) bool { return bytes.Equal(x.Key, key) })
		e.Headers = append(e.Headers, entry.Header{Key: key, Value: val, First: first})
	})
	arena = append(arena, body...)
	e.Body = arena[len(arena)-len(body):]
}

// dropHeader reports the headers an entry never keeps: hop-by-hop and
// connection headers (RFC 9110 §7.6.1), those named by Connection, cookies,
// and those the cache or the server writes afresh on every response.
func dropHeader(k []byte, connection [][]byte) bool {
	var lower [len("proxy-authorization")]byte // the longest name below
	if len(k) > len(lower) {
		return slices.ContainsFunc(connection, func(t []byte) bool { return bytes.EqualFold(k, t) })
	}
	for i, c := range k {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		lower[i] = c
	}
	switch string(lower[:len(k)]) {
	case "connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization",
		"te", "trailer", "transfer-encoding", "upgrade",
		"set-cookie", "content-length", "date", "age":
		return true
	}
	for _, t := range connection {
		if bytes.EqualFold(k, t) {
			return true
		}
	}
	return false
}

// connectionTokens returns the header names the Connection header lists.
func connectionTokens(h *fasthttp.ResponseHeader) [][]byte {
	var out [][]byte
	for _, v := range h.PeekAll(fasthttp.HeaderConnection) {
		for _, t := range bytes.Split(v, []byte{','}) {
			if t = bytes.TrimSpace(t); len(t) > 0 {
				out = append(out, append([]byte(nil), t...))
			}
		}
	}
	return out
}

// persist writes e, and the Vary records it needs, and returns whether it
// is stored. gen0 is the URL's invalidation generation before the handler
// ran: if it changed meanwhile, the response may predate an invalidation,
// so what was written is removed again.
func (m *Cache) persist(c *fiber.Ctx, t *target, varyRec, e *entry.Entry, names []string, gen0 [16]byte) bool {
	// The header names are learnt per URL path: their union over every
	// response seen.
	pathRec := m.store.get(&t.path, "path_vary")
	var learnt []string
	if pathRec != nil && pathRec.Kind == entry.KindVary {
		learnt = pathRec.Names
	}
	union := unionNames(learnt, names)
	if !slices.Equal(union, learnt) || pathRec != nil && laterExpiry(e.Expires, pathRec.Expires) {
		m.store.set(&t.path, &entry.Entry{Kind: entry.KindVary, Names: union, Expires: e.Expires}, "path_vary")
	}

	var err error
	if len(union) == 0 {
		err = m.store.set(&t.url, e, "url")
	} else {
		rec := &entry.Entry{Kind: entry.KindVary, Names: union, Expires: e.Expires}
		if varyRec != nil && !laterExpiry(e.Expires, varyRec.Expires) {
			rec.Expires = varyRec.Expires
		}
		// The variants' nonce. After an invalidation it is the generation
		// that invalidation wrote (gen0), never the nonce of the Vary record
		// read at the lookup: the invalidation may have deleted that record
		// since, and writing it back would make the variants stored before
		// the invalidation reachable again. Requests storing under one
		// generation share it, so their variants stay reachable together.
		switch {
		case gen0 != [16]byte{}:
			rec.Nonce = gen0
		case varyRec != nil:
			rec.Nonce = varyRec.Nonce
		default:
			rec.Nonce = newNonce()
		}
		if err = m.store.set(&t.url, rec, "url"); err == nil {
			k := variantDigest(&t.url, rec, &c.Request().Header)
			err = m.store.set(&k, e, "variant")
		}
	}
	if err != nil {
		return false
	}

	if m.generation(t) != gen0 {
		m.store.del(&t.url, "url")
		m.log.log(LevelTrace, "response_not_cachable reason=invalidated_while_running",
			slog.String("method", c.Method()), slog.String("url", c.OriginalURL()))
		return false
	}
	return true
}

// laterExpiry reports whether expiry a (Unix nanoseconds, 0: never) is
// later than b.
func laterExpiry(a, b int64) bool {
	return b != 0 && (a == 0 || a > b)
}
