package cache

import (
	"bytes"
	"math"
	"time"

	"github.com/valyala/fasthttp"
)

// cacheDirectives is what a shared cache needs to know of a response's
// Cache-Control (RFC 9111 §5.2.2).
type cacheDirectives struct {
	maxAge, sMaxAge time.Duration // < 0: absent
	noStore         bool
	noCache         bool // also in its qualified form, no-cache="field"
	private         bool // also in its qualified form, private="field"
	public          bool
	mustRevalidate  bool
}

// readCacheControl parses every Cache-Control field of h. Unknown or
// malformed directives are ignored; a malformed max-age counts as 0
// (RFC 9111 §4.2.1: treat an invalid freshness lifetime as stale).
func readCacheControl(h *fasthttp.ResponseHeader) cacheDirectives {
	d := cacheDirectives{maxAge: -1, sMaxAge: -1}
	for _, v := range h.PeekAll(fasthttp.HeaderCacheControl) {
		for len(v) > 0 {
			var item []byte
			item, v = nextDirective(v)
			name, value, _ := bytes.Cut(item, []byte{'='})
			name = bytes.TrimSpace(name)
			switch {
			case bytes.EqualFold(name, []byte("max-age")):
				d.maxAge = minAge(d.maxAge, parseSeconds(value))
			case bytes.EqualFold(name, []byte("s-maxage")):
				d.sMaxAge = minAge(d.sMaxAge, parseSeconds(value))
			case bytes.EqualFold(name, []byte("no-store")):
				d.noStore = true
			case bytes.EqualFold(name, []byte("no-cache")):
				d.noCache = true
			case bytes.EqualFold(name, []byte("private")):
				d.private = true
			case bytes.EqualFold(name, []byte("public")):
				d.public = true
			case bytes.EqualFold(name, []byte("must-revalidate")):
				d.mustRevalidate = true
			}
		}
	}
	return d
}

// nextDirective splits v at the first comma outside a quoted string.
func nextDirective(v []byte) (item, rest []byte) {
	quoted := false
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case '\\':
			if quoted {
				i++
			}
		case '"':
			quoted = !quoted
		case ',':
			if !quoted {
				return v[:i], v[i+1:]
			}
		}
	}
	return v, nil
}

// parseSeconds reads a delta-seconds value (optionally quoted); anything
// else is 0. Values too large saturate.
func parseSeconds(v []byte) time.Duration {
	v = bytes.Trim(bytes.TrimSpace(v), `"`)
	if len(v) == 0 {
		return 0
	}
	var n int64
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0
		}
		if n > math.MaxInt64/int64(10*time.Second) {
			return math.MaxInt64
		}
		n = n*10 + int64(c-'0')
	}
	return time.Duration(n) * time.Second
}

func minAge(old, d time.Duration) time.Duration {
	if old < 0 || d < old {
		return d
	}
	return old
}

// lifetimes computes how long a response may be stored (store) and what it
// advertises to browsers and other caches (advertise), starting from the
// configured ttl (< 0: forever) and lowered by the response's own freshness:
// s-maxage (or else max-age, or else Expires) for storing, max-age (or else
// Expires) for advertising. store < 0 means forever.
func lifetimes(ttl time.Duration, d *cacheDirectives, h *fasthttp.ResponseHeader, now time.Time) (store, advertise time.Duration) {
	store, advertise = ttl, ttl
	if ttl < 0 {
		advertise = foreverMaxAge
	}
	expires, hasExpires := time.Duration(0), false
	if v := h.Peek(fasthttp.HeaderExpires); len(v) > 0 {
		hasExpires = true
		if t, err := fasthttp.ParseHTTPDate(v); err == nil {
			expires = max(t.Sub(now), 0)
		}
	}
	switch {
	case d.sMaxAge >= 0:
		store = minAge(store, d.sMaxAge)
	case d.maxAge >= 0:
		store = minAge(store, d.maxAge)
	case hasExpires:
		store = minAge(store, expires)
	}
	switch {
	case d.maxAge >= 0:
		advertise = min(advertise, d.maxAge)
	case hasExpires:
		advertise = min(advertise, expires)
	}
	return store, advertise
}
