package core

import (
	"bytes"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/fiber-caches/cache/internal/core/entry"
	"github.com/fiber-caches/cache/internal/core/rfc"
	"github.com/valyala/fasthttp"
)

// staleKeep is how long past its freshness an entry with a validator of
// its handler's is kept, to be revalidated rather than fetched again.
const staleKeep = 10 * time.Minute

// heuristicFraction and heuristicMax bound the heuristic freshness of the
// shared-cache mode (RFC 9111 §4.2.2): 10% of the time since Last-Modified,
// at most a day.
const (
	heuristicFraction = 0.1
	heuristicMax      = 24 * time.Hour
)

// responseInfo is what admission reads of a response's headers, every name
// matched case-insensitively.
type responseInfo struct {
	cc        rfc.ResponseDirectives
	cdn       [][]byte // CDN-Cache-Control lines (RFC 9213)
	cdnCC     rfc.ResponseDirectives
	cdnValid  bool
	ageSeen   bool
	times     rfc.ResponseTimes
	hasExpire bool
	etag      []byte
	names     []string // Vary, lower case, sorted
	varyStar  bool
	setCookie bool
	tooMany   bool
}

func readResponse(h *fasthttp.ResponseHeader, reqTime, now int64) responseInfo {
	ri := responseInfo{cc: rfc.NewResponseDirectives()}
	ri.times = rfc.ResponseTimes{Age: -1, RequestTime: reqTime, ResponseTime: now}
	h.VisitAll(func(k, v []byte) {
		switch {
		case rfc.EqualFold(k, "cache-control"):
			ri.cc.Parse(v)
		case rfc.EqualFold(k, "expires"):
			ri.hasExpire = true
			if t, ok := rfc.ParseHTTPDate(v); ok {
				ri.times.Expires = t
			} else {
				ri.times.ExpiresInvalid = true
			}
		case rfc.EqualFold(k, "date"):
			ri.times.Date, _ = rfc.ParseHTTPDate(v)
		case rfc.EqualFold(k, "last-modified"):
			ri.times.LastModified, _ = rfc.ParseHTTPDate(v)
		case rfc.EqualFold(k, "age"):
			// The first value of the first line counts; one that is not a
			// delta-seconds is ignored (RFC 9111 §5.1).
			if !ri.ageSeen {
				ri.ageSeen = true
				first, _ := rfc.NextElement(v)
				if d, ok := rfc.ParseDeltaSeconds(first); ok {
					ri.times.Age = d
				}
			}
		case rfc.EqualFold(k, "cdn-cache-control"):
			ri.cdn = append(ri.cdn, v)
		case rfc.EqualFold(k, "etag"):
			ri.etag = v
		case rfc.EqualFold(k, "set-cookie"), rfc.EqualFold(k, "set-cookie2"):
			ri.setCookie = true // Set-Cookie2 (RFC 2965, obsolete) sets a cookie too
		case rfc.EqualFold(k, "vary"):
			rfc.ForEachToken(v, func(tok []byte) {
				if len(tok) == 1 && tok[0] == '*' {
					ri.varyStar = true
					return
				}
				if len(ri.names) == entry.MaxNames {
					ri.tooMany = true
					return
				}
				ri.names = append(ri.names, string(appendLower(nil, tok)))
			})
		}
	})
	h.VisitAllCookie(func(_, _ []byte) { ri.setCookie = true })
	if len(ri.cdn) > 0 {
		// A valid CDN-Cache-Control replaces Cache-Control for a cache that
		// honours it (RFC 9213 §2.1).
		cdn := rfc.NewResponseDirectives()
		valid := true
		for _, v := range ri.cdn {
			valid = valid && rfc.ParseTargeted(&cdn, v)
		}
		if valid {
			ri.cdnValid, ri.cdnCC = true, cdn
		}
	}
	slices.Sort(ri.names)
	ri.names = slices.Compact(ri.names)
	return ri
}

