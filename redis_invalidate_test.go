package cache_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	goredis "github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/fiber-caches/cache"
	"github.com/fiber-caches/cache/internal/core/redistest"
	"github.com/fiber-caches/cache/internal/testkit"
)

// newInvRedisSites returns two app instances, A and B, each with its own
// cache and Redis client, on one Redis and one key prefix.
func newInvRedisSites(t *testing.T, prefix string, extra func(*invSite)) (a, b *invSite) {
	t.Helper()
	site := func() *invSite {
		return newInvSiteWith(t, extra, cache.WithStorage(testkit.Redis(t)), cache.WithKeyPrefix(prefix), cache.WithTTL(time.Minute))
	}
	return site(), site()
}

// TestRedisInvalidate_TwoInstances stores on instance A, invalidates on
// instance B in each way there is, and checks that A's next request for
// every variant runs A's handler.
func TestRedisInvalidate_TwoInstances(t *testing.T) {
	ways := map[string]func(t *testing.T, b *invSite){
		"PUT on B": func(t *testing.T, b *invSite) {
			require.Equal(t, fiber.StatusOK, b.do(fiber.MethodPut, "/users/42").Status)
		},
		"DELETE on B, 204": func(t *testing.T, b *invSite) {
			require.Equal(t, fiber.StatusNoContent, b.do(fiber.MethodDelete, "/users/42", "X-Status: 204").Status)
		},
		"POST on B with Location": func(t *testing.T, b *invSite) {
			b.do(fiber.MethodPost, "/users", "X-Status: 201", "X-Location: /users/42")
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
	prefixes := invRedisPrefixes(t) // the fast path writes through scripts: delete by prefix
	for name, invalidate := range ways {
		t.Run(name, func(t *testing.T) {
			a, b := newInvRedisSites(t, prefixes(), nil)
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

// TestRedisInvalidate_DefaultStoreIsPerProcess: the default in-process
// store is the process's. An invalidation through one cache reaches what
// every other cache of the process stored (two instances of a service, in
// two processes, need a shared storage for that: TwoInstances above).
func TestRedisInvalidate_DefaultStoreIsPerProcess(t *testing.T) {
	a, b := newInvSite(t), newInvSite(t)
	a.warm("/users/42", "en")
	b.warm("/users/42", "en")
	require.NoError(t, b.cache.InvalidateURL("http://example.com/users/42"))
	b.miss(fiber.MethodGet, "/users/42", "en")
	a.miss(fiber.MethodGet, "/users/42", "en", "A's copy goes too")
}

func TestRedisInvalidate_ConstantStorageOps(t *testing.T) {
	invConstantOps(t, func(t *testing.T) fiber.Storage { return testkit.Redis(t) })
}

// --- races on Redis (see the races section of invalidate_test.go) -------------

// invRedisTap is a go-redis hook that runs f before and after each round
// trip of the client it is added to (not the commands that set up a
// connection).
type invRedisTap struct {
	f atomic.Pointer[func(after bool)]
}

func (h *invRedisTap) DialHook(next goredis.DialHook) goredis.DialHook { return next }

func (h *invRedisTap) run(cmds []goredis.Cmder, next func() error) error {
	f := h.f.Load()
	if f == nil || invRedisSetup(cmds) {
		return next()
	}
	(*f)(false)
	err := next()
	(*f)(true)
	return err
}

func (h *invRedisTap) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		return h.run([]goredis.Cmder{cmd}, func() error { return next(ctx, cmd) })
	}
}

func (h *invRedisTap) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		return h.run(cmds, func() error { return next(ctx, cmds) })
	}
}

// invRedisSetup reports whether cmds only set up a connection.
func invRedisSetup(cmds []goredis.Cmder) bool {
	for _, c := range cmds {
		switch c.Name() {
		case "hello", "auth", "select", "readonly", "client":
		default:
			return false
		}
	}
	return true
}

// invRedisPrefixes returns a function giving each world a key prefix of
// its own under one redistest.Prefix of t, whose keys are deleted when t
// ends (one SCAN for all of them: the test Redis may hold many keys).
func invRedisPrefixes(t *testing.T) func() string {
	base := redistest.Prefix(t)
	var n atomic.Int64
	return func() string { return fmt.Sprintf("%s%d:", base, n.Add(1)) }
}

// invRedisFastRaceBackend runs A and B, each with its own client, on the
// test Redis through the fast path (the storage's Conn); A's round trips
// are tapped. Its keys go when t ends.
func invRedisFastRaceBackend(t *testing.T) invRaceBackend {
	prefixes := invRedisPrefixes(t)
	return invRaceBackend{"redis", true, func(t *testing.T, vary bool) *invRaceEnv {
		prefix := prefixes()
		e := &invRaceEnv{}
		sa, sb := testkit.Redis(t), testkit.Redis(t)
		tap := &invRedisTap{}
		sa.Conn().AddHook(tap)
		opts := func(s fiber.Storage) []cache.Option {
			return []cache.Option{cache.WithStorage(s), cache.WithKeyPrefix(prefix), cache.WithTTL(time.Minute)}
		}
		e.a = newInvRaceApp(t, vary, &e.version, opts(sa)...)
		e.b = newInvRaceApp(t, vary, &e.version, opts(sb)...)
		e.tap = func(f func(after bool)) {
			if f == nil {
				tap.f.Store(nil)
				return
			}
			tap.f.Store(&f)
		}
		return e
	}}
}

// invNearRaceBackend runs A with a near tier (lag 0: strict) and B
// without, each with its own clients, on the test Redis. A's round trips
// are tapped: its go-redis ones, and each tracked read of its near tier
// (before it is sent, and when its reply arrives, before the record enters
// the near tier: a write landing there lands between the read and the
// fill). A's invalidation pushes are delayed by pushDelay, so that a
// write acknowledged on B has not reached A's near tier yet when G is
// sent, as Redis may deliver it (rueidis#534). Strict worlds take A out of
// the process's registry, so that B's invalidation reaches A only through
// Redis, as between two processes; relaxed ones leave it in, so that
// the invalidation is this instance's own (WithNearCacheLag promises
// nothing sooner than the lag for another's). Its keys go when t ends.
func invNearRaceBackend(t *testing.T, name string, lag time.Duration, pushDelay time.Duration) invRaceBackend {
	prefixes := invRedisPrefixes(t)
	return invRaceBackend{name, true, func(t *testing.T, vary bool) *invRaceEnv {
		prefix := prefixes()
		e := &invRaceEnv{}
		sa, sb := testkit.Redis(t), testkit.Redis(t)
		tap := &invRedisTap{}
		sa.Conn().AddHook(tap)
		opts := []cache.Option{cache.WithStorage(sa), cache.WithKeyPrefix(prefix), cache.WithTTL(time.Minute), cache.WithNearCache(1 << 20)}
		if lag > 0 {
			opts = append(opts, cache.WithNearCacheLag(lag))
		}
		e.a = newInvRaceApp(t, vary, &e.version, opts...)
		e.b = newInvRaceApp(t, vary, &e.version, cache.WithStorage(sb), cache.WithKeyPrefix(prefix), cache.WithTTL(time.Minute))
		require.True(t, cache.NearOn(e.a.cache))
		if lag == 0 {
			cache.Isolate(e.a.cache)
		}
		cache.NearPushDelay(e.a.cache, pushDelay)
		e.tap = func(f func(after bool)) {
			if f == nil {
				tap.f.Store(nil)
				cache.NearHook(e.a.cache, nil)
				return
			}
			tap.f.Store(&f)
			cache.NearHook(e.a.cache, f)
		}
		return e
	}}
}

// invNearRaceBackends are the near tier's race worlds: strict, and
// relaxed with a lag far longer than any test.
func invNearRaceBackends(t *testing.T) []invRaceBackend {
	return []invRaceBackend{
		invNearRaceBackend(t, "near", 0, time.Millisecond),
		invNearRaceBackend(t, "near-relaxed", time.Hour, time.Millisecond),
	}
}

// invRedisStorageRaceBackend runs A and B on the test Redis through the
// generic fiber.Storage path (testkit.Wrap hides Conn). Its keys go when t
// ends.
func invRedisStorageRaceBackend(t *testing.T) invRaceBackend {
	prefixes := invRedisPrefixes(t)
	return invStorageRaceBackend("redis-storage", func(t *testing.T) (fiber.Storage, string) {
		return testkit.Redis(t), prefixes()
	})
}

// TestRedisInvalidate_RaceAtEveryPoint runs I (through instance B) at every
// point of R's story on instance A: before and after each round trip of the
// Redis fast path, each operation of the generic path, and in the handler.
func TestRedisInvalidate_RaceAtEveryPoint(t *testing.T) {
	invRaceEveryPoint(t, invRedisFastRaceBackend(t))
	// Near tiers by URL and by tag (a route is a tag, which the near tier
	// drops alike).
	for _, be := range invNearRaceBackends(t) {
		invRaceEveryPoint(t, be, "url", "tag")
	}
	if testing.Short() {
		t.Skip("the generic path on Redis: its in-memory twin runs in -short")
	}
	// By URL: the generic path's logic is its in-memory twin's
	// (TestInvalidate_RaceAtEveryPoint, every way); this adds round trips.
	invRaceEveryPoint(t, invRedisStorageRaceBackend(t), "url")
}

func TestRedisInvalidate_RaceInterleavings(t *testing.T) {
	t.Parallel() // long: main_test.go
	if testing.Short() {
		t.Skip("hundreds of Redis round trips; the in-memory twin runs in -short")
	}
	// By URL, in two scenarios: the generic path's logic is that of its
	// in-memory twin (TestInvalidate_RaceInterleavings, every scenario and
	// every way of invalidating); this one adds real round trips, to a
	// record learnt from another variant and from another instance.
	invRaceSplitHow(t, invRedisStorageRaceBackend(t).by("url"), "vary cold", "vary other variant via B")
}

func TestRedisInvalidate_RaceCoalescedFollower(t *testing.T) {
	invRaceCoalesced(t, invRedisFastRaceBackend(t))
	for _, be := range invNearRaceBackends(t) {
		invRaceCoalesced(t, be)
	}
	invRaceCoalesced(t, invRedisStorageRaceBackend(t))
}

func TestRedisInvalidate_RaceStress(t *testing.T) {
	prefixes := invRedisPrefixes(t)
	t.Run("fast path", func(t *testing.T) {
		invStress(t, cache.WithStorage(testkit.Redis(t)), cache.WithKeyPrefix(prefixes()), cache.WithTTL(time.Minute))
	})
	t.Run("generic path", func(t *testing.T) {
		invStress(t, cache.WithStorage(testkit.Wrap(testkit.Redis(t))), cache.WithKeyPrefix(prefixes()), cache.WithTTL(time.Minute))
	})
}
