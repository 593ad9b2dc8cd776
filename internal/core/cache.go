package core

import (
	"cmp"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"net/textproto"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fiber-caches/cache/internal/core/memstore"
	"github.com/redis/go-redis/v9"
)

var (
	// ErrDuplicateCaching is wrapped by the error of a GET or HEAD that two
	// cache middlewares would both look up (app-level plus route-level, or
	// one registered twice), neither stepping aside for it.
	ErrDuplicateCaching = errors.New("fibercache: two cache middlewares handle this request")
	// ErrMissingCaching is returned by Helper where no cache middleware ran.
	ErrMissingCaching = errors.New("fibercache: no cache middleware handles this request")
)

// localsKey is the fiber.Ctx Locals key under which the outermost cache
// middleware leaves an inChain (it looks the request up) or an asideChain
// (it stepped aside for it), and a cache further in that looks the request
// up then leaves its own inChain.
type localsKey struct{}

// inChain wraps the *Cache left in Locals. fasthttp closes every Locals
// value that is an io.Closer when the request ends, and *Cache has Close:
// the wrapper has not. It is pointer-shaped, so storing it allocates
// nothing.
type inChain struct{ m *Cache }

// asideChain is inChain for a cache that stepped aside for the request.
type asideChain struct{ m *Cache }

// chainCache returns the cache Helper invalidates through for c: the one
// that looks the request up, else the outermost one that stepped aside,
// else nil.
func chainCache(c Ctx) *Cache {
	switch in := c.Locals(localsKey{}).(type) {
	case inChain:
		return in.m
	case asideChain:
		return in.m
	}
	return nil
}

// A Cache is one response cache: its Handler is the middleware, and its
// Invalidate methods remove stored responses from outside a request (a
// background job, a message consumer). Build it once with NewCache and use
// it as often as you like; New is NewCache(...).Handler(). Close stops
// what it started.
type Cache struct {
	cfg         config
	fw          Framework
	owner       any     // the adapter's *Cache (SetOwner)
	b           backend // guarded, unless it is the in-process store
	leases      leaser  // the backend's leases (guarded), for the fleet's coalescing; nil: none
	mem         *memstore.Store
	near        *nearBackend // WithNearCache, when on
	log         logger
	obs         Observer
	flights     flights
	refreshes   refreshes
	cacheHeader []byte // canonical name, nil: off
	expires     dateCache
	seed        maphash.Seed
	clock       func() time.Time // nil: time.Now; tests set it (withClock)
	app         atomic.Pointer[appInfo]
	hooked      sync.Map // App → struct{}: apps whose Shutdown closes the cache
	closed      atomic.Bool
	isolated    atomic.Bool // a process of its own, for tests (Isolate)
	closeOnce   sync.Once
}

// NewCache builds a cache that runs in the framework fw (an adapter's):
// Serve is its middleware. It panics when an option is invalid, saying
// which.
func NewCache(fw Framework, opts ...Option) *Cache {
	cfg := defaultConfig()
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	cfg.checkNear()
	if len(cfg.errs) > 0 {
		panic("fibercache: " + errors.Join(cfg.errs...).Error())
	}
	m := &Cache{cfg: cfg, fw: fw, log: logger{cfg.logger}, obs: cfg.obs, seed: maphash.MakeSeed(), clock: cfg.clock}
	if m.log.l == nil {
		m.log.l = loggerFromEnv()
	}
	var lessor leaser // the backend that leases, if any: Redis, under any near tier
	switch s := cfg.storage.(type) {
	case nil:
		ms, err := memstore.New(cfg.maxMemory, m.seed)
		if err != nil {
			panic(err)
		}
		m.mem, m.b = ms, memBackend{ms}
	case interface{ Conn() redis.UniversalClient }:
		// The fast path needs Redis 7.0 (SET with NX and GET); an older one
		// is driven through the plain fiber.Storage methods. A version that
		// cannot be read now is taken to be recent: lookups then explain
		// an old Redis in the storage_error log.
		if major, ok := redisMajor(s.Conn()); ok && major < 7 {
			m.log.log(slog.LevelWarn, "redis_fast_path_off", slog.Int("redis_major_version", major),
				slog.String("reason", "the Redis fast path needs Redis 7.0 or later; using the plain fiber.Storage path (4 round trips per hit)"))
			if cfg.nearMemory > 0 {
				m.log.log(slog.LevelWarn, "near_cache_off", slog.String("reason", "the near cache needs the Redis fast path (Redis 7.0 or later)"))
			}
			m.b = &storageBackend{s: newSharedKeys(cfg.keyPrefix), c: newCtxStorage(cfg.storage), pathTTL: cfg.maxKeep(), now: m.now, skew: cfg.clockSkew}
			break
		}
		rb, err := newRedisBackend(s.Conn(), s, cfg.keyPrefix)
		if err != nil {
			panic(err)
		}
		m.b, lessor = rb, rb
		if cfg.nearMemory > 0 {
			nb, err := newNearBackend(rb, s.Conn(), cfg.nearMemory, cfg.nearLag, cfg.storageTimeout, m.log)
			if err != nil {
				m.log.log(slog.LevelWarn, "near_cache_off", slog.String("reason", err.Error()))
				break
			}
			m.near, m.b = nb, nb
		}
	default:
		m.b = &storageBackend{s: newSharedKeys(cfg.keyPrefix), c: newCtxStorage(s), pathTTL: cfg.maxKeep(), now: m.now, skew: cfg.clockSkew}
	}
	if m.mem == nil {
		g := newGuarded(m.b, &cfg, m.log, m.observe, m.now)
		if lessor != nil && cfg.fleet {
			m.leases = guardedLeaser{g: g, l: lessor}
		}
		m.b = g
	}
	if cfg.cacheHeader != "" {
		m.cacheHeader = []byte(textproto.CanonicalMIMEHeaderKey(cfg.cacheHeader))
	}
	register(m)
	return m
}