// admit decides whether the response in c may be stored, and if so
// returns the entry (its headers and body copied) and the request header
// names it varies on. In app mode it first rewrites the response's
// Cache-Control and Expires for clients (WithClientTTL) and gives it an
// ETag, so the entry replays what the first client got.
func (m *Cache) admit(c Ctx, r *request, before []byte, now int64, raw bool) (*entry.Entry, []string, Reason) {
	resp := c.Response()
	h := &resp.Header
	status := resp.StatusCode()
	// App mode stores the statuses cacheable by default; the shared-cache
	// mode any final status that RFC 9111 §3 lets it (explicit freshness).
	if !rfc.CacheableByDefault(status) && !m.cfg.shared {
		return nil, nil, ReasonStatus
	}
	if status == fasthttp.StatusPartialContent {
		return nil, nil, ReasonStatus // ranges are answered from full responses
	}
	rule := m.cfg.ruleFor(c.Path(), status, r.app)
	switch {
	case rule == nil:
		return nil, nil, ReasonNoRule
	case rule.Skip:
		return nil, nil, ReasonRuleSkip
	}
	if resp.IsBodyStream() {
		return nil, nil, ReasonStreamedBody
	}
	body := resp.Body()
	if len(body) > m.cfg.maxBodySize {
		return nil, nil, ReasonBodyTooLarge
	}
	ri := readResponse(h, r.now, now)
	if m.cfg.shared && ri.cdnValid {
		// RFC 9213: CDN-Cache-Control replaces Cache-Control here, but
		// never lifts its privacy: private and no-store still hold.
		private, noStore := ri.cc.Private || ri.cc.PrivateQualified, ri.cc.NoStore
		ri.cc = ri.cdnCC
		ri.cc.Private = ri.cc.Private || private
		ri.cc.NoStore = ri.cc.NoStore || noStore
	}
	// The fields a qualified private or no-cache names are not stripped
	// from the entry: read both unqualified (RFC 9111 §5.2.2.4, §5.2.2.7).
	ri.cc.Private = ri.cc.Private || ri.cc.PrivateQualified
	ri.cc.NoCache = ri.cc.NoCache || ri.cc.NoCacheQualified
	switch {
	case ri.varyStar:
		return nil, nil, ReasonVaryStar
	case ri.tooMany:
		return nil, nil, ReasonTooManyHeaders
	// A Set-Cookie to a request without cookies starts a session: never
	// stored in app mode; in the shared-cache mode only when the upstream
	// says public (as nginx and Varnish refuse such responses by default).
	case ri.setCookie && !m.cfg.shared && !hasRequestCookie(&c.Request().Header),
		ri.setCookie && m.cfg.shared && !ri.cc.Public:
		return nil, nil, ReasonSetCookie
	}
	auth := requestHas(&c.Request().Header, "authorization")
	ok, why := rfc.Storable(rfc.StoreInput{
		GetOrHead: true, Status: status, Response: ri.cc, Authorization: auth,
		Shared: true, HasExpires: ri.hasExpire, Extension: !m.cfg.shared,
	})
	if !ok {
		return nil, nil, reasonOf(why)
	}

	// Freshness (RFC 9111 §4.2).
	ttl := m.cfg.ttl
	if rule.TTL > 0 {
		ttl = rule.TTL
	}
	lifetime, explicit := rfc.FreshnessLifetime(&ri.cc, &ri.times, true)
	initialAge := time.Duration(0)
	forever := false
	switch {
	case m.cfg.shared:
		if !explicit && ri.times.LastModified != 0 {
			lifetime = rfc.HeuristicLifetime(&ri.times, heuristicFraction, heuristicMax)
		}
		if ttl > 0 {
			lifetime = min(lifetime, ttl)
		}
		initialAge = rfc.InitialAge(&ri.times)
	case explicit && ttl > 0:
		lifetime = min(lifetime, ttl)
	case !explicit && ttl > 0:
		lifetime = ttl
	case !explicit:
		forever = true
	}
	validator := len(ri.etag) > 0 || ri.times.LastModified != 0
	window := max(ri.cc.StaleWhileRevalidate, ri.cc.StaleIfError, m.cfg.grace, 0)
	if !forever && lifetime <= initialAge && window == 0 && !validator {
		return nil, nil, ReasonExpired
	}
	if ri.cc.NoCache && !validator {
		return nil, nil, ReasonNoCache
	}

	// In app mode a response is keyed by the request's cookies unless it
	// says it may be shared (cookies.go), and clients are told so.
	cookies := m.keysCookies(&ri)
	if cookies {
		ri.names = withCookieName(ri.names)
	}
	var origin []entry.Header
	if !m.cfg.shared {
		origin = originLines(h)
		m.advertise(h, &ri, ttl, now, cookies)
	}
	if len(ri.etag) == 0 && m.cfg.etag && !m.cfg.shared && !r.head && status == fasthttp.StatusOK {
		h.SetBytesV(fasthttp.HeaderETag, autoETag(body))
	}

	// Its tags: Tag's, Surrogate-Key's and its route's (tags.go).
	tags, bad, ok := responseTags(c, m.fw.RoutePath(c))
	if !ok {
		m.log.log(slog.LevelWarn, "invalid_tags", slog.String("tag", bad), slog.String("url", c.OriginalURL()),
			slog.String("detail", "served, not stored: a tag is 1 to 256 visible bytes, no space, comma or control character, not starting with fc:, at most 31 a response"))
		return nil, nil, ReasonInvalidTags
	}
	if r.rebuilt != nil {
		// A 304's handler may well not tag again what it confirms: the
		// stored response keeps its tags.
		tags = sortedUnique(append(tags, r.rebuilt.Tags...))
	}
	if m.cfg.surrogateKeys {
		writeSurrogateKey(h, tags)
	}

	// The entry is keyed by the request's values of every name the path
	// varies on, the response's own included.
	names := entry.UnionNames(r.res.names, ri.names)
	if len(names) > entry.MaxNames {
		return nil, nil, ReasonTooManyHeaders
	}
	r.k.variant(&c.Request().Header, names, raw)
	e := &entry.Entry{
		Key:                  bytes.Clone(r.k.full()),
		Gen:                  r.res.gen,
		Epoch:                r.res.epoch,
		Seq:                  r.res.seq,
		Tags:                 tags,
		Status:               status,
		Stored:               now,
		InitialAge:           int64(initialAge),
		FreshUntil:           entry.Forever,
		KeepUntil:            entry.Forever,
		StaleWhileRevalidate: int64(ri.cc.StaleWhileRevalidate),
		StaleIfError:         int64(ri.cc.StaleIfError),
		LastModified:         ri.times.LastModified,
	}
	if r.started != 0 {
		e.Delta = max(now-r.started, 0) // the handler's time, for early refresh
	}
	if !forever {
		e.FreshUntil = now + int64(m.jitter(lifetime)) - int64(initialAge)
		keep := window
		if validator || m.cfg.shared {
			keep = max(keep, staleKeep) // to revalidate, or to serve when the origin is down
		}
		e.KeepUntil = max(e.FreshUntil, now) + int64(keep)
	}
	if !m.cfg.shared {
		e.Flags |= entry.FlagRewritten
		e.Origin = origin
	}
	if r.head && (r.rebuilt == nil || r.rebuilt.Head()) {
		e.Flags |= entry.FlagHead // a HEAD's body may be missing; a rebuilt GET's is not
	}
	if ri.cc.MustRevalidate {
		e.Flags |= entry.FlagMustRevalidate
	}
	if ri.cc.ProxyRevalidate || ri.cc.SMaxAge >= 0 && m.cfg.shared {
		e.Flags |= entry.FlagProxyRevalidate
	}
	if ri.cc.NoCache {
		e.Flags |= entry.FlagNoCache
	}
	if len(ri.etag) == 0 {
		e.Flags |= entry.FlagAutoETag
	}
	if !snapshot(e, h, body, before, m.cacheHeader, m.cfg.shared, m.cfg.surrogateKeys) {
		return nil, nil, ReasonTooManyHeaders
	}
	return e, names, ReasonNone
}

