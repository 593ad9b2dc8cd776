package core

import (
	"bytes"
	"context"
	"log/slog"
	"time"

	"github.com/fiber-caches/cache/internal/core/entry"
	"github.com/fiber-caches/cache/internal/core/rfc"
	"github.com/valyala/fasthttp"
)

// fetch runs the handler for a request the store could not answer (stale
// is the entry to revalidate or to fall back on, if any), coalesced with
// identical requests, in this process (flights) and, through the lease of
// a backend that has one, in every instance sharing the storage (lease.go),
// and stores what it may. refresh is set for a background refresh
// (stale-while-revalidate, early refresh).
func (m *Cache) fetch(c Ctx, r *request, stale *entry.Entry, refresh bool) error {
	h := &c.Request().Header
	raw := r.app.rawHeaders
	arrived := time.Now()
	f, leader, landing := m.flights.join(r.k.full(), !refresh, r.now)
	if landing != nil {
		// An identical request's handler returned and its store has not
		// landed: wait for it, then look in the store again.
		landing.landed(m.cfg.coalesceWait)
		if e := m.lookAgain(c, r); e != nil {
			return m.serveEntry(c, r, e, r.now, outcomeHit, ReasonNone)
		}
		f, leader, _ = m.flights.join(r.k.full(), false, r.now)
	}
	retried := false
	if !leader {
		m.observe(EventCoalesced, ReasonNone)
		for !leader {
			e, failed := f.wait(time.Until(arrived.Add(m.cfg.coalesceWait)), h, r.head, raw, m.cfg.cookieIgnore)
			if e != nil && acceptable(r.rh.ae, e, f.names) {
				return m.serveEntry(c, r, e, r.now, outcomeCollapsed, ReasonNone)
			}
			if !failed || retried {
				f = nil // the leader stored nothing for us: run the handler
				break
			}
			// The leader failed (an error, a panic, an invalidation while
			// it ran): one of its followers runs the handler next, the
			// others wait for that run, once more.
			retried = true
			f, leader, landing = m.flights.join(r.k.full(), true, r.now)
			if landing != nil {
				// That run's handler returned already.
				landing.landed(time.Until(arrived.Add(m.cfg.coalesceWait)))
				if e := m.lookAgain(c, r); e != nil {
					return m.serveEntry(c, r, e, r.now, outcomeHit, ReasonNone)
				}
				f = nil
				break
			}
		}
	}
	if leader && (retried || !refresh && m.flights.landedSince(r.slot, r.seen)) {
		// An identical request stored since this one looked, or this one
		// leads again after a failed run: look again, after every
		// follower joined, and hand them what it finds.
		m.flights.close(f)
		if e := m.lookAgain(c, r); e != nil {
			m.flights.land(f, r.slot, e, r.k.names, h, raw, m.cfg.cookieIgnore)
			return m.serveEntry(c, r, e, r.now, outcomeHit, ReasonNone)
		}
	}
	var (
		stored *entry.Entry
		names  []string
		why    = ReasonHandlerError // unless run returns: it panicked
	)
	if f != nil {
		// Deferred, so followers are released even if the handler panics.
		defer func() {
			if f != nil {
				f.failed = stored == nil && !notStorable(why, c.Response().StatusCode())
				m.flights.land(f, r.slot, stored, names, h, raw, m.cfg.cookieIgnore)
			}
		}()
	}
	if m.leases != nil {
		if f != nil && !f.alone() {
			switch o, e := m.fleet(c, r, f, refresh, retried, arrived); o {
			case fleetCollapsed, fleetHit:
				stored, names, why = e, r.k.names, ReasonNone
				out := outcomeCollapsed
				if o == fleetHit {
					out = outcomeHit
				}
				return m.serveEntry(c, r, e, r.now, out, ReasonNone)
			case fleetNothing:
				return nil
			case fleetAlone:
				// Not storable lately, on some instance: this request's
				// followers run the handler now, as it does.
				m.flights.land(f, r.slot, nil, nil, h, raw, m.cfg.cookieIgnore)
				f = nil
			}
		} else {
			// Not coalesced: no lease, but the store names it, to leave
			// its note and clear a not-storable marker.
			r.lease = m.leases.leaseFor(&r.k, leaseLife(m.cfg.coalesceWait))
		}
	}
	if l := r.lease; l != nil && l.token != "" {
		// Released however the handler ends (a panic included).
		defer func(stop func()) { m.endLease(l, stop, why, c.Response().StatusCode()) }(m.holdLease(l))
	}
	var err error
	stored, names, why, err = m.run(c, r, stale, f)
	if f != nil {
		switch {
		case stored != nil:
			m.flights.clearNotStorable(f)
		case notStorable(why, c.Response().StatusCode()):
			m.flights.markNotStorable(f, m.now())
		}
	}
	return err
}

