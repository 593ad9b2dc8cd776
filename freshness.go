package cache

import (
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

// readCacheControl reads every Cache-Control field of h with the parser
// Control uses. Unknown or malformed directives are ignored; a malformed
// max-age counts as 0 (RFC 9111 §4.2.1: treat an invalid freshness lifetime
// as stale).
func readCacheControl(h *fasthttp.ResponseHeader) cacheDirectives {
	d := cacheDirectives{maxAge: -1, sMaxAge: -1}
	var buf [8]ccDirective
	for _, v := range h.PeekAll(fasthttp.HeaderCacheControl) {
		for _, cd := range ccParse(buf[:0], v) {
			switch ccKnown(cd.name) {
			case ccMaxAge:
				d.maxAge = minAge(d.maxAge, seconds(cd.value))
			case ccSMaxAge:
				d.sMaxAge = minAge(d.sMaxAge, seconds(cd.value))
			case ccNoStore:
				d.noStore = true
			case ccNoCache:
				d.noCache = true
			case ccPrivate:
				d.private = true
			case ccPublic:
				d.public = true
			case ccMustRevalidate:
				d.mustRevalidate = true
			}
		}
	}
	return d
}

// seconds converts a delta-seconds value; anything malformed is 0.
func seconds(v []byte) time.Duration {
	n, ok := ccDeltaSeconds(v)
	if !ok {
		return 0
	}
	return time.Duration(min(n, math.MaxInt64/int64(time.Second))) * time.Second
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