// reasonOf maps rfc.Storable's why to a Reason.
func reasonOf(why string) Reason {
	switch why {
	case rfc.WhyNoStore:
		return ReasonNoStore
	case rfc.WhyPrivate:
		return ReasonPrivate
	case rfc.WhyAuthorization:
		return ReasonAuthorization
	case rfc.WhyMustUnderstand:
		return ReasonMustUnderstand
	case rfc.WhyNoFreshness:
		return ReasonNoFreshness
	case rfc.WhyRequestNoStore:
		return ReasonRequestDirective
	}
	return ReasonStatus
}

// advertise rewrites the response's Cache-Control and Expires for browsers
// and CDNs (app mode): max-age is the client TTL (WithClientTTL, else the
// TTL), or the handler's own if smaller; a lifetime of 0 (the default
// without WithTTL) says no-cache, so clients revalidate, and the cache
// answers them 304.
//
// With cookies set, the response is keyed by the request's cookies: Vary:
// Cookie tells browsers and CDNs, unless it says so already.
func (m *Cache) advertise(h *fasthttp.ResponseHeader, ri *responseInfo, ttl time.Duration, now int64, cookies bool) {
	if cookies && !slices.Contains(ri.names, "cookie") {
		h.Add(fasthttp.HeaderVary, fasthttp.HeaderCookie)
	}
	client := m.cfg.clientTTL
	if client < 0 {
		client = max(ttl, 0)
	}
	// The handler's own lifetime for clients (max-age, else Expires−Date;
	// not s-maxage) wins when smaller.
	if own, ok := rfc.FreshnessLifetime(&ri.cc, &ri.times, false); ok {
		client = min(client, own)
	}
	controlDelHeader(h, fasthttp.HeaderExpires)
	var date [32]byte
	if client >= time.Second {
		PatchCacheControl(h, MaxAge(client))
		h.SetBytesV(fasthttp.HeaderExpires, m.expires.append(date[:0], time.Unix(0, now).Add(client)))
		return
	}
	PatchCacheControl(h, Drop(ccMaxAge), NoCache())
	h.SetBytesV(fasthttp.HeaderExpires, m.expires.append(date[:0], time.Unix(0, now)))
}

