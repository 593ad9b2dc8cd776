package cache_test

// Regression tests for issue 8 (5 and 6): a Redis that drops connections or
// stops answering, through redistest's fault-injecting proxy. Invalidations
// are never lost, and requests never wait for the storage longer than its
// deadline.

import (
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/storage/redis/v3"
	"github.com/stretchr/testify/require"

	"github.com/fiber-caches/cache"
	"github.com/fiber-caches/cache/internal/core/redistest"
)

// fltProxy starts a proxy in front of the test Redis, closed when the test
// ends, and a storage that reaches Redis through it (made while the proxy
// forwards: the storage pings on creation).
func fltProxy(t *testing.T) (*redistest.Proxy, *redis.Storage) {
	t.Helper()
	p, err := redistest.StartProxy(redistest.Addr(t))
	require.NoError(t, err)
	t.Cleanup(p.Close) // registered first: runs last, after the storage and caches are closed
	s := redis.New(redis.Config{Addrs: []string{p.Addr()}})
	t.Cleanup(func() { _ = s.Close() })
	return p, s
}

// fltFault is one way Redis becomes unreachable, and back.
type fltFault struct {
	name     string
	on, off  func(p *redistest.Proxy)
	timeouts bool // calls hang until their deadline rather than fail at once
}

// fltFaults are the ways Redis becomes unreachable, and back.
var fltFaults = []fltFault{
	{"drop and refuse", func(p *redistest.Proxy) { p.Refuse(true); p.Drop() }, func(p *redistest.Proxy) { p.Refuse(false) }, false},
	{"blackhole", func(p *redistest.Proxy) { p.Blackhole(true) }, func(p *redistest.Proxy) { p.Blackhole(false); p.Drop() }, true},
}

// TestFault_InvalidationNeverLost: Redis becomes unreachable while a POST
// runs, so the invalidation that follows it cannot land. The POST is still
// acknowledged; while Redis is unreachable this instance never serves the
// path from the cache; once Redis is back, the invalidation is retried
// until it lands: the old response is a hit neither here nor on another
// instance that never lost Redis.
//
// With a near cache on A (strict, or relaxed), the storage guard stands in
// front of it: it never answers a path whose invalidation is pending, and
// a request waits for a blackholed Redis no longer than without it.
func TestFault_InvalidationNeverLost(t *testing.T) {
	prefixes := invRedisPrefixes(t)
	for _, near := range fltNear {
		for _, fault := range fltFaults {
			t.Run(near.name+fault.name, func(t *testing.T) { fltInvalidationNeverLost(t, prefixes(), fault, near.opts) })
		}
	}
}

// fltNear are the ways A runs: without a near cache, and with one, strict
// or relaxed.
var fltNear = []struct {
	name string
	opts []cache.Option
}{
	{"", nil},
	{"near/", []cache.Option{cache.WithNearCache(1 << 20)}},
	{"near-relaxed/", []cache.Option{cache.WithNearCache(1 << 20), cache.WithNearCacheLag(50 * time.Millisecond)}},
}

func fltInvalidationNeverLost(t *testing.T, prefix string, fault fltFault, nearOpts []cache.Option) {
	proxy, sA := fltProxy(t)
	sB := cxRedisClient(t)
	opts := []cache.Option{cache.WithKeyPrefix(prefix), cache.WithTTL(time.Minute),
		cache.WithStorageTimeout(30 * time.Millisecond), cache.WithStoragePause(100 * time.Millisecond)}
	var version atomic.Int64
	var faultOn atomic.Bool
	site := func(s fiber.Storage, extra []cache.Option) *cxClient {
		m := cxCache(t, append(append([]cache.Option{cache.WithStorage(s)}, opts...), extra...)...)
		cache.Isolate(m) // A and B are two processes
		app := cxApp()
		app.Use(m.Handler())
		app.Get("/p", func(c *fiber.Ctx) error { return c.SendString(fmt.Sprintf("v%d", version.Load())) })
		app.Post("/p", func(c *fiber.Ctx) error {
			version.Add(1)
			if faultOn.CompareAndSwap(false, true) {
				fault.on(proxy) // after the write, before the cache invalidates
			}
			return c.SendString("written")
		})
		cl := newCxClient(cxListen(t, app))
		cl.host = "example.com" // one site, two instances
		return cl
	}
	a, b := site(sA, nearOpts), site(sB, nil) // A reaches Redis through the proxy, B directly

	a.must(t, fiber.MethodGet, "/p")
	require.Equal(t, "hit", a.must(t, fiber.MethodGet, "/p").xCache)
	require.Equal(t, "hit", a.must(t, fiber.MethodGet, "/p").xCache) // from the near cache, if any
	r := b.must(t, fiber.MethodGet, "/p")
	require.Equal(t, "hit", r.xCache)
	require.Equal(t, "v0", r.body)

	start := time.Now()
	require.Equal(t, "written", a.must(t, fiber.MethodPost, "/p").body, "the write is acknowledged")
	require.Less(t, time.Since(start), time.Second, "the POST waited for Redis")

	// Redis unreachable: several pauses and retries go by; the path
	// is never served from the cache here.
	for end := time.Now().Add(400 * time.Millisecond); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		start := time.Now()
		r := a.must(t, fiber.MethodGet, "/p")
		require.Less(t, time.Since(start), 300*time.Millisecond, "a request waited for the unreachable Redis")
		require.Equal(t, "v1", r.body, "served from the cache while the invalidation is pending (%s)", r.cacheStat)
		require.NotEqual(t, "hit", r.xCache, r.cacheStat)
	}

	fault.off(proxy)
	deadline := time.Now().Add(5 * time.Second)
	for {
		r := a.must(t, fiber.MethodGet, "/p")
		require.Equal(t, "v1", r.body, "old data after the write (%s)", r.cacheStat)
		if r.xCache == "hit" {
			break // the invalidation landed, the new data was stored
		}
		require.True(t, time.Now().Before(deadline), "A never caches again once Redis is back: %s", r.cacheStat)
		time.Sleep(20 * time.Millisecond)
	}
	r = b.must(t, fiber.MethodGet, "/p")
	require.Equal(t, "v1", r.body, "another instance still serves the old response: the invalidation never reached Redis (%s)", r.cacheStat)
}