// lookAgain looks r up once more, and returns the entry found if it
// answers r fresh.
func (m *Cache) lookAgain(c Ctx, r *request) *entry.Entry {
	r.res = lookupResult{}
	if m.lookup(r, c) != ReasonNone {
		return nil
	}
	if e := r.res.entry; e != nil && r.res.valid(e, r.now) && (r.head || !e.Head()) && acceptable(r.rh.ae, e, r.res.names) && m.usable(e, r.now, nil, r.res.softExpired(e)) == useFresh {
		return e
	}
	return nil
}

// savedHeaders holds request headers the cache takes away from the
// handler while it runs, to give them back after.
type savedHeaders struct {
	kv [][2][]byte
}

// take removes every line of the request header name (lower case,
// matched case-insensitively) and keeps a copy.
func (s *savedHeaders) take(h *fasthttp.RequestHeader, lower string) {
	n := len(s.kv)
	h.VisitAll(func(k, v []byte) {
		if rfc.EqualFold(k, lower) {
			s.kv = append(s.kv, [2][]byte{bytes.Clone(k), bytes.Clone(v)})
		}
	})
	for _, kv := range s.kv[n:] {
		h.DelBytes(kv[0])
	}
}

func (s *savedHeaders) restore(h *fasthttp.RequestHeader) {
	for _, kv := range s.kv {
		h.AddBytesKV(kv[0], kv[1])
	}
}

// run runs the handler and decides what becomes of its response: stored,
// a stale entry served in place of a failure, a stored entry refreshed by
// a 304. It returns the entry stored for waiting requests, if they may
// have it, or why it stored nothing (ReasonHandlerError for a failure).
func (m *Cache) run(c Ctx, r *request, stale *entry.Entry, f *flight) (*entry.Entry, []string, Reason, error) {
	req := &c.Request().Header
	raw := r.app.rawHeaders
	var rd reqDirectives
	if m.cfg.shared {
		rd = readRequestDirectives(req, raw)
	}

	// The handler is asked for the whole, current representation: the
	// client's validators and Range are answered by the cache from what it
	// returns. When a stale entry has validators of the handler's own, they
	// are sent instead (RFC 9111 §4.3.1).
	var saved savedHeaders
	saved.take(req, "if-none-match")
	saved.take(req, "if-modified-since")
	if !r.head {
		saved.take(req, "range")
		saved.take(req, "if-range")
	}
	conditional := false
	if stale != nil {
		if len(stale.ETag) > 0 && stale.Flags&entry.FlagAutoETag == 0 {
			req.SetBytesV(fasthttp.HeaderIfNoneMatch, stale.ETag)
			conditional = true
		}
		if stale.LastModified != 0 {
			req.SetBytesV(fasthttp.HeaderIfModifiedSince, fasthttp.AppendHTTPDate(nil, time.Unix(0, stale.LastModified)))
			conditional = true
		}
	}
	before := headersBefore(&c.Response().Header)
	r.started = m.now()
	herr := c.Next()
	if f != nil {
		m.flights.close(f)
	}
	if conditional {
		req.Del(fasthttp.HeaderIfNoneMatch)
		req.Del(fasthttp.HeaderIfModifiedSince)
	}
	saved.restore(req)
	r.rh.scan(req)
	now := m.now()

	resp := c.Response()
	status := resp.StatusCode()
	if (herr != nil || status >= 500) && stale != nil && m.staleIfError(stale, r.now, &rd, herr != nil) {
		if herr == nil {
			m.fw.RequestCtx(c).SetUserValue(fwdStatusKey{}, status)
		}
		m.resetResponse(c, before)
		return nil, nil, ReasonHandlerError, m.serveEntry(c, r, stale, r.now, outcomeStaleError, ReasonNone)
	}
	if herr != nil {
		m.notStored(c, r, outcomeMiss, ReasonHandlerError)
		return nil, nil, ReasonHandlerError, herr
	}
	// A 304 confirms the stale entry: the response it stands for is
	// rebuilt and goes through the same admission as a fresh one.
	o := outcomeMiss
	if stale != nil && conditional && status == fasthttp.StatusNotModified {
		m.rebuild(c, stale, before)
		r.rebuilt, o = stale, outcomeRevalidated
		m.observe(EventRevalidated, ReasonNone)
	}

	e, names, why := m.admit(c, r, before, now, raw)
	if !m.cfg.surrogateKeys {
		controlDelHeader(&resp.Header, "Surrogate-Key") // for the cache, not for clients
	}
	if why == ReasonNone && now-r.now > int64(pendingPathTTL) {
		why = ReasonTooSlow
	}
	if why == ReasonNone && !m.put(c, r, e, names) {
		why = ReasonInvalidated
	}
	if why != ReasonNone {
		if r.rebuilt != nil && why != ReasonInvalidated {
			// What the handler now says of the stored response forbids
			// keeping it: it goes, and this answer is passed on.
			m.dropRebuilt(r)
		}
		m.notStored(c, r, o, why)
		m.answerLive(c, r, e, now, before, o, why)
		return nil, nil, why, nil
	}
	m.observe(EventMiss, ReasonNone)
	m.observe(EventStored, ReasonNone)
	if m.log.enabled(slog.LevelDebug) {
		maxAge := int64(-1)
		if e.FreshUntil != entry.Forever {
			maxAge = (e.FreshUntil - now) / 1e9
		}
		m.log.l.LogAttrs(m.fw.Context(c), slog.LevelDebug, "store_in_cache",
			m.requestAttrs(c, slog.Int64("max_age", maxAge), slog.Any("vary", names), slog.Int("status", e.Status))...)
	}
	if m.answerLive(c, r, e, now, before, o, ReasonNone) {
		return e, names, ReasonNone, nil
	}
	m.setStatus(c, r.scratch[:0], o, ReasonNone, e, now)
	return e, names, ReasonNone, nil
}