// autoETag is the strong ETag the cache gives a stored body that has none:
// its length and 64-bit xxHash, computed once, at store time.
func autoETag(body []byte) []byte {
	b := append(make([]byte, 0, 32), `"fc-`...)
	b = strconv.AppendInt(b, int64(len(body)), 36)
	b = append(b, '-')
	b = strconv.AppendUint(b, xxhash.Sum64(body), 36)
	return append(b, '"')
}

// hasRequestCookie reports whether the request carries a cookie, on any
// Cookie line, in any case.
func hasRequestCookie(h *fasthttp.RequestHeader) bool {
	return requestHas(h, "cookie")
}

// headersBefore records the response headers set before the handler ran
// (by middleware in front of the cache, such as a request ID), as
// "key\x00value\x00" pairs: that middleware sets them again on every
// request, so an entry does not replay them.
func headersBefore(h *fasthttp.ResponseHeader) []byte {
	var b []byte
	h.VisitAll(func(k, v []byte) {
		if rfc.EqualFold(k, "content-type") {
			return // always present: fasthttp's default
		}
		b = append(append(append(append(b, k...), 0), v...), 0)
	})
	return b
}

// beforeSet is headersBefore's pairs, to look up in linear time.
type beforeSet map[string]struct{}

func newBeforeSet(before []byte) beforeSet {
	if len(before) == 0 {
		return nil
	}
	s := beforeSet{}
	for len(before) > 0 {
		var k, v []byte
		k, before, _ = bytes.Cut(before, []byte{0})
		v, before, _ = bytes.Cut(before, []byte{0})
		s[string(k)+"\x00"+string(v)] = struct{}{}
	}
	return s
}