// Serve is the middleware: an adapter's handler calls it with the
// request's context.
func (m *Cache) Serve(c Ctx) error { return m.serve(c) }

// Framework returns the framework the cache runs in.
func (m *Cache) Framework() Framework { return m.fw }

// SetOwner records the adapter's value that stands for m (its *Cache),
// which Owner returns: a CacheHelper's Cache gives it back.
func (m *Cache) SetOwner(o any) { m.owner = o }

// Owner returns what SetOwner recorded.
func (m *Cache) Owner() any { return m.owner }

// Close stops what NewCache started: background refreshes are waited for
// (at most 5 s), invalidations still waiting for a storage are tried one
// last time (at most 1 s in all) and logged if they cannot land, and the
// in-process store is emptied. It returns within 6 s whatever is pending,
// and no request waits for it. The middleware keeps working after Close, without
// caching. The first request a cache serves ties it to its app: app.Shutdown
// calls Close.
func (m *Cache) Close() error {
	m.closeOnce.Do(func() {
		m.closed.Store(true)
		unregister(m)
		m.refreshes.wait(5 * time.Second)
		if g, ok := m.b.(*guarded); ok {
			g.close()
		}
		if m.near != nil {
			m.near.close()
		}
		if m.mem != nil {
			m.mem.Reset()
			m.mem.Close()
		}
	})
	return nil
}

// StoreBytes reports the bytes held by the default in-process store (as
// weighed against WithMaxMemory); 0 with WithStorage.
func (m *Cache) StoreBytes() int64 {
	if m.mem == nil {
		return 0
	}
	return int64(m.mem.WeightedSize())
}

// NearBytes reports the bytes held by the near tier (WithNearCache), as
// weighed against its bound; 0 without one, or when it is off.
func (m *Cache) NearBytes() int64 {
	if m.near == nil || m.near.off.Load() {
		return 0
	}
	return m.near.bytes()
}

// appInfo is what the cache needs of an app's configuration, read once per
// app (Fiber's App.Config copies a large struct).
type appInfo struct {
	app           App
	caseSensitive bool
	strict        bool
	unescape      bool // UnescapePath: c.Path() is decoded
	rawHeaders    bool // DisableHeaderNormalizing: header names as sent
}

func (m *Cache) appInfo(app App) *appInfo {
	if a := m.app.Load(); a != nil && a.app == app {
		return a
	}
	cfg := app.Config()
	a := &appInfo{app: app, caseSensitive: cfg.CaseSensitive, strict: cfg.StrictRouting, unescape: cfg.UnescapePath, rawHeaders: cfg.RawHeaders}
	m.app.Store(a)
	if _, seen := m.hooked.LoadOrStore(app, struct{}{}); !seen {
		// The app's Shutdown closes the cache: no background refresh or
		// retried invalidation outlives it.
		app.OnShutdown(m.Close)
	}
	return a
}

// duplicate fails a GET or HEAD that outer, a cache further out, looks up
// too: the error, wrapping ErrDuplicateCaching and saying what to change,
// is logged (by m's logger, else outer's, else slog.Default(): a request
// failing for its configuration must not go unseen), and Fiber's error
// handler gets a plain 500 that wraps it.
func (m *Cache) duplicate(c Ctx, outer *Cache) error {
	err := duplicateError(c, outer == m)
	l := cmp.Or(m.log.l, outer.log.l, slog.Default())
	l.LogAttrs(m.fw.Context(c), slog.LevelError, "duplicate_caching", m.requestAttrs(c, slog.String("error", err.Error()))...)
	return m.fw.InternalError(err)
}

func duplicateError(c Ctx, same bool) error {
	how := "another cache.New looks it up too (app.Use or a group, plus one on the route); keep one of them, " +
		"or make the outer one step aside for these paths (WithNext, a Skip rule, or rules that do not match them)"
	if same {
		how = "the same cache middleware is registered twice in its chain; register it once"
	}
	return fmt.Errorf("%w: %s %s: %s", ErrDuplicateCaching, c.Method(), c.Path(), how)
}

// requestTime is when the request arrived: the time fasthttp's server read
// for it, else now (the clock, in tests).
func (m *Cache) requestTime(c Ctx) int64 {
	if m.clock != nil {
		return m.clock().UnixNano()
	}
	if t := m.fw.RequestCtx(c).Time(); !t.IsZero() {
		return t.UnixNano()
	}
	return time.Now().UnixNano()
}

// now reads the clock: time.Now, or the test's.
func (m *Cache) now() int64 {
	if m.clock != nil {
		return m.clock().UnixNano()
	}
	return time.Now().UnixNano()
}

// requestAttrs are the attributes every request log carries.
func (m *Cache) requestAttrs(c Ctx, extra ...slog.Attr) []slog.Attr {
	attrs := append(make([]slog.Attr, 0, 4+len(extra)), slog.String("method", c.Method()), slog.String("url", c.OriginalURL()))
	if id := m.fw.RequestID(c); id != "" {
		attrs = append(attrs, slog.String("request_id", id))
	}
	return append(attrs, extra...)
}