// dropRebuilt removes the stale entry a revalidation found no longer
// storable, so that no later request is answered with it.
func (m *Cache) dropRebuilt(r *request) {
	stale := r.rebuilt
	k := keys{buf: stale.Key, pathLen: r.k.pathLen, baseLen: r.k.baseLen, pathHash: r.k.pathHash}
	_ = m.b.drop(context.Background(), &k, stale)
}

// answerLive answers the client's own validators and Range from e, the
// entry just made of the handler's response (stored or not), instead of
// the response itself. It reports whether it did.
func (m *Cache) answerLive(c Ctx, r *request, e *entry.Entry, now int64, before []byte, o outcome, why Reason) bool {
	if e == nil {
		return false
	}
	wantsRange := !r.head && len(r.rh.rng) > 0
	if !notModified(&r.rh, e) && (!wantsRange || e.Status != fasthttp.StatusOK) {
		return false
	}
	m.resetResponse(c, before)
	_ = m.serveEntry(c, r, e, now, o, why)
	return true
}

// notStored counts and logs a response that was not stored (o: a miss
// or a revalidation).
func (m *Cache) notStored(c Ctx, r *request, o outcome, why Reason) {
	m.observe(EventMiss, ReasonNone)
	m.observe(EventNotStored, why)
	m.setStatus(c, r.scratch[:0], o, why, nil, 0)
	if m.log.enabled(LevelTrace) {
		m.log.l.LogAttrs(m.fw.Context(c), LevelTrace, "response_not_cachable",
			m.requestAttrs(c, slog.String("reason", why.String()), slog.Int("status", c.Response().StatusCode()))...)
	}
}

// put stores e through the backend (bounded by the storage timeout when
// guarded), and reports whether it is stored with its generation and
// epoch current.
func (m *Cache) put(c Ctx, r *request, e *entry.Entry, names []string) bool {
	if r.res.gen == 0 {
		return false
	}
	ctx := context.Background()
	if r.lease != nil {
		ctx = contextWithLease(ctx, r.lease) // the put releases it (lease.go)
	}
	ok, err := m.b.put(ctx, &r.k, e, names)
	if m.log.enabled(LevelTrace) {
		attrs := m.requestAttrs(c, slog.Bool("stored", ok))
		if err != nil {
			attrs = append(attrs, slog.String("error", err.Error()))
		}
		m.log.l.LogAttrs(m.fw.Context(c), LevelTrace, "storage_set", attrs...)
	}
	return ok && err == nil
}

// resetResponse empties the response but for the headers that middleware
// in front of the cache had set (before, as headersBefore records them).
func (m *Cache) resetResponse(c Ctx, before []byte) {
	resp := c.Response()
	resp.ResetBody()
	resp.Header.Reset()
	if m.appInfo(m.fw.App(c)).rawHeaders {
		// Reset turns normalizing back on: names would go out canonical.
		resp.Header.DisableNormalizing()
	}
	resp.SetStatusCode(fasthttp.StatusOK)
	for len(before) > 0 {
		var k, v []byte
		k, before, _ = bytes.Cut(before, []byte{0})
		v, before, _ = bytes.Cut(before, []byte{0})
		resp.Header.AddBytesKV(k, v)
	}
}
