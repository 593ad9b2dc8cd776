package cache_test

import (
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/storage/redis/v3"
	"github.com/stretchr/testify/require"

	"github.com/fiber-caches/cache"
	"github.com/fiber-caches/cache/internal/redistest"
)

// invRedisStorage is a client of the test Redis, with its own connections
// as another app instance has. It remembers the keys it wrote and deletes
// them when the test ends (the Redis is shared: no Reset, no SCAN).
type invRedisStorage struct {
	*redis.Storage
	mu   sync.Mutex
	keys map[string]bool
}

func newInvRedis(t *testing.T) *invRedisStorage {
	t.Helper()
	host, port, err := net.SplitHostPort(redistest.Addr(t))
	require.NoError(t, err)
	p, err := strconv.Atoi(port)
	require.NoError(t, err)
	s := &invRedisStorage{Storage: redis.New(redis.Config{Host: host, Port: p, Reset: false}), keys: map[string]bool{}}
	t.Cleanup(func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		for k := range s.keys {
			_ = s.Storage.Delete(k)
		}
		_ = s.Storage.Close()
	})
	return s
}

func (s *invRedisStorage) Set(key string, val []byte, exp time.Duration) error {
	s.mu.Lock()
	s.keys[key] = true
	s.mu.Unlock()
	return s.Storage.Set(key, val, exp)
}

func (s *invRedisStorage) Reset() error {
	panic("fibercache tests share a Redis: Reset must never be called")
}

// newInvRedisSites returns two app instances, A and B, each with its own
// cache and Redis client, on one Redis and one key prefix.
func newInvRedisSites(t *testing.T, extra func(*invSite)) (a, b *invSite) {
	t.Helper()
	prefix := invPrefix(t)
	site := func() *invSite {
		return newInvSiteWith(t, extra, cache.WithStorage(newInvRedis(t)), cache.WithKeyPrefix(prefix), cache.WithTTL(time.Minute))
	}
	return site(), site()
}

// TestRedisInvalidate_TwoInstances stores on instance A, invalidates on
// instance B in each way there is, and checks that A's next request for
// every variant runs A's handler.
func TestRedisInvalidate_TwoInstances(t *testing.T) {
	ways := map[string]func(t *testing.T, b *invSite){
		"PUT on B": func(t *testing.T, b *invSite) {
			resp, _ := b.do(fiber.MethodPut, "/users/42")
			require.Equal(t, fiber.StatusOK, resp.StatusCode)
		},
		"DELETE on B, 204": func(t *testing.T, b *invSite) {
			resp, _ := b.do(fiber.MethodDelete, "/users/42", "X-Status", "204")
			require.Equal(t, fiber.StatusNoContent, resp.StatusCode)
		},
		"POST on B with Location": func(t *testing.T, b *invSite) {
			b.do(fiber.MethodPost, "/users", "X-Status", "201", "X-Location", "/users/42")
		},
		"Helper.InvalidateURL on B": func(t *testing.T, b *invSite) {
			require.NoError(t, b.helper(func(h *cache.CacheHelper) error { return h.InvalidateURL("/users/42") }))
		},
		"Helper.InvalidateRoute on B": func(t *testing.T, b *invSite) {
			require.NoError(t, b.helper(func(h *cache.CacheHelper) error { return h.InvalidateRoute("user", fiber.Map{"id": 42}) }))
		},
		"Cache.InvalidateURL on B": func(t *testing.T, b *invSite) {
			require.NoError(t, b.cache.InvalidateURL("https://example.com/users/42"))
		},
		"Cache.InvalidateRoute on B": func(t *testing.T, b *invSite) {
			require.NoError(t, b.cache.InvalidateRoute(b.app, "http://example.com", "user", fiber.Map{"id": "42"}))
		},
	}
	for name, invalidate := range ways {
		t.Run(name, func(t *testing.T) {
			a, b := newInvRedisSites(t, nil)
			for _, lang := range []string{"en", "fr"} {
				a.warm("/users/42", lang)
				// B shares the storage: it answers from what A stored.
				b.hit(fiber.MethodGet, "/users/42", lang)
			}
			a.warm("/users/43", "en")

			invalidate(t, b)

			for _, lang := range []string{"en", "fr"} {
				a.miss(fiber.MethodGet, "/users/42", lang, "A after B's invalidation")
				a.hit(fiber.MethodGet, "/users/42", lang)
				b.hit(fiber.MethodGet, "/users/42", lang, "B answers what A stored again")
				b.hit(fiber.MethodHead, "/users/42", lang)
			}
			require.Equal(t, 2, a.runsOf("/users/42", "en"))
			require.Equal(t, 2, a.runsOf("/users/42", "fr"))
			require.Equal(t, 0, b.runsOf("/users/42", "en"))
			a.hit(fiber.MethodGet, "/users/43", "en")
		})
	}
}

