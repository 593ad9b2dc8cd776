package cache_test

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/stretchr/testify/require"

	"github.com/fiber-caches/cache"
	"github.com/fiber-caches/cache/internal/redistest"
	"github.com/fiber-caches/cache/internal/testkit"
)

// nearSite is one instance of a service on a Redis storage: its cache,
// its app (GET /n/:id answers the data's version, PUT bumps it), and the
// go-redis round trips its storage client makes.
type nearSite struct {
	cache *cache.Cache
	app   *fiber.App
	rt    *redistest.RoundTrips
	runs  atomic.Int64
}

func newNearSite(t *testing.T, version *atomic.Int64, opts ...cache.Option) *nearSite {
	t.Helper()
	s := &nearSite{rt: &redistest.RoundTrips{}}
	rs := testkit.Redis(t)
	rs.Conn().AddHook(s.rt)
	s.cache = cache.NewCache(append([]cache.Option{cache.WithStorage(rs), cache.WithTTL(time.Minute),
		cache.WithStorageTimeout(time.Second)}, opts...)...)
	t.Cleanup(func() { _ = s.cache.Close() })
	s.app = fiber.New()
	s.app.Use(s.cache.Handler())
	s.app.Get("/n/:id", func(c *fiber.Ctx) error {
		s.runs.Add(1)
		return c.SendString(fmt.Sprintf("v%d %s", version.Load(), c.Params("id")))
	})
	s.app.Put("/n/:id", func(c *fiber.Ctx) error {
		version.Add(1)
		return c.SendStatus(fiber.StatusNoContent)
	})
	return s
}

func (s *nearSite) get(t *testing.T, path string) testkit.Result {
	t.Helper()
	return testkit.Do(t, s.app, fiber.MethodGet, path)
}

func TestNear_Smoke(t *testing.T) {
	for _, mode := range []struct {
		name string
		lag  []cache.Option
	}{{"strict", nil}, {"relaxed", []cache.Option{cache.WithNearCacheLag(time.Hour)}}} {
		t.Run(mode.name, func(t *testing.T) {
			prefix := redistest.Prefix(t)
			var version atomic.Int64
			a := newNearSite(t, &version, append([]cache.Option{cache.WithKeyPrefix(prefix), cache.WithNearCache(1 << 20)}, mode.lag...)...)
			b := newNearSite(t, &version, cache.WithKeyPrefix(prefix))
			cache.Isolate(a.cache)
			cache.Isolate(b.cache)
			require.True(t, cache.NearOn(a.cache))
			require.Equal(t, "miss", a.get(t, "/n/1").Header.Get("X-Cache"))
			for i := range 5 {
				r := a.get(t, "/n/1")
				require.Equal(t, "hit", r.Header.Get("X-Cache"))
				require.Equal(t, "v0 1", r.Body)
				t.Logf("hit %d: %d go-redis round trips %v", i, a.rt.Take(), a.rt.Commands())
			}
			require.Equal(t, fiber.StatusNoContent, testkit.Do(t, b.app, fiber.MethodPut, "/n/1").Status)
			deadline := time.Now().Add(2 * time.Second)
			for {
				r := a.get(t, "/n/1")
				if r.Body == "v1 1" {
					break
				}
				require.True(t, time.Now().Before(deadline), "still %q", r.Body)
				time.Sleep(time.Millisecond)
			}
			t.Logf("near bytes %d", a.cache.NearBytes())
		})
	}
}
