// Package cache is fibercache: an HTTP response cache middleware for Fiber
// v2. It keys responses by method, URL and the request headers they Vary on,
// stores them in any fiber.Storage (a bounded in-process store by default),
// answers hits without running the handler, and writes Cache-Control and
// Expires so browsers and CDNs cache too.
//
//	app.Use(cache.New(cache.WithTTL(2 * time.Minute)))
package cache

import (
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/textproto"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/fiber-caches/cache/internal/entry"
	"github.com/fiber-caches/cache/internal/memstore"
	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"
)

var (
	// ErrDuplicateCaching is wrapped by the error of a request that two cache
	// middlewares handle (app-level plus route-level, or one registered twice).
	ErrDuplicateCaching = errors.New("fibercache: two cache middlewares handle this request")
	// ErrMissingCaching is returned by Helper where no cache middleware ran.
	ErrMissingCaching = errors.New("fibercache: no cache middleware handles this request")
)

// genLifetime is how long an invalidation is remembered: longer than any
// handler run whose response it must keep from being stored.
const genLifetime = time.Hour

// localsKey is the fiber.Ctx Locals key under which the middleware that
// handles a request leaves its *Cache.
type localsKey struct{}

// A Cache is one response cache: its Handler is the middleware, and its
// Invalidate methods remove stored responses from outside a request (a
// background job, a message consumer). Build it once with NewCache and use
// it as often as you like; New is NewCache(...).Handler().
type Cache struct {
	cfg         config
	store       loggedStore
	log         logger
	flights     flights
	cacheHeader []byte // canonical name, nil: off
	mem         *memstore.Store
	obs         Observer
}

// New returns the cache middleware. It panics when an option is invalid,
// saying which.
func New(opts ...Option) fiber.Handler {
	return NewCache(opts...).Handler()
}

// NewCache builds a cache whose Handler is the middleware and whose
// InvalidateURL and InvalidateRoute work outside requests too. It panics
// when an option is invalid, saying which.
func NewCache(opts ...Option) *Cache {
	cfg := defaultConfig()
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	if len(cfg.errs) > 0 {
		panic("fibercache: " + errors.Join(cfg.errs...).Error())
	}
	m := &Cache{cfg: cfg, log: logger{cfg.logger}, obs: cfg.obs}
	if m.log.l == nil {
		m.log.l = loggerFromEnv()
	}
	var s store
	if cfg.storage != nil {
		s = fiberStore{s: cfg.storage, prefix: cfg.keyPrefix}
	} else {
		ms, err := memstore.New(cfg.maxMemory)
		if err != nil {
			panic(err)
		}
		m.mem, s = ms, memStore{ms}
	}
	m.store = loggedStore{s: s, log: m.log, pause: storagePause, pausedTil: new(atomic.Int64)}
	if cfg.cacheHeader != "" {
		m.cacheHeader = []byte(textproto.CanonicalMIMEHeaderKey(cfg.cacheHeader))
	}
	return m
}

// Handler returns the middleware, for app.Use, a group or a route.
func (m *Cache) Handler() fiber.Handler { return m.serve }

var (
	strAge  = []byte(fasthttp.HeaderAge)
	strHit  = []byte("hit")
	strMiss = []byte("miss")
)

// target is the URL a request is for, and the storage keys derived from it.
type target struct {
	url  digest // the response, or the Vary record
	gen  digest // the invalidation generation
	path digest // the header names the path varies on
}

func newTarget(scheme, host string, path, query []byte) target {
	t := target{url: urlDigest(tagURL, scheme, host, path, query)}
	t.derive(scheme, host, path, query)
	return t
}

// derive fills in the keys other than url. The hit path needs only url, so
// it leaves these to a miss.
func (t *target) derive(scheme, host string, path, query []byte) {
	t.gen = urlDigest(tagGen, scheme, host, path, query)
	t.path = urlDigest(tagPath, scheme, host, path, nil)
}

