package cache_test

// Nested caches (issue 16, item 5): a cache that steps aside for a request
// does not handle it, so a route or group cache further in may; two caches
// that would both look a GET up fail it with a plain 500 and a log line.

import (
	"bytes"
	"errors"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/stretchr/testify/require"

	"github.com/fiber-caches/cache"
	"github.com/fiber-caches/cache/internal/testkit"
)

// countingObserver counts the events it is told of.
type countingObserver struct {
	mu sync.Mutex
	n  map[cache.Event]int
}

func (o *countingObserver) Observe(ev cache.Event, _ cache.Reason) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.n == nil {
		o.n = map[cache.Event]int{}
	}
	o.n[ev]++
}

func (o *countingObserver) count(ev cache.Event) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.n[ev]
}

// nestedApp serves /api/items (GET, POST) behind an app-wide outer cache and
// a group cache inner, and /other behind outer only. The GET handler
// reports, in seen, the cache Helper finds.
type nestedApp struct {
	app   *fiber.App
	runs  testkit.Counter
	mu    sync.Mutex
	seen  *cache.Cache
	inner *cache.Cache
}

func newNestedApp(t *testing.T, outer, inner *cache.Cache) *nestedApp {
	t.Helper()
	n := &nestedApp{app: fiber.New(), inner: inner}
	n.app.Use(outer.Handler())
	api := n.app.Group("/api", inner.Handler())
	get := n.runs.Handler("items")
	api.Get("/items", func(c *fiber.Ctx) error {
		h, err := cache.Helper(c)
		if err != nil {
			return err
		}
		n.mu.Lock()
		n.seen = h.Cache()
		n.mu.Unlock()
		return get(c)
	})
	api.Post("/items", func(c *fiber.Ctx) error { return c.SendString("posted") })
	n.app.Get("/other", func(c *fiber.Ctx) error { return c.SendString("other") })
	return n
}

func (n *nestedApp) helperCache() *cache.Cache {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.seen
}

func TestNested_OuterStepsAsideInnerCaches(t *testing.T) {
	isAPI := func(c *fiber.Ctx) bool { return strings.HasPrefix(c.Path(), "/api") }
	causes := []struct {
		name  string
		outer func(obs cache.Option) *cache.Cache
	}{
		{"WithNext", func(obs cache.Option) *cache.Cache { return cache.NewCache(obs, cache.WithNext(isAPI)) }},
		{"Skip rule", func(obs cache.Option) *cache.Cache {
			return cache.NewCache(obs, cache.WithRules(cache.Rule{Regexp: regexp.MustCompile(`^/api/`), Skip: true}, cache.Rule{}))
		}},
		{"no rule matching", func(obs cache.Option) *cache.Cache {
			return cache.NewCache(obs, cache.WithRules(cache.Rule{Match: []string{"/other"}}))
		}},
		{"WithTTL(0)", func(obs cache.Option) *cache.Cache { return cache.NewCache(obs, cache.WithTTL(0)) }},
		{"closed", func(obs cache.Option) *cache.Cache {
			m := cache.NewCache(obs)
			require.NoError(t, m.Close())
			return m
		}},
	}
	for _, tc := range causes {
		t.Run(tc.name, func(t *testing.T) {
			var obs countingObserver
			outer := tc.outer(cache.WithObserver(&obs))
			inner := cache.NewCache(cache.WithTTL(time.Minute), cache.WithObserver(&obs))
			t.Cleanup(func() { _ = outer.Close(); _ = inner.Close() })
			n := newNestedApp(t, outer, inner)

			r := testkit.Do(t, n.app, fiber.MethodGet, "/api/items")
			require.Equal(t, 200, r.Status, r.Body)
			require.Equal(t, "items#1", r.Body)
			require.Equal(t, "miss", r.Header.Get("X-Cache"))
			require.Equal(t, "fibercache; fwd=uri-miss; stored", r.Header.Get("Cache-Status"), "the inner cache's status, not the outer's bypass")
			require.Same(t, inner, n.helperCache(), "Helper finds the cache that looks the request up")

			r = testkit.Do(t, n.app, fiber.MethodGet, "/api/items")
			require.Equal(t, "items#1", r.Body)
			require.Equal(t, "hit", r.Header.Get("X-Cache"))
			require.True(t, strings.HasPrefix(r.Header.Get("Cache-Status"), "fibercache; hit"), r.Header.Get("Cache-Status"))
			require.Equal(t, 1, n.runs.Runs())

			// A POST through both caches: answered, and invalidated once.
			r = testkit.Do(t, n.app, fiber.MethodPost, "/api/items")
			require.Equal(t, 200, r.Status, r.Body)
			require.Equal(t, "posted", r.Body)
			require.Equal(t, 1, obs.count(cache.EventInvalidation), "one invalidation, by one of the caches")
			r = testkit.Do(t, n.app, fiber.MethodGet, "/api/items")
			require.Equal(t, "items#2", r.Body, "the POST invalidated what the inner cache stored")
		})
	}
}