// TestFault_LatencyBound: with Redis blackholed, a request takes its
// handler's time plus about one storage deadline (50 ms by default), never
// go-redis's own timeouts and retries (seconds). With a pause of a
// millisecond every request probes the dead Redis: each is bounded.
func TestFault_LatencyBound(t *testing.T) {
	const handlerTime = 20 * time.Millisecond
	const bound = 400 * time.Millisecond // handler + ~100 ms, generously: the old code took 12 s
	prefixes := invRedisPrefixes(t)
	for _, pause := range []time.Duration{time.Millisecond, cache.DefaultStoragePause} {
		t.Run(fmt.Sprintf("pause=%v", pause), func(t *testing.T) {
			proxy, s := fltProxy(t)
			prefix := prefixes()
			// The default storage timeout is what this test measures (cxCache
			// gives tests a generous one).
			m := cxCache(t, cache.WithStorage(s), cache.WithKeyPrefix(prefix), cache.WithTTL(time.Minute),
				cache.WithStoragePause(pause), cache.WithStorageTimeout(cache.DefaultStorageTimeout))
			app := cxApp()
			app.Use(m.Handler())
			var runs atomic.Int64
			app.Get("/*", func(c *fiber.Ctx) error {
				runs.Add(1)
				time.Sleep(handlerTime)
				return c.SendString("page " + c.Path())
			})
			app.Post("/*", func(c *fiber.Ctx) error { return c.SendString("written") })
			cl := newCxClient(cxListen(t, app))
			cl.must(t, fiber.MethodGet, "/warm")
			require.Equal(t, "hit", cl.must(t, fiber.MethodGet, "/warm").xCache)

			proxy.Blackhole(true)
			timed := func(method, path string) time.Duration {
				t.Helper()
				start := time.Now()
				r := cl.must(t, method, path)
				took := time.Since(start)
				if method == fiber.MethodGet {
					require.Equal(t, "page "+path, r.body)
				}
				return took
			}
			lone := timed(fiber.MethodGet, "/lone")
			require.Less(t, lone, bound, "a lone request with Redis blackholed")

			var took []time.Duration
			for i := range 50 {
				path := fmt.Sprintf("/p%d", i%5)
				if i%10 == 9 {
					took = append(took, timed(fiber.MethodPost, path))
					continue
				}
				took = append(took, timed(fiber.MethodGet, path))
			}
			slices.Sort(took)
			p99 := took[len(took)*99/100]
			t.Logf("lone %v, p50 %v, p99 %v, max %v", lone.Round(time.Millisecond), took[len(took)/2].Round(time.Millisecond),
				p99.Round(time.Millisecond), took[len(took)-1].Round(time.Millisecond))
			require.Less(t, p99, bound, "p99 of 50 requests with Redis blackholed")
		})
	}
}

// TestFault_CoalescedFollowersBounded: requests coalesced behind a leader
// whose handler hangs run their own handler after WithCoalesceWait.
func TestFault_CoalescedFollowersBounded(t *testing.T) {
	const wait = 100 * time.Millisecond
	for _, st := range cxStores(t) {
		t.Run(st.name, func(t *testing.T) {
			obs := newCxObserver()
			m := cxCache(t, append(st.opts(t), cache.WithCoalesceWait(wait), cache.WithObserver(obs))...)
			app := cxApp()
			app.Use(m.Handler())
			hang := make(chan struct{})
			defer close(hang)
			var runs atomic.Int64
			app.Get("/p", func(c *fiber.Ctx) error {
				if runs.Add(1) == 1 {
					select { // the leader hangs
					case <-hang:
					case <-time.After(cxTimeout):
					}
				}
				return c.SendString("page")
			})
			cl := newCxClient(cxListen(t, app))
			leader := cxGo(func() cxResp { return cl.do(fiber.MethodGet, "/p") })
			deadline := time.Now().Add(cxTimeout)
			for runs.Load() == 0 {
				require.True(t, time.Now().Before(deadline), "the leader never ran")
				time.Sleep(time.Millisecond)
			}
			const followers = 5
			type timedResp struct {
				r    cxResp
				took time.Duration
			}
			var res []<-chan timedResp
			for range followers {
				res = append(res, cxGo(func() timedResp {
					start := time.Now()
					r := cl.do(fiber.MethodGet, "/p")
					return timedResp{r, time.Since(start)}
				}))
			}
			for i, ch := range res {
				f := cxWait(t, ch, "a follower")
				require.NoError(t, f.r.err)
				require.Equal(t, "page", f.r.body)
				require.Less(t, f.took, wait+300*time.Millisecond, "follower %d waited %v for a hung leader", i, f.took)
			}
			select {
			case <-obs.coalesced:
			default:
				t.Fatal("no request coalesced with the leader: the test proved nothing")
			}
			select {
			case <-leader:
				t.Fatal("the leader was not hung")
			default:
			}
		})
	}
}
