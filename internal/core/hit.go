package core

import (
	"log/slog"
	"strconv"

	"github.com/fiber-caches/cache/internal/core/entry"
	"github.com/fiber-caches/cache/internal/core/rfc"
	"github.com/valyala/fasthttp"
)

var strAge = []byte(fasthttp.HeaderAge)

// serveEntry answers the request from e without running the handler: a
// 304 when the request's own validators match e (RFC 9110 §13.2.2), a 206
// or 416 when it asks for a range of a stored 200 (RFC 9110 §14), else e
// whole. The body is copied into the response: what outer middleware does
// to it afterwards never reaches the stored entry.
func (m *Cache) serveEntry(c Ctx, r *request, e *entry.Entry, now int64, o outcome, why Reason) error {
	rh := &r.rh
	resp := c.Response()
	h := &resp.Header
	nm := notModified(rh, e)
	// What middleware in front of the cache wrote under the names served
	// here goes, in every spelling, as the handler's lines replace it on a
	// miss.
	m.clearForEntry(h, e, nm, o, why)
	if nm {
		resp.SetStatusCode(fasthttp.StatusNotModified)
		for i := range e.Headers {
			kv := &e.Headers[i]
			if !rfc.NotModifiedHeader(kv.Key) {
				continue
			}
			if kv.First {
				h.SetCanonical(kv.Key, kv.Value)
			} else {
				h.AddBytesKV(kv.Key, kv.Value)
			}
		}
		resp.ResetBody()
		m.finishHit(c, r, e, now, o, why, true)
		return nil
	}
	resp.SetStatusCode(e.Status)
	for i := range e.Headers {
		kv := &e.Headers[i]
		if kv.First {
			h.SetCanonical(kv.Key, kv.Value)
		} else {
			h.AddBytesKV(kv.Key, kv.Value)
		}
	}
	body := e.Body
	if len(rh.rng) > 0 && e.Status == fasthttp.StatusOK && !c.Request().Header.IsHead() &&
		(len(rh.ifRange) == 0 || rfc.IfRangeAllows(rh.ifRange, e.ETag, e.LastModified)) {
		body = m.applyRange(resp, r.scratch[:0], rh.rng, body)
	}
	resp.SetBody(body)
	m.finishHit(c, r, e, now, o, why, false)
	return nil
}

// applyRange answers the range rng of body: a 206 with Content-Range, or a
// 416; it returns the body to send. buf is a scratch buffer.
func (m *Cache) applyRange(resp *fasthttp.Response, buf, rng, body []byte) []byte {
	size := int64(len(body))
	start, end, out := rfc.ParseRange(rng, size)
	switch out {
	case rfc.RangeSatisfiable:
		resp.SetStatusCode(fasthttp.StatusPartialContent)
		resp.Header.SetBytesV(fasthttp.HeaderContentRange, rfc.AppendContentRange(buf, start, end, size))
		return body[start : end+1]
	case rfc.RangeUnsatisfiable:
		resp.SetStatusCode(fasthttp.StatusRequestedRangeNotSatisfiable)
		resp.Header.SetBytesV(fasthttp.HeaderContentRange, rfc.AppendContentRange(buf, -1, -1, size))
		return nil
	}
	return body
}

// notModified reports whether the request's If-None-Match or
// If-Modified-Since match e.
func notModified(rh *reqHeaders, e *entry.Entry) bool {
	inm, ims := rh.inm, rh.ims
	if len(inm) == 0 && len(ims) == 0 || e.Status != fasthttp.StatusOK {
		return false
	}
	lm := e.LastModified
	if lm == 0 && len(inm) == 0 {
		lm = e.Stored // RFC 9111 §4.3.2: no Last-Modified, the time it was received
	}
	return rfc.EvaluateConditional(true, inm, ims, e.ETag, lm) == rfc.NotModified
}

// finishHit adds Age and the cache headers to a response served from e,
// and counts it: a 304, a fresh or a stale hit (a miss, a revalidation or
// a follower's answer was counted where it happened).
func (m *Cache) finishHit(c Ctx, r *request, e *entry.Entry, now int64, o outcome, why Reason, notModified bool) {
	h := &c.Response().Header
	age := e.Age(now) / 1e9
	h.SetCanonical(strAge, strconv.AppendInt(r.scratch[:0], age, 10))
	m.writeStatus(c, r.scratch[:0], o, why, e, now) // serveEntry cleared every other spelling
	// One of hit, stale, not_modified or miss per request: a miss was
	// counted where the handler ran.
	switch {
	case o == outcomeMiss, o == outcomeRevalidated:
	case notModified:
		m.observe(EventNotModified, ReasonNone)
	case o == outcomeHit || o == outcomeCollapsed:
		m.observe(EventHit, ReasonNone)
	case o == outcomeStale || o == outcomeStaleError:
		m.observe(EventStale, ReasonNone)
	}
	if o <= outcomeStaleError && m.log.enabled(slog.LevelDebug) {
		m.log.l.LogAttrs(m.fw.Context(c), slog.LevelDebug, "cache_lookup HIT", m.requestAttrs(c, slog.Int64("age", age), slog.Bool("not_modified", notModified))...)
	}
}
