package core

import (
	"strconv"

	"github.com/fiber-caches/cache/internal/core/entry"
)

// fwdStatusKey holds, in Locals, the status of the failed handler run a
// stale response answered in place of (0: the handler returned an error).
type fwdStatusKey struct{}

// outcome is what happened to a request, as the cache headers tell it.
type outcome uint8

const (
	outcomeHit         outcome = iota // fresh, from the store (or a 304 from it)
	outcomeStale                      // stale, from the store, refreshed in the background
	outcomeStaleError                 // stale, from the store, in place of a failed handler
	outcomeCollapsed                  // the response of an identical request's handler run
	outcomeRevalidated                // the handler confirmed the stored response (304)
	outcomeMiss                       // the handler ran
	outcomeBypass                     // not looked up
)

var (
	strHit          = []byte("hit")
	strMiss         = []byte("miss")
	strCacheStatus  = []byte("Cache-Status")
	cacheStatusName = "fibercache"
)

// setStatus writes the cache headers: WithCacheHeader's (hit or miss;
// nothing for a response that was neither served from nor stored in the
// cache) and Cache-Status (RFC 9211). stored tells, for a miss, whether the
// response was stored; e is the entry served, for its remaining freshness.
// Either replaces every line of its name, in any spelling. buf is a
// scratch buffer (request.scratch; nil: one is made).
func (m *Cache) setStatus(c Ctx, buf []byte, o outcome, why Reason, e *entry.Entry, now int64) {
	delLines(&c.Response().Header, func(k []byte) bool { return m.writesStatus(k, o, why) })
	m.writeStatus(c, buf, o, why, e, now)
}

// writesCacheHeader reports whether the cache header (WithCacheHeader) is
// written for o and why: "hit" when the body came from the store (a
// revalidation only when its response was stored again), "miss" when the
// handler's response was stored.
func writesCacheHeader(o outcome, why Reason) bool {
	return o < outcomeRevalidated || (o == outcomeRevalidated || o == outcomeMiss) && why == ReasonNone
}

// writeStatus is setStatus on a response that has no line of either name
// (serveEntry deleted them).
func (m *Cache) writeStatus(c Ctx, buf []byte, o outcome, why Reason, e *entry.Entry, now int64) {
	h := &c.Response().Header
	if m.cacheHeader != nil && writesCacheHeader(o, why) {
		v := strMiss
		if o <= outcomeRevalidated {
			v = strHit
		}
		h.SetCanonical(m.cacheHeader, v)
	}
	if !m.cfg.cacheStatus {
		return
	}
	b := append(buf[:0], cacheStatusName...)
	switch o {
	case outcomeHit, outcomeStale:
		b = append(b, "; hit"...)
		b = appendTTL(b, e, now)
		if o == outcomeStale {
			b = append(b, "; detail=stale"...)
		}
	case outcomeStaleError:
		b = append(b, "; fwd=stale"...)
		if s, ok := c.Locals(fwdStatusKey{}).(int); ok && s > 0 {
			b = append(b, "; fwd-status="...)
			b = strconv.AppendInt(b, int64(s), 10)
		}
		b = appendTTL(b, e, now)
		b = append(b, "; detail=stale-if-error"...)
	case outcomeCollapsed:
		b = append(b, "; fwd=uri-miss; collapsed"...)
	case outcomeRevalidated:
		b = append(b, "; fwd=stale; fwd-status=304"...)
		if why == ReasonNone {
			b = append(b, "; stored"...)
		} else {
			b = append(append(b, "; detail="...), why.String()...)
		}
	case outcomeMiss:
		b = append(b, "; fwd=uri-miss"...)
		if why == ReasonNone {
			b = append(b, "; stored"...)
		} else {
			b = append(append(b, "; detail="...), why.String()...)
		}
	case outcomeBypass:
		b = append(append(b, "; fwd=bypass; detail="...), why.String()...)
	}
	h.SetCanonical(strCacheStatus, b)
}

// appendTTL appends Cache-Status's ttl parameter: e's remaining freshness
// at now, in whole seconds (negative when stale). An entry kept until
// invalidated has no freshness lifetime, and RFC 9211 §2.4 then has the
// parameter left out.
func appendTTL(b []byte, e *entry.Entry, now int64) []byte {
	if e == nil || e.FreshUntil == entry.Forever {
		return b
	}
	b = append(b, "; ttl="...)
	return strconv.AppendInt(b, (e.FreshUntil-now)/1e9, 10)
}
