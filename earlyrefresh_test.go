package cache

import (
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fiber-caches/cache/internal/core/entry"
	"github.com/fiber-caches/cache/internal/testkit"
	"github.com/gofiber/fiber/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// earlyApp is an app whose handler takes work by the cache's clock (it
// moves clock), so that the entries it stores record that handler time,
// and counts its runs.
func earlyApp(t *testing.T, clock *fakeClock, work time.Duration, opts ...Option) (*fiber.App, *Cache, *atomic.Int64) {
	t.Helper()
	m := NewCache(append([]Option{withClock(clock.now)}, opts...)...)
	t.Cleanup(func() { _ = m.Close() })
	app := fiber.New()
	app.Use(m.Handler())
	var runs atomic.Int64
	app.Get("/*", func(c *fiber.Ctx) error {
		n := runs.Add(1)
		clock.advance(work)
		return c.SendString("v" + strconv.Itoa(int(n)))
	})
	return app, m, &runs
}

// TestEarlyRefresh: a hit on an entry close to its expiry (1 ms left, its
// handler took 100 ms) starts one background refresh, almost surely
// within a few hits; hits far from expiry, on an entry without a
// lifetime, or with WithEarlyRefresh(0), never do.
func TestEarlyRefresh(t *testing.T) {
	const ttl, work = 10 * time.Second, 100 * time.Millisecond
	hits := func(t *testing.T, app *fiber.App, n int, until func() bool) {
		t.Helper()
		for range n {
			r := testkit.Do(t, app, fiber.MethodGet, "/p")
			require.Equal(t, "hit", r.Header.Get(DefaultCacheHeader))
			require.Equal(t, "v1", r.Body, "a hit serves the entry it found, refresh or not")
			if until != nil && until() {
				return
			}
		}
	}

	t.Run("near expiry", func(t *testing.T) {
		clock := newFakeClock()
		app, m, runs := earlyApp(t, clock, work, WithTTL(ttl))
		testkit.Do(t, app, fiber.MethodGet, "/p") // stored at its end: the clock moved by work
		clock.advance(ttl - time.Millisecond)
		// Each hit refreshes with probability 1 - e^(-100): 50 hits and
		// not one refresh would be a bug.
		hits(t, app, 50, func() bool {
			return runs.Load() > 1 || m.c.RefreshesRunning() > 0
		})
		m.c.WaitRefreshes(5 * time.Second)
		require.EqualValues(t, 2, runs.Load(), "one background refresh")
		r := testkit.Do(t, app, fiber.MethodGet, "/p")
		assert.Equal(t, "v2", r.Body, "the refreshed entry")
		assert.Equal(t, "hit", r.Header.Get(DefaultCacheHeader))
	})

	never := map[string]struct {
		opts []Option
		left time.Duration // before expiry, when the hits come
	}{
		"far from expiry":      {opts: []Option{WithTTL(ttl)}, left: 5 * time.Second},
		"no lifetime":          {left: time.Millisecond},
		"WithEarlyRefresh(0)":  {opts: []Option{WithTTL(ttl), WithEarlyRefresh(0)}, left: time.Millisecond},
		"handler took no time": {opts: []Option{WithTTL(ttl)}, left: time.Millisecond},
	}
	for name, tc := range never {
		t.Run(name, func(t *testing.T) {
			clock := newFakeClock()
			w := work
			if name == "handler took no time" {
				w = 0
			}
			app, m, runs := earlyApp(t, clock, w, tc.opts...)
			testkit.Do(t, app, fiber.MethodGet, "/p")
			clock.advance(ttl - tc.left)
			hits(t, app, 100, nil)
			m.c.WaitRefreshes(5 * time.Second)
			require.EqualValues(t, 1, runs.Load(), "no refresh")
		})
	}
}

// TestEarlyRefreshAllocatesNothing: deciding about an early refresh on a
// hit allocates nothing, whether it refreshes or not.
func TestEarlyRefreshAllocatesNothing(t *testing.T) {
	m := NewCache(WithTTL(time.Minute))
	t.Cleanup(func() { _ = m.Close() })
	now := time.Now().UnixNano()
	near := &entry.Entry{FreshUntil: now + int64(time.Millisecond), Delta: int64(100 * time.Millisecond)}
	far := &entry.Entry{FreshUntil: now + int64(time.Hour), Delta: int64(100 * time.Millisecond)}
	allocs := testing.AllocsPerRun(100, func() {
		_ = m.c.RefreshEarly(near, now)
		_ = m.c.RefreshEarly(far, now)
	})
	assert.Zero(t, allocs)
}

// TestTTLJitter: WithTTLJitter(0.5) stores entries for 50% to 100% of
// their TTL, spread: Cache-Status's ttl on their hits tells.
func TestTTLJitter(t *testing.T) {
	app := fiber.New()
	app.Use(New(WithTTL(100*time.Second), WithTTLJitter(0.5)))
	app.Get("/*", func(c *fiber.Ctx) error { return c.SendString("x") })
	seen := map[int]bool{}
	for i := range 40 {
		target := "/j/" + strconv.Itoa(i)
		testkit.Do(t, app, fiber.MethodGet, target)
		r := testkit.Do(t, app, fiber.MethodGet, target)
		require.Equal(t, "hit", r.Header.Get(DefaultCacheHeader))
		_, v, ok := strings.Cut(r.Header.Get("Cache-Status"), "ttl=")
		require.True(t, ok, r.Header.Get("Cache-Status"))
		ttl, err := strconv.Atoi(v)
		require.NoError(t, err)
		assert.True(t, ttl >= 49 && ttl <= 100, "ttl=%d", ttl)
		seen[ttl/5] = true
		assert.Equal(t, "max-age=100", strings.TrimSpace(r.Header.Get(fiber.HeaderCacheControl)), "clients are told the TTL")
	}
	assert.Greater(t, len(seen), 3, "lifetimes spread out: %v", seen)
}

// TestEarlyRefreshOptions: out-of-range values make New panic, saying so.
func TestEarlyRefreshOptions(t *testing.T) {
	for _, o := range []Option{WithEarlyRefresh(-1), WithTTLJitter(1), WithTTLJitter(-0.1)} {
		assert.Panics(t, func() { New(o) })
	}
	assert.PanicsWithValue(t, "fibercache: WithTTLJitter(1): the fraction must be at least 0 and below 1, e.g. 0.1 for up to 10%", func() { New(WithTTLJitter(1)) })
}