func TestNested_EveryCacheStepsAside(t *testing.T) {
	outer := cache.NewCache(cache.WithNext(func(*fiber.Ctx) bool { return true }))
	inner := cache.NewCache(cache.WithTTL(0))
	t.Cleanup(func() { _ = outer.Close(); _ = inner.Close() })
	n := newNestedApp(t, outer, inner)
	for i := range 2 {
		r := testkit.Do(t, n.app, fiber.MethodGet, "/api/items")
		require.Equal(t, 200, r.Status, r.Body)
		require.Equal(t, i+1, n.runs.Runs())
		require.Equal(t, "fibercache; fwd=bypass; detail=skip", r.Header.Get("Cache-Status"), "the outer cache's reason")
	}
	require.Same(t, outer, n.helperCache(), "Helper falls back on the outermost cache, so a handler can still invalidate")
}

func TestNested_BothLookUp(t *testing.T) {
	var logs bytes.Buffer
	var logMu sync.Mutex
	logger := slog.New(slog.NewTextHandler(syncWriter{&logMu, &logs}, nil))
	var got atomic.Value
	var obs countingObserver
	outer := cache.NewCache(cache.WithLogger(logger), cache.WithObserver(&obs))
	inner := cache.NewCache(cache.WithObserver(&obs))
	t.Cleanup(func() { _ = outer.Close(); _ = inner.Close() })

	for _, custom := range []bool{false, true} {
		cfg := fiber.Config{}
		if custom {
			cfg.ErrorHandler = func(c *fiber.Ctx, err error) error {
				got.Store(err)
				return fiber.DefaultErrorHandler(c, err)
			}
		}
		var runs testkit.Counter
		app := fiber.New(cfg)
		app.Use(outer.Handler())
		app.Get("/x", inner.Handler(), runs.Handler("x"))
		app.Post("/x", inner.Handler(), runs.Handler("posted"))

		r := testkit.Do(t, app, fiber.MethodGet, "/x")
		require.Equal(t, 500, r.Status)
		require.Equal(t, "Internal Server Error", r.Body, "no error text for the client")
		require.Equal(t, 0, runs.Runs())
		logMu.Lock()
		line := logs.String()
		logMu.Unlock()
		require.Contains(t, line, "duplicate_caching")
		require.Contains(t, line, cache.ErrDuplicateCaching.Error())
		require.Contains(t, line, "keep one of them", "the log says what to change")

		// Unsafe methods are not looked up: two caches do not fail them,
		// and the path is invalidated once.
		before := obs.count(cache.EventInvalidation)
		r = testkit.Do(t, app, fiber.MethodPost, "/x")
		require.Equal(t, 200, r.Status, r.Body)
		require.Equal(t, "posted#1", r.Body)
		require.Equal(t, before+1, obs.count(cache.EventInvalidation))
	}
	err, _ := got.Load().(error)
	require.Error(t, err)
	require.True(t, errors.Is(err, cache.ErrDuplicateCaching), "%v", err)
	var fe *fiber.Error
	require.True(t, errors.As(err, &fe))
	require.Equal(t, 500, fe.Code)
}

// syncWriter serializes writes to w.
type syncWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (s syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