func (m *Cache) serve(c *fiber.Ctx) error {
	if prev, ok := c.Locals(localsKey{}).(*Cache); ok {
		return duplicateError(c, prev == m)
	}
	c.Locals(localsKey{}, m)

	req := &c.Request().Header
	head := req.IsHead()
	if !head && !req.IsGet() {
		return m.passUnsafe(c)
	}
	if !m.cfg.mayCache(c.Path()) {
		m.log.log(LevelTrace, "cache_bypass reason=no_rule", slog.String("path", c.Path()))
		return c.Next()
	}

	uri := c.Request().URI()
	scheme, host, path, query := c.Protocol(), c.Hostname(), uri.PathOriginal(), uri.QueryString()
	t := target{url: urlDigest(tagURL, scheme, host, path, query)}
	key := t.url
	e := m.store.get(&key, "url")
	var varyRec *entry.Entry
	if e != nil && e.Kind == entry.KindVary {
		varyRec = e
		key = variantDigest(&t.url, varyRec, req)
		e = m.store.get(&key, "variant")
	}
	now := c.Context().Time() // fasthttp's server reads the clock for each request
	if now.IsZero() {
		now = time.Now()
	}
	if e != nil && e.Kind == entry.KindResponse && e.Fresh(now.UnixNano()) && (head || !e.Head) {
		m.hit(c, e, now)
		return nil
	}
	if m.log.enabled(slog.LevelDebug) {
		m.log.log(slog.LevelDebug, "cache_lookup MISS", slog.String("method", c.Method()), slog.String("url", c.OriginalURL()))
	}

	t.derive(scheme, host, path, query)
	f, leader := m.flights.join(&key)
	if !leader {
		// The leader's response may predate an invalidation that ended
		// before this request arrived: it answers only if the generation
		// is still the one the leader's handler started under.
		if e := f.result(req, head); e != nil && m.generation(&t) == f.gen {
			m.hit(c, e, time.Now())
			return nil
		}
	}
	var (
		stored *entry.Entry
		names  []string
		err    error
	)
	gen0 := m.generation(&t)
	if leader {
		// Deferred, so followers are released even if the handler panics.
		defer func() { m.flights.land(&key, f, stored, names, gen0, req) }()
	}
	stored, names, err = m.runAndStore(c, &t, varyRec, head, gen0)
	return err
}

// generation returns the invalidation generation of t's URL; zero: none.
func (m *Cache) generation(t *target) (g [16]byte) {
	if e := m.store.get(&t.gen, "generation"); e != nil {
		g = e.Nonce
	}
	return g
}

// hit answers the request from e without running the handler.
func (m *Cache) hit(c *fiber.Ctx, e *entry.Entry, now time.Time) {
	resp := c.Response()
	resp.SetStatusCode(e.Status)
	h := &resp.Header
	for i := range e.Headers {
		kv := &e.Headers[i]
		if kv.First {
			h.SetCanonical(kv.Key, kv.Value)
		} else {
			h.AddBytesKV(kv.Key, kv.Value)
		}
	}
	age := (now.UnixNano() - e.Stored) / int64(time.Second)
	var buf [20]byte
	h.SetCanonical(strAge, strconv.AppendInt(buf[:0], max(age, 0), 10))
	if m.cacheHeader != nil {
		h.SetCanonical(m.cacheHeader, strHit)
	}
	resp.SetBodyRaw(e.Body)
	if m.log.enabled(slog.LevelDebug) {
		m.log.log(slog.LevelDebug, "cache_lookup HIT", slog.String("method", c.Method()), slog.String("url", c.OriginalURL()), slog.Int64("age", age))
	}
}

func duplicateError(c *fiber.Ctx, same bool) error {
	how := "another cache.New already handles it (app.Use or a group, plus one on the route); keep only one of them"
	if same {
		how = "the same cache middleware is registered twice in its chain; register it once"
	}
	return fmt.Errorf("%w: %s %s: %s", ErrDuplicateCaching, c.Method(), c.Path(), how)
}

func newNonce() (n [16]byte) {
	_, _ = rand.Read(n[:])
	return n
}

// expiryIn returns the Unix-nanosecond time d from now.
func expiryIn(d time.Duration) int64 { return time.Now().Add(d).UnixNano() }