func (s beforeSet) has(k, v []byte) bool {
	if s == nil {
		return false
	}
	_, ok := s[string(k)+"\x00"+string(v)]
	return ok
}

// snapshot copies the headers worth replaying, and the body, into e, in
// one allocation, in time linear in their number. It reports false when
// they exceed what an entry may hold, or are not valid fields.
func snapshot(e *entry.Entry, h *fasthttp.ResponseHeader, body, before, cacheHeader []byte, shared, surrogateKeys bool) bool {
	// One visit of the header; the pairs alias it, which nothing changes
	// until snapshot returns.
	scratch := headerPairsPool.Get().(*[]headerPair)
	all := (*scratch)[:0]
	defer func() {
		clear(all)
		*scratch = all[:0]
		headerPairsPool.Put(scratch)
	}()
	var conn [][]byte
	h.VisitAll(func(k, v []byte) {
		all = append(all, headerPair{k: k, v: v})
		if rfc.EqualFold(k, "connection") {
			rfc.ForEachToken(v, func(t []byte) { conn = append(conn, t) })
		}
	})
	bs := newBeforeSet(before)
	size, n, valid := len(body), 0, true
	for i := range all {
		kv := &all[i]
		kv.keep = keepHeader(kv.k, kv.v, conn, bs, cacheHeader, shared) && (surrogateKeys || !rfc.EqualFold(kv.k, "surrogate-key"))
		if kv.keep {
			size += len(kv.k) + len(kv.v)
			n++
			valid = valid && rfc.ValidFieldName(kv.k) && rfc.ValidFieldValue(kv.v)
		}
	}
	if !valid || n > entry.MaxHeaders || size-len(body) > entry.MaxHeaderBytes {
		return false
	}
	arena := make([]byte, 0, size)
	e.Headers = make([]entry.Header, 0, n)
	for _, kv := range all {
		if !kv.keep {
			continue
		}
		k, v := kv.k, kv.v
		arena = append(arena, k...)
		key := arena[len(arena)-len(k):]
		arena = append(arena, v...)
		val := arena[len(arena)-len(v):]
		e.Headers = append(e.Headers, entry.Header{Key: key, Value: val})
		if rfc.EqualFold(k, "etag") && len(val) > 0 {
			e.ETag = val
		}
		if rfc.EqualFold(k, "content-encoding") && len(val) > 0 {
			e.Encoding = val
		}
	}
	arena = append(arena, body...)
	e.Body = arena[len(arena)-len(body):]
	entry.MarkFirst(e.Headers)
	return true
}

// headerPair is one response header field as snapshot visits it.
type headerPair struct {
	k, v []byte
	keep bool
}

// headerPairsPool holds the scratch slices snapshot visits a header into.
var headerPairsPool = sync.Pool{New: func() any { s := make([]headerPair, 0, 32); return &s }}

// keepHeader reports whether an entry keeps the response header k: v; conn
// are the names the Connection header lists, bs the headers set before the
// handler ran.
func keepHeader(k, v []byte, conn [][]byte, bs beforeSet, cacheHeader []byte, shared bool) bool {
	if rfc.HopByHop(k) || dropped(k, shared) || bytes.EqualFold(k, cacheHeader) || bs.has(k, v) {
		return false
	}
	for _, t := range conn {
		if bytes.EqualFold(k, t) {
			return false
		}
	}
	return true
}

// dropped reports the headers an entry never keeps besides hop-by-hop
// ones: those the cache or the server writes afresh on every response,
// and in app mode cookies, Set-Cookie2 included (a shared cache stores
// Set-Cookie, RFC 9111 §7.3 leaves that to it, and cache-tests expects it).
func dropped(k []byte, shared bool) bool {
	for _, name := range [...]string{"content-length", "date", "age", "cache-status"} {
		if rfc.EqualFold(k, name) {
			return true
		}
	}
	return !shared && (rfc.EqualFold(k, "set-cookie") || rfc.EqualFold(k, "set-cookie2"))
}
