package core

import (
	"context"
	"hash/maphash"
	"log/slog"
	"sync"

	"github.com/fiber-caches/cache/internal/core/entry"
	"github.com/valyala/fasthttp"
)

// request is the state of one cacheable request, pooled so that a hit
// allocates nothing.
type request struct {
	k    keys
	rh   reqHeaders
	res  lookupResult
	now  int64
	head bool
	app  *appInfo
	slot int
	seen uint64 // flights landed in the slot when the lookup started
	// rebuilt is the stale entry a revalidation's 304 confirmed: the
	// response being admitted is it, updated by the 304 (revalidate.go).
	rebuilt *entry.Entry
	// lease is the fleet's lease of the entry material, when the backend
	// has one (lease.go); started is when the handler started.
	lease   *lease
	started int64
	// scratch is where the header values the cache writes (Age,
	// Cache-Status, Content-Range) are built: fasthttp's setters leak
	// their value as far as the compiler can tell (v1.69's do), so an
	// array on the stack would move to the heap, one allocation per
	// header per request. The setters copy it: it is reused at once.
	scratch [128]byte
}

var requestPool = sync.Pool{New: func() any { return &request{k: keys{buf: make([]byte, 0, 256)}} }}

func (r *request) release() {
	if cap(r.k.buf) > 64<<10 {
		return
	}
	r.k.buf, r.k.names, r.k.learnt = r.k.buf[:0], nil, nil
	r.res, r.rebuilt, r.lease, r.started = lookupResult{}, nil, nil, 0
	requestPool.Put(r)
}

// serve is the middleware. A request's story: key → lookup → a fresh hit,
// a 304 or a stale answer (serve.go, hit.go); or the handler's run,
// coalesced with identical ones, then the decision to store (fetch.go,
// admit.go).
func (m *Cache) serve(c Ctx) error {
	prev := c.Locals(localsKey{})
	h := &c.Request().Header
	head := h.IsHead()
	if !head && !h.IsGet() {
		if prev != nil {
			// A cache further out invalidates for this request, in every
			// cache of the process: once is enough.
			return c.Next()
		}
		m.fw.RequestCtx(c).SetUserValue(localsKey{}, inChain{m})
		return m.passUnsafe(c)
	}
	a, why := m.stepAside(c)
	if why != ReasonNone {
		// Not looked up here, so a cache further in may: Helper finds that
		// one, or this one (the outermost) if none looks it up.
		if prev == nil {
			m.fw.RequestCtx(c).SetUserValue(localsKey{}, asideChain{m})
		}
		return m.bypass(c, nil, why)
	}
	if outer, ok := prev.(inChain); ok {
		return m.duplicate(c, outer.m)
	}
	m.fw.RequestCtx(c).SetUserValue(localsKey{}, inChain{m}) // Locals: a setter through Ctx would allocate its variadic value
	refresh := c.Locals(refreshKey{}) != nil

	r := requestPool.Get().(*request)
	defer r.release()
	r.head, r.app = head, a
	r.now = m.requestTime(c)
	r.rh.scan(h)
	if !m.buildKeys(c, r.app, &r.rh, &r.k) {
		return m.bypass(c, r.scratch[:0], ReasonAbsoluteForm)
	}
	var rd reqDirectives
	if m.cfg.shared && r.rh.cacheControl {
		rd = readRequestDirectives(h, r.app.rawHeaders)
		if rd.noStore {
			return m.bypass(c, r.scratch[:0], ReasonRequestNoStore)
		}
	}

	r.k.pathHash = maphash.Bytes(m.seed, r.k.path())
	r.slot, r.seen = m.flights.seen(r.k.pathHash)
	if why := m.lookup(r, c); why != ReasonNone {
		return m.bypass(c, r.scratch[:0], why)
	}
	e := r.res.entry
	if e != nil && !r.res.valid(e, r.now) {
		if r.now >= e.KeepUntil {
			_ = m.b.drop(context.Background(), &r.k, e)
		}
		e = nil
	}
	if e != nil && (e.Head() && !head || !acceptable(r.rh.ae, e, r.res.names)) {
		e = nil // a stored HEAD never answers a GET; a coding the client did not ask for
	}
	var stale *entry.Entry
	if e != nil && !refresh {
		switch m.usable(e, r.now, &rd, r.res.softExpired(e)) {
		case useFresh:
			if m.refreshEarly(e, r.now) {
				m.refreshInBackground(c, r)
			}
			return m.serveEntry(c, r, e, r.now, outcomeHit, ReasonNone)
		case useStale:
			m.refreshInBackground(c, r)
			return m.serveEntry(c, r, e, r.now, outcomeStale, ReasonNone)
		case useGatewayTimeout:
			return m.gatewayTimeout(c, r)
		case useRevalidate:
			stale = e
		}
	} else if rd.onlyIfCached {
		return m.gatewayTimeout(c, r)
	}
	if m.log.enabled(slog.LevelDebug) {
		m.log.l.LogAttrs(m.fw.Context(c), slog.LevelDebug, "cache_lookup MISS", m.requestAttrs(c)...)
	}
	return m.fetch(c, r, stale, refresh)
}

