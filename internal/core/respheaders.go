package core

import (
	"bytes"

	"github.com/fiber-caches/cache/internal/core/entry"
	"github.com/fiber-caches/cache/internal/core/rfc"
	"github.com/valyala/fasthttp"
)

// What the cache writes into a response replaces every line of that name,
// in any spelling. fasthttp's SetCanonical replaces only the first line
// spelled byte for byte as given: under DisableHeaderNormalizing (or after
// a proxy wrote names as it received them), a "cache-control" line that
// middleware in front of the cache wrote would go out beside the cache's
// own "Cache-Control", and a second line of the same spelling would stay
// too.

// delLines deletes every line of h whose name match reports, whatever its
// spelling. The lines fasthttp keeps in fields of their own (fieldHeader)
// are left alone: their setters replace them whatever the spelling.
func delLines(h *fasthttp.ResponseHeader, match func(k []byte) bool) {
	// Each round deletes at least the spelling it found; the bound only
	// guards against a header that will not let go of a line.
	for range 1 + 4*entry.MaxHeaders {
		var found []byte
		h.VisitAll(func(k, _ []byte) {
			if found == nil && !fieldHeader(k) && match(k) {
				found = k
			}
		})
		if found == nil {
			return
		}
		var buf [64]byte
		name := append(buf[:0], found...)
		h.DelBytes(name)
		if hasLine(h, name) {
			// The header normalizes names, so DelBytes deleted the
			// canonical spelling: delete this one as it is written.
			h.DisableNormalizing()
			h.DelBytes(name)
			h.EnableNormalizing()
		}
	}
}

// hasLine reports whether h has a line named name, byte for byte.
func hasLine(h *fasthttp.ResponseHeader, name []byte) bool {
	found := false
	h.VisitAll(func(k, _ []byte) { found = found || bytes.Equal(k, name) })
	return found
}

// fieldHeader reports whether fasthttp keeps the response header k in a
// field of its own rather than in its list of lines (its setters match
// these names in any case, and replace).
func fieldHeader(k []byte) bool {
	switch len(k) {
	case 4:
		return rfc.EqualFold(k, "date")
	case 6:
		return rfc.EqualFold(k, "server")
	case 7:
		return rfc.EqualFold(k, "trailer")
	case 10:
		return rfc.EqualFold(k, "set-cookie") || rfc.EqualFold(k, "connection")
	case 12:
		return rfc.EqualFold(k, "content-type")
	case 14:
		return rfc.EqualFold(k, "content-length")
	case 16:
		return rfc.EqualFold(k, "content-encoding")
	case 17:
		return rfc.EqualFold(k, "transfer-encoding")
	}
	return false
}

// writesStatus reports whether k is a header setStatus writes for o and
// why: Cache-Status (unless WithCacheStatus(false)), the cache header for
// the outcomes that carry one. A line the cache does not write is left to
// whoever wrote it.
func (m *Cache) writesStatus(k []byte, o outcome, why Reason) bool {
	if m.cfg.cacheStatus && rfc.EqualFold(k, "cache-status") {
		return true
	}
	return m.cacheHeader != nil && writesCacheHeader(o, why) && bytes.EqualFold(k, m.cacheHeader)
}

// clearForEntry deletes from h, in every spelling, the lines that serving
// e is about to write: e's headers (those a 304 carries, when
// notModified), Age, Content-Range and the cache's status headers for o
// and why.
func (m *Cache) clearForEntry(h *fasthttp.ResponseHeader, e *entry.Entry, notModified bool, o outcome, why Reason) {
	delLines(h, func(k []byte) bool {
		if rfc.EqualFold(k, "age") || rfc.EqualFold(k, "content-range") || m.writesStatus(k, o, why) {
			return true
		}
		for i := range e.Headers {
			kv := &e.Headers[i]
			if len(kv.Key) == len(k) && bytes.EqualFold(kv.Key, k) && (!notModified || rfc.NotModifiedHeader(kv.Key)) {
				return true
			}
		}
		return false
	})
}