// TestRedisInvalidate_DefaultStoreIsPerInstance documents why several
// instances need a shared storage: with the default in-process store, an
// invalidation on B leaves A's copy alone.
func TestRedisInvalidate_DefaultStoreIsPerInstance(t *testing.T) {
	a, b := newInvSite(t), newInvSite(t)
	a.warm("/users/42", "en")
	b.warm("/users/42", "en")
	require.NoError(t, b.cache.InvalidateURL("http://example.com/users/42"))
	b.miss(fiber.MethodGet, "/users/42", "en")
	a.hit(fiber.MethodGet, "/users/42", "en", "A keeps its own copy")
}

func TestRedisInvalidate_ConstantStorageOps(t *testing.T) {
	invConstantOps(t, func(t *testing.T) fiber.Storage { return newInvRedis(t) })
}

// TestRedisInvalidate_RaceWhileHandlerRuns: A's handler is running when B
// invalidates; A must not keep what the handler computed.
func TestRedisInvalidate_RaceWhileHandlerRuns(t *testing.T) {
	for _, vary := range []bool{false, true} {
		t.Run(fmt.Sprintf("vary=%v", vary), func(t *testing.T) {
			prefix := invPrefix(t)
			a := newInvRaceApp(vary, cache.WithStorage(newInvRedis(t)), cache.WithKeyPrefix(prefix), cache.WithTTL(time.Minute))
			b := cache.NewCache(cache.WithStorage(newInvRedis(t)), cache.WithKeyPrefix(prefix), cache.WithTTL(time.Minute))
			if vary {
				invDo(t, a.app, fiber.MethodGet, "/r", fiber.HeaderAcceptLanguage, "fr")
			}
			a.hold.Store(true)
			res := invGo(a.app, "en")
			<-a.started
			a.version.Add(1)
			require.NoError(t, b.InvalidateURL(invBase+"/r"))
			close(a.release)
			require.Equal(t, a.body(0, "en"), <-res)
			a.after(t, "en")
			if vary {
				a.after(t, "fr")
			}
		})
	}
}

// TestRedisInvalidate_RaceWhileSetDelayed: A's Set of the response is held
// (before it reaches Redis, or after, before A checks the generation) while
// B invalidates.
func TestRedisInvalidate_RaceWhileSetDelayed(t *testing.T) {
	for _, when := range []string{"before", "after"} {
		for _, vary := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/vary=%v", when, vary), func(t *testing.T) {
				prefix := invPrefix(t)
				spy := &invSpyStorage{Storage: newInvRedis(t)}
				a := newInvRaceApp(vary, cache.WithStorage(spy), cache.WithKeyPrefix(prefix), cache.WithTTL(time.Minute))
				b := cache.NewCache(cache.WithStorage(newInvRedis(t)), cache.WithKeyPrefix(prefix), cache.WithTTL(time.Minute))
				if vary {
					invDo(t, a.app, fiber.MethodGet, "/r", fiber.HeaderAcceptLanguage, "fr")
				}
				var armed atomic.Bool
				inSet, release := make(chan struct{}), make(chan struct{})
				hold := func(op invOp) {
					if op.name == "set" && armed.CompareAndSwap(true, false) {
						close(inSet)
						<-release
					}
				}
				if when == "before" {
					spy.setHooks(hold, nil)
				} else {
					spy.setHooks(nil, hold)
				}
				armed.Store(true)
				res := invGo(a.app, "en")
				<-inSet
				a.version.Add(1)
				require.NoError(t, b.InvalidateURL(invBase+"/r"))
				close(release)
				require.Equal(t, a.body(0, "en"), <-res)
				spy.setHooks(nil, nil)
				a.after(t, "en")
				if vary {
					a.after(t, "fr")
				}
			})
		}
	}
}

func TestRedisInvalidate_RaceInterleavings(t *testing.T) {
	if testing.Short() {
		t.Skip("hundreds of Redis round trips; the in-memory twin runs in -short")
	}
	invRaceInterleavings(t, func(t *testing.T) fiber.Storage { return newInvRedis(t) })
}

func TestRedisInvalidate_RaceStress(t *testing.T) {
	invStress(t, cache.WithStorage(newInvRedis(t)), cache.WithKeyPrefix(invPrefix(t)), cache.WithTTL(time.Minute))
}
