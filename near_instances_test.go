package cache_test

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/stretchr/testify/require"

	"github.com/fiber-caches/cache"
	"github.com/fiber-caches/cache/internal/core/redistest"
	"github.com/fiber-caches/cache/internal/testkit"
)

// TestNear_Instances: four instances of a service share one Redis, each
// through its own listener and clients, as four processes: two with a
// strict near cache, one without, one with a relaxed near cache (lag 50
// ms). Goroutines read, and write through every instance (an unsafe
// request, or (*Cache).InvalidateURL), four URLs (two of them varying on
// Accept-Language); the near caches' pushes are held back a little, as a
// busy Redis may deliver them. A GET sent after a write was acknowledged,
// anywhere, answers that write's version or a newer one on every strict
// instance and on the one without a near cache; on the relaxed one, any
// version acknowledged more than its lag before it was sent.
func TestNear_Instances(t *testing.T) {
	const (
		urls     = 4
		lag      = 50 * time.Millisecond
		duration = time.Second
		perGo    = 1500
	)
	prefix := redistest.Prefix(t)
	var versions [urls]atomic.Int64

	type ack struct {
		v  int64
		at time.Time
	}
	var (
		mu   sync.Mutex
		acks [urls][]ack // ascending versions, when acknowledged
	)
	acked := func(u int, v int64) {
		mu.Lock()
		defer mu.Unlock()
		acks[u] = append(acks[u], ack{v, time.Now()})
	}
	floor := func(u int, before time.Time) int64 { // the newest version acknowledged before
		mu.Lock()
		defer mu.Unlock()
		var f int64
		for _, a := range acks[u] {
			if a.at.Before(before) && a.v > f {
				f = a.v
			}
		}
		return f
	}

	type instance struct {
		name string
		lag  time.Duration
		m    *cache.Cache
		cl   *cxClient
		hits atomic.Int64
	}
	mk := func(name string, lag time.Duration, opts ...cache.Option) *instance {
		m := cxCache(t, append([]cache.Option{cache.WithStorage(testkit.Redis(t)), cache.WithKeyPrefix(prefix), cache.WithTTL(time.Minute)}, opts...)...)
		cache.Isolate(m)
		if cache.NearOn(m) {
			cache.NearPushDelay(m, time.Millisecond)
		}
		app := cxApp()
		app.Use(m.Handler())
		param := func(c *fiber.Ctx) int {
			n, err := c.ParamsInt("n")
			if err != nil || n < 0 || n >= urls {
				return 0
			}
			return n
		}
		app.Get("/u/:n", func(c *fiber.Ctx) error {
			n := param(c)
			if n >= 2 {
				c.Vary(fiber.HeaderAcceptLanguage)
			}
			return c.SendString(fmt.Sprintf("v%d %s", versions[n].Load(), c.Get(fiber.HeaderAcceptLanguage)))
		})
		app.Post("/u/:n", func(c *fiber.Ctx) error { // the cache invalidates /u/n after it
			return c.SendString(strconv.FormatInt(versions[param(c)].Add(1), 10))
		})
		in := &instance{name: name, lag: lag, m: m, cl: newCxClient(cxListen(t, app))}
		in.cl.host = "example.com" // one site
		return in
	}
	insts := []*instance{
		mk("near A", 0, cache.WithNearCache(1<<20)),
		mk("near B", 0, cache.WithNearCache(1<<20)),
		mk("plain C", 0),
		mk("relaxed D", lag, cache.WithNearCache(1<<20), cache.WithNearCacheLag(lag)),
	}
	for _, in := range insts[:2] {
		require.True(t, cache.NearOn(in.m), in.name)
	}

	var (
		wg       sync.WaitGroup
		failMu   sync.Mutex
		failures []string
		reads    atomic.Int64
		writes   atomic.Int64
	)
	fail := func(msg string) {
		failMu.Lock()
		defer failMu.Unlock()
		if len(failures) < 10 {
			failures = append(failures, msg)
		}
	}
	deadline := time.Now().Add(duration)
	langs := []string{"en", "fr"}
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for i := 0; i < perGo && (i%32 != 0 || time.Now().Before(deadline)); i++ {
				u := rng.IntN(urls)
				in := insts[rng.IntN(len(insts))]
				path := "/u/" + strconv.Itoa(u)
				switch op := rng.IntN(100); {
				case op < 6: // a write through the middleware
					r := in.cl.do(fiber.MethodPost, path)
					v, err := strconv.ParseInt(r.body, 10, 64)
					if r.err != nil || err != nil {
						fail(fmt.Sprintf("POST %s on %s: %v %q", path, in.name, r.err, r.body))
						return
					}
					acked(u, v)
					writes.Add(1)
				case op < 9: // a write, then (*Cache).InvalidateURL
					v := versions[u].Add(1)
					if err := in.m.InvalidateURL("http://example.com" + path); err != nil {
						fail(err.Error())
						return
					}
					acked(u, v)
					writes.Add(1)
				default:
					lang := langs[rng.IntN(2)]
					sent := time.Now()
					f := floor(u, sent.Add(-in.lag))
					r := in.cl.do(fiber.MethodGet, path, fiber.HeaderAcceptLanguage+": "+lang)
					if r.err != nil || r.status != fiber.StatusOK {
						fail(fmt.Sprintf("GET %s on %s: %v %d", path, in.name, r.err, r.status))
						return
					}
					reads.Add(1)
					if r.xCache == "hit" {
						in.hits.Add(1)
					}
					v, ok := cxVersion(r.body)
					if !ok || v < f {
						fail(fmt.Sprintf("GET %s [%s] on %s answered %q (%s) after v%d was acknowledged", path, lang, in.name, r.body, r.cacheStat, f))
					}
				}
			}
		}()
	}
	wg.Wait()
	for _, in := range insts {
		t.Logf("%s: %d hits", in.name, in.hits.Load())
	}
	t.Logf("%d reads, %d acknowledged writes", reads.Load(), writes.Load())
	require.Empty(t, failures)
	require.Positive(t, writes.Load())
	for _, in := range insts {
		require.Positive(t, in.hits.Load(), "%s answered from its cache: the test is not vacuous", in.name)
	}
}
