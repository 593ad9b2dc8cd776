package core

import (
	"bytes"

	"github.com/fiber-caches/cache/internal/core/entry"
	"github.com/fiber-caches/cache/internal/core/rfc"
	"github.com/valyala/fasthttp"
)

// rebuild turns the 304 in c, the handler's answer to a revalidation of
// stale, into the response it confirms: stale's status, headers and body,
// its headers updated with those of the 304 (RFC 9111 §4.3.4: a stored
// field is replaced by the 304's fields of the same name). In app mode
// the headers the cache rewrote for clients are first put back as the
// handler sent them (entry.Origin). The result is then admitted, stored
// and told to clients exactly as a fresh response is: the 304 may say
// private, no-store or Set-Cookie, and what clients are promised is what
// the cache decides now, not what it decided before.
func (m *Cache) rebuild(c Ctx, stale *entry.Entry, before []byte) {
	resp := c.Response()
	// The 304's fields, but those describing a body it does not have
	// (RFC 9111 §3.2: they are not updated) and the hop-by-hop ones.
	var fresh []entry.Header
	resp.Header.VisitAll(func(k, v []byte) {
		if !rfc.HopByHop(k) && !notUpdated(k) && !bytes.EqualFold(k, m.cacheHeader) {
			fresh = append(fresh, entry.Header{Key: bytes.Clone(k), Value: bytes.Clone(v)})
		}
	})
	m.resetResponse(c, before)
	h := &resp.Header
	resp.SetStatusCode(stale.Status)
	// In app mode, Origin holds the handler's own lines of the fields the
	// cache rewrote: they stand for the stored ones.
	rewritten := stale.Flags&entry.FlagRewritten != 0
	for _, kv := range stale.Headers {
		if !(rewritten && isRewritten(kv.Key)) && !has(fresh, kv.Key) {
			h.AddBytesKV(kv.Key, kv.Value)
		}
	}
	if rewritten {
		for _, kv := range stale.Origin {
			if !has(fresh, kv.Key) {
				h.AddBytesKV(kv.Key, kv.Value)
			}
		}
	}
	for _, f := range fresh {
		h.AddBytesKV(f.Key, f.Value)
	}
	resp.SetBody(stale.Body)
}

// has reports whether fresh holds a field named k.
func has(fresh []entry.Header, k []byte) bool {
	for _, f := range fresh {
		if bytes.EqualFold(f.Key, k) {
			return true
		}
	}
	return false
}

// notUpdated lists the fields a 304 does not update in the stored
// response (RFC 9111 §3.2): Content-Length, Content-Type (fasthttp gives
// every response one, so a 304's is not the handler's word), and those the
// cache or the server write afresh.
func notUpdated(k []byte) bool {
	for _, name := range [...]string{"content-length", "content-type", "date", "age", "cache-status"} {
		if rfc.EqualFold(k, name) {
			return true
		}
	}
	return false
}

// isRewritten reports the fields the app mode rewrites for clients, whose
// lines as the handler sent them an entry keeps in Origin.
func isRewritten(k []byte) bool {
	return rfc.EqualFold(k, "cache-control") || rfc.EqualFold(k, "expires") || rfc.EqualFold(k, "vary")
}

// originLines copies the response's lines of the fields the app mode is
// about to rewrite, in one allocation.
func originLines(h *fasthttp.ResponseHeader) []entry.Header {
	var n, size int
	h.VisitAll(func(k, v []byte) {
		if isRewritten(k) {
			n++
			size += len(k) + len(v)
		}
	})
	if n == 0 {
		return nil
	}
	arena := make([]byte, 0, size)
	out := make([]entry.Header, 0, n)
	h.VisitAll(func(k, v []byte) {
		if isRewritten(k) {
			arena = append(arena, k...)
			key := arena[len(arena)-len(k):]
			arena = append(arena, v...)
			out = append(out, entry.Header{Key: key, Value: arena[len(arena)-len(v):]})
		}
	})
	return out
}