// stepAside returns why m does not look up c's GET or HEAD at all (the
// cache is closed, caching is off, WithNext says so, no rule can match the
// path), or ReasonNone and the app's configuration when it does.
func (m *Cache) stepAside(c Ctx) (*appInfo, Reason) {
	switch {
	case m.closed.Load():
		return nil, ReasonClosed
	case m.cfg.ttl == 0:
		return nil, ReasonCachingOff
	case m.cfg.next != nil && m.cfg.next(c):
		return nil, ReasonSkip
	}
	a := m.appInfo(m.fw.App(c))
	if !m.cfg.mayCache(c.Path(), a) {
		return nil, ReasonNoRule
	}
	return a, ReasonNone
}

// lookup reads the path record and the entry for r, creating the path
// record if absent (a store may follow). It returns why the cache cannot
// answer r from the store (ReasonNone: it can).
func (m *Cache) lookup(r *request, c Ctx) Reason {
	h := &c.Request().Header
	err := m.b.lookup(context.Background(), &r.k, h, r.app.rawHeaders, true, &r.res)
	switch err {
	case errStoragePaused:
		return ReasonStoragePaused
	case errPendingInvalidation:
		return ReasonPendingInvalidation
	}
	r.k.learnt = r.res.names
	m.traceLookup(c, r, err)
	switch {
	case err == nil:
		return ReasonNone
	case isCorrupt(err):
		m.log.log(slog.LevelWarn, "storage_value_corrupt", slog.String("error", err.Error()))
		r.res.entry = nil
		if r.res.gen != 0 {
			return ReasonNone
		}
	}
	return ReasonStorageError
}

// traceLookup logs, at LevelTrace, the key material and what the storage
// returned for it.
func (m *Cache) traceLookup(c Ctx, r *request, err error) {
	if !m.log.enabled(LevelTrace) {
		return
	}
	attrs := m.requestAttrs(c, slog.String("path_key", describePath(r.k.path())), slog.String("key", describeKey(r.k.full())),
		slog.Any("vary", r.res.names), slog.Bool("path_created", r.res.created), slog.Bool("found", r.res.entry != nil))
	if err != nil {
		attrs = append(attrs, slog.String("error", err.Error()))
	}
	m.log.l.LogAttrs(m.fw.Context(c), LevelTrace, "storage_get", attrs...)
}

// bypass runs the rest of the chain without the cache; buf is a scratch
// buffer for the cache headers (nil: one is made).
func (m *Cache) bypass(c Ctx, buf []byte, why Reason) error {
	m.observe(EventBypass, why)
	if m.log.enabled(LevelTrace) {
		m.log.l.LogAttrs(m.fw.Context(c), LevelTrace, "cache_bypass", m.requestAttrs(c, slog.String("reason", why.String()))...)
	}
	err := c.Next()
	if in, ok := c.Locals(localsKey{}).(inChain); !ok || in.m == m {
		// Unless a cache further in looked the request up: its
		// Cache-Status tells what happened.
		m.setStatus(c, buf, outcomeBypass, why, nil, 0)
	}
	return err
}

// gatewayTimeout answers only-if-cached with nothing usable stored (RFC
// 9111 §5.2.1.7).
func (m *Cache) gatewayTimeout(c Ctx, r *request) error {
	m.observe(EventMiss, ReasonNone)
	c.Response().Reset()
	c.Response().SetStatusCode(fasthttp.StatusGatewayTimeout)
	m.setStatus(c, r.scratch[:0], outcomeMiss, ReasonRequestDirective, nil, 0)
	return nil
}
