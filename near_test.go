package cache_test

// The near cache (WithNearCache): an in-process tier of the Redis records,
// kept coherent by CLIENT TRACKING. Strict (the default): an invalidation
// acknowledged anywhere is never served after, by any instance. Relaxed
// (WithNearCacheLag(d)): it stops being served within d. These tests run
// instances as separate processes would (out of the process's registry of
// caches), so that an invalidation reaches another instance's near tier
// only through Redis.

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/storage/redis/v3"
	goredis "github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/fiber-caches/cache"
	"github.com/fiber-caches/cache/internal/core/redistest"
	"github.com/fiber-caches/cache/internal/testkit"
)

// nearMode is a near cache's mode: strict (lag 0) or relaxed.
type nearMode struct {
	name string
	lag  time.Duration
}

var nearModes = []nearMode{{"strict", 0}, {"relaxed", 100 * time.Millisecond}}

// opts returns the options of a near cache of 1 MiB in mode m.
func (m nearMode) opts() []cache.Option {
	opts := []cache.Option{cache.WithNearCache(1 << 20)}
	if m.lag > 0 {
		opts = append(opts, cache.WithNearCacheLag(m.lag))
	}
	return opts
}

// nearSlack is how much later than its lag a relaxed instance may still
// answer an invalidated response in these tests: scheduling on a loaded
// machine, never a guarantee's part.
const nearSlack = 500 * time.Millisecond

// nearStorage is a Redis storage (the fast path's Conn included).
type nearStorage interface {
	fiber.Storage
	Conn() goredis.UniversalClient
}

// nearSite is one instance of a service on a Redis storage, out of the
// process's registry: its cache, its app (GET /n/:id answers the data's
// version and the id, tagged "items"), and the go-redis round trips of its
// storage client.
type nearSite struct {
	cache   *cache.Cache
	app     *fiber.App
	rt      *redistest.RoundTrips
	runs    atomic.Int64
	lag     time.Duration // of its near cache; 0: strict, or none
	version *atomic.Int64
}

// newNearSite makes an instance on s (the test Redis when nil).
func newNearSite(t *testing.T, s nearStorage, version *atomic.Int64, opts ...cache.Option) *nearSite {
	t.Helper()
	if s == nil {
		s = testkit.Redis(t)
	}
	site := &nearSite{rt: &redistest.RoundTrips{}, version: version}
	s.Conn().AddHook(site.rt)
	site.cache = cache.NewCache(append([]cache.Option{cache.WithStorage(s), cache.WithTTL(time.Minute),
		cache.WithStorageTimeout(time.Second), cache.WithStoragePause(10 * time.Millisecond)}, opts...)...)
	cache.Isolate(site.cache)
	t.Cleanup(func() { _ = site.cache.Close() })
	site.app = fiber.New()
	site.app.Use(site.cache.Handler())
	site.app.Get("/n/:id", func(c *fiber.Ctx) error {
		site.runs.Add(1)
		cache.Tag(c, "items")
		return c.SendString(nearBody(version.Load(), c.Params("id")))
	}).Name("n")
	site.app.Put("/n/:id", func(c *fiber.Ctx) error {
		version.Add(1)
		return c.SendStatus(fiber.StatusNoContent)
	})
	return site
}

func (s *nearSite) get(t *testing.T, path string) testkit.Result {
	t.Helper()
	return testkit.Do(t, s.app, fiber.MethodGet, path)
}

// nearBody is what GET /n/id answers for version v.
func nearBody(v int64, id string) string { return fmt.Sprintf("v%d %s", v, id) }

// warmNear makes path a near hit on s: a miss that stores, a read that
// fills the near tier, then a hit that makes no go-redis round trip.
func (s *nearSite) warmNear(t *testing.T, path string) {
	t.Helper()
	s.get(t, path)
	s.get(t, path)
	s.rt.Take()
	r := s.get(t, path)
	require.Equal(t, "hit", r.Header.Get("X-Cache"), "%s: %s", path, r.Header.Get("Cache-Status"))
	require.Zero(t, s.rt.Take(), "a near hit makes no go-redis round trip: %v", s.rt.Commands())
}

// fresh checks that GET path answers want: at once on a strict instance;
// on a relaxed one, within its lag (plus slack), and ever after.
func (s *nearSite) fresh(t *testing.T, path, want string) {
	t.Helper()
	if s.lag == 0 {
		r := s.get(t, path)
		require.Equal(t, want, r.Body, "GET %s (%s)", path, r.Header.Get("Cache-Status"))
		return
	}
	start := time.Now()
	for {
		r := s.get(t, path)
		if r.Body == want {
			break
		}
		require.Less(t, time.Since(start), s.lag+nearSlack, "GET %s still answers %q past the lag", path, r.Body)
		time.Sleep(time.Millisecond)
	}
	for range 20 {
		r := s.get(t, path)
		require.Equal(t, want, r.Body, "GET %s answered the old data again", path)
	}
}

// nearServer starts a throwaway Redis for one test, with extra
// redis-server arguments.
func nearServer(t *testing.T, args ...string) *redistest.Server {
	t.Helper()
	srv, err := redistest.StartWith(args...)
	require.NoError(t, err)
	t.Cleanup(srv.Stop)
	return srv
}

// nearStorageOn returns a storage on the Redis at addr, closed when t ends.
func nearStorageOn(t *testing.T, addr string, cfg ...redis.Config) *redis.Storage {
	t.Helper()
	c := redis.Config{}
	if len(cfg) > 0 {
		c = cfg[0]
	}
	c.Addrs = []string{addr}
	s := redis.New(c)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// nearAdmin returns a go-redis client of addr, closed when t ends.
func nearAdmin(t *testing.T, addr string) *goredis.Client {
	t.Helper()
	c := goredis.NewClient(&goredis.Options{Addr: addr})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// TestNear_HitsWithoutStorageCalls: a near hit, strict or relaxed, makes no
// go-redis round trip, and answers what was stored; an invalidation made
// through the instance itself is never answered after, in either mode.
func TestNear_HitsWithoutStorageCalls(t *testing.T) {
	for _, mode := range nearModes {
		t.Run(mode.name, func(t *testing.T) {
			var version atomic.Int64
			a := newNearSite(t, nil, &version, append([]cache.Option{cache.WithKeyPrefix(redistest.Prefix(t))}, mode.opts()...)...)
			require.True(t, cache.NearOn(a.cache))
			a.warmNear(t, "/n/1")
			for range 5 {
				r := a.get(t, "/n/1")
				require.Equal(t, "hit", r.Header.Get("X-Cache"))
				require.Equal(t, nearBody(0, "1"), r.Body)
			}
			require.Zero(t, a.rt.Take())
			require.EqualValues(t, 1, a.runs.Load())
			// Its own invalidation: not a pending push, an at-once drop.
			cache.NearPushDelay(a.cache, 20*time.Millisecond)
			require.Equal(t, fiber.StatusNoContent, testkit.Do(t, a.app, fiber.MethodPut, "/n/1").Status)
			r := a.get(t, "/n/1")
			require.Equal(t, nearBody(1, "1"), r.Body)
			require.Equal(t, "miss", r.Header.Get("X-Cache"))
		})
	}
}

// TestNear_OtherInstanceInvalidates: B, without a near cache, invalidates
// what A holds in its near tier, in every way there is, while the push
// that tells A is held back (as Redis may deliver it after B's
// acknowledgment, rueidis#534): strict A answers the new data at once,
// relaxed A within its lag.
func TestNear_OtherInstanceInvalidates(t *testing.T) {
	ways := map[string]func(t *testing.T, b *nearSite){
		"PUT": func(t *testing.T, b *nearSite) { testkit.Do(t, b.app, fiber.MethodPut, "/n/1") },
		"InvalidateURL": func(t *testing.T, b *nearSite) {
			b.version.Add(1)
			require.NoError(t, b.cache.InvalidateURL("http://example.com/n/1"))
		},
		"InvalidateAll": func(t *testing.T, b *nearSite) { b.version.Add(1); require.NoError(t, b.cache.InvalidateAll()) },
		"InvalidateTags": func(t *testing.T, b *nearSite) {
			b.version.Add(1)
			require.NoError(t, b.cache.InvalidateTags("items"))
		},
		"InvalidateRoute": func(t *testing.T, b *nearSite) {
			b.version.Add(1)
			require.NoError(t, b.cache.InvalidateRoute(b.app, "http://example.com", "n", nil))
		},
	}
	for _, mode := range nearModes {
		for way, invalidate := range ways {
			t.Run(mode.name+"/"+way, func(t *testing.T) {
				prefix := redistest.Prefix(t)
				var version atomic.Int64
				a := newNearSite(t, nil, &version, append([]cache.Option{cache.WithKeyPrefix(prefix)}, mode.opts()...)...)
				a.lag = mode.lag
				b := newNearSite(t, nil, &version, cache.WithKeyPrefix(prefix))
				a.warmNear(t, "/n/1")
				cache.NearPushDelay(a.cache, 20*time.Millisecond)
				invalidate(t, b)
				a.fresh(t, "/n/1", nearBody(1, "1"))
			})
		}
	}
}

// TestNear_Reconnect: A's tracking connection is killed (CLIENT KILL) and
// B invalidates before A has reconnected: the push is lost with the
// connection, yet A never answers the old data after (relaxed: past its
// lag), and caches again once reconnected.
func TestNear_Reconnect(t *testing.T) {
	for _, mode := range nearModes {
		t.Run(mode.name, func(t *testing.T) {
			prefix := redistest.Prefix(t)
			var version atomic.Int64
			a := newNearSite(t, nil, &version, append([]cache.Option{cache.WithKeyPrefix(prefix)}, mode.opts()...)...)
			a.lag = mode.lag
			b := newNearSite(t, nil, &version, cache.WithKeyPrefix(prefix))
			admin := nearAdmin(t, redistest.Addr(t))
			for round := range 3 {
				a.warmNear(t, "/n/1")
				id, err := cache.NearClientID(a.cache)
				require.NoError(t, err)
				require.NoError(t, admin.ClientKillByFilter(context.Background(), "ID", fmt.Sprint(id)).Err())
				testkit.Do(t, b.app, fiber.MethodPut, "/n/1")
				a.fresh(t, "/n/1", nearBody(int64(round+1), "1"))
			}
			a.warmNear(t, "/n/1") // the near tier works on the new connection
		})
	}
}

// TestNear_RedisRestart: Redis restarts empty (no persistence) while A
// holds records in its near tier, and B stores newer data: A answers the
// new data, never what its near tier held from before.
func TestNear_RedisRestart(t *testing.T) {
	for _, mode := range nearModes {
		t.Run(mode.name, func(t *testing.T) {
			srv := nearServer(t)
			var version atomic.Int64
			a := newNearSite(t, nearStorageOn(t, srv.Addr), &version, mode.opts()...)
			a.lag = mode.lag
			b := newNearSite(t, nearStorageOn(t, srv.Addr), &version)
			a.warmNear(t, "/n/1")
			version.Add(1)
			require.NoError(t, srv.Restart())
			deadline := time.Now().Add(5 * time.Second)
			for b.get(t, "/n/1").Header.Get("X-Cache") != "hit" { // B reconnects and stores v1
				require.True(t, time.Now().Before(deadline), "B never stores after the restart")
				time.Sleep(5 * time.Millisecond)
			}
			a.fresh(t, "/n/1", nearBody(1, "1"))
		})
	}
}

// TestNear_Flush: FLUSHALL or FLUSHDB empties Redis (Redis tells every
// tracking connection, naming no key) while A holds records in its near
// tier, and B stores newer data: A answers the new data.
func TestNear_Flush(t *testing.T) {
	for _, flush := range []string{"FLUSHALL", "FLUSHDB"} {
		for _, mode := range nearModes {
			t.Run(flush+"/"+mode.name, func(t *testing.T) {
				srv := nearServer(t)
				admin := nearAdmin(t, srv.Addr)
				var version atomic.Int64
				a := newNearSite(t, nearStorageOn(t, srv.Addr), &version, mode.opts()...)
				a.lag = mode.lag
				b := newNearSite(t, nearStorageOn(t, srv.Addr), &version)
				a.warmNear(t, "/n/1")
				cache.NearPushDelay(a.cache, 20*time.Millisecond)
				version.Add(1)
				require.NoError(t, admin.Do(context.Background(), flush).Err())
				r := b.get(t, "/n/1")
				require.Equal(t, nearBody(1, "1"), r.Body)
				a.fresh(t, "/n/1", nearBody(1, "1"))
			})
		}
	}
}

// TestNear_TrackingTableOverflow: with a tracking table of a few keys,
// Redis forgets most of what A's near tier holds (it sends invalidations
// for the keys it forgets, and none for their later writes): every
// invalidation B makes afterwards is still never served by A.
func TestNear_TrackingTableOverflow(t *testing.T) {
	for _, mode := range nearModes {
		t.Run(mode.name, func(t *testing.T) {
			srv := nearServer(t)
			require.NoError(t, nearAdmin(t, srv.Addr).ConfigSet(context.Background(), "tracking-table-max-keys", "8").Err())
			var version atomic.Int64
			a := newNearSite(t, nearStorageOn(t, srv.Addr), &version, mode.opts()...)
			a.lag = mode.lag
			b := newNearSite(t, nearStorageOn(t, srv.Addr), &version)
			const urls = 12
			for i := range urls {
				path := fmt.Sprintf("/n/%d", i)
				a.get(t, path)
				a.get(t, path) // fills A's near tier: 4 tracked keys a URL
			}
			cache.NearPushDelay(a.cache, 5*time.Millisecond)
			version.Add(1)
			for i := range urls {
				require.NoError(t, b.cache.InvalidateURL(fmt.Sprintf("http://example.com/n/%d", i)))
			}
			for i := range urls {
				a.fresh(t, fmt.Sprintf("/n/%d", i), nearBody(1, fmt.Sprint(i)))
			}
		})
	}
}

// TestNear_TrackingRefused: a Redis that cannot track keys for this client
// (CLIENT TRACKING denied by ACL; RESP3 refused: no HELLO) turns the near
// cache off with one warning that says why; the cache works as without it.
func TestNear_TrackingRefused(t *testing.T) {
	for _, tc := range []struct {
		name, want string
		args       []string
		user       string
	}{
		{name: "ACL denies CLIENT TRACKING", want: "CLIENT TRACKING failed", user: "notrack"},
		{name: "no HELLO (RESP3)", want: "RESP3", args: []string{"--rename-command", "HELLO", ""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := nearServer(t, tc.args...)
			cfg := redis.Config{}
			if tc.user != "" {
				require.NoError(t, nearAdmin(t, srv.Addr).Do(context.Background(),
					"ACL", "SETUSER", tc.user, "on", ">pw", "~*", "&*", "+@all", "-client|tracking").Err())
				cfg.Username, cfg.Password = tc.user, "pw"
			}
			logs := testkit.NewLogs(slog.LevelInfo)
			var version atomic.Int64
			a := newNearSite(t, nearStorageOn(t, srv.Addr, cfg), &version, cache.WithNearCache(1<<20), cache.WithLogger(logs.Logger()))
			require.False(t, cache.NearOn(a.cache))
			require.Equal(t, 1, logs.Count(slog.LevelWarn, ""), "one warning")
			off := logs.Find("near_cache_off")
			require.Len(t, off, 1)
			require.Contains(t, off[0].Attrs["reason"].String(), "client-side caching")
			require.Contains(t, off[0].Attrs["reason"].String(), tc.want, "the warning says what Redis answered")
			require.Equal(t, "miss", a.get(t, "/n/1").Header.Get("X-Cache"))
			for range 3 {
				r := a.get(t, "/n/1")
				require.Equal(t, "hit", r.Header.Get("X-Cache"), r.Header.Get("Cache-Status"))
			}
			require.Equal(t, 1, logs.Count(slog.LevelWarn, ""), "still one warning")
		})
	}
}

// TestNear_MemoryBound: the near tier holds at most its bound, however
// many responses pass through it, and keeps answering.
func TestNear_MemoryBound(t *testing.T) {
	const bound = 256 << 10
	var version atomic.Int64
	prefix := redistest.Prefix(t)
	a := newNearSite(t, nil, &version, cache.WithKeyPrefix(prefix), cache.WithNearCache(bound))
	a.app.Get("/big/:id", func(c *fiber.Ctx) error { return c.SendString(strings.Repeat("x", 2048) + c.Params("id")) })
	peak := int64(0)
	for i := range 400 { // 400 responses of 2 KiB, each read twice: about 1 MiB through the near tier
		path := fmt.Sprintf("/big/%d", i)
		a.get(t, path)
		a.get(t, path)
		peak = max(peak, a.cache.NearBytes())
		require.LessOrEqual(t, a.cache.NearBytes(), int64(bound), "after %d responses", i+1)
	}
	require.Greater(t, peak, int64(bound/2), "the near tier was used")
	a.warmNear(t, "/big/399")
}

// TestNear_RelaxedLagBound: an invalidation acknowledged on B stops being
// served by relaxed A within the lag, even when its push reaches A far
// later (held back past the lag and the slack): A's heartbeat stops
// vouching for its records, and it reads Redis (here the read times out:
// the push holds up the connection, and A bypasses its cache) until a
// round returns again.
func TestNear_RelaxedLagBound(t *testing.T) {
	const lag = 100 * time.Millisecond
	prefix := redistest.Prefix(t)
	var version atomic.Int64
	a := newNearSite(t, nil, &version, cache.WithKeyPrefix(prefix), cache.WithNearCache(1<<20), cache.WithNearCacheLag(lag),
		cache.WithStorageTimeout(50*time.Millisecond))
	a.lag = lag
	b := newNearSite(t, nil, &version, cache.WithKeyPrefix(prefix))
	a.warmNear(t, "/n/1")
	cache.NearPushDelay(a.cache, lag+nearSlack+300*time.Millisecond)
	testkit.Do(t, b.app, fiber.MethodPut, "/n/1")
	a.fresh(t, "/n/1", nearBody(1, "1"))
	cache.NearPushDelay(a.cache, 0)
}

// TestNear_OptionErrors: options that cannot work make New panic, saying
// what to do.
func TestNear_OptionErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []cache.Option
		want string
	}{
		{"in-process store", []cache.Option{cache.WithNearCache(1 << 20)}, "needs a Redis storage"},
		{"plain storage", []cache.Option{cache.WithStorage(testkit.NewStorage()), cache.WithNearCache(1 << 20)}, "needs a Redis storage"},
		{"zero bound", []cache.Option{cache.WithStorage(testkit.Redis(t)), cache.WithNearCache(0)}, "must be positive"},
		{"negative lag", []cache.Option{cache.WithStorage(testkit.Redis(t)), cache.WithNearCache(1 << 20), cache.WithNearCacheLag(-time.Second)}, "must not be negative"},
		{"lag alone", []cache.Option{cache.WithStorage(testkit.Redis(t)), cache.WithNearCacheLag(time.Second)}, "without WithNearCache"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				r := recover()
				require.NotNil(t, r, "New did not panic")
				require.Contains(t, fmt.Sprint(r), tc.want)
			}()
			cache.New(tc.opts...)
		})
	}
}

// TestNear_OwnInvalidationRacesARead: A reads a path's records through its
// near tier (a near miss), and invalidates the path itself while that read
// is on its way back: Redis ran the read before the invalidation, so the
// reply holds what the invalidation replaced, and reaches A after the
// invalidation returned; its push is held back. A GET sent after the
// invalidation returned must not be answered from that reply. Relaxed: A
// keeps the keys it invalidated out of its near tier until a round sent
// after the invalidation has returned. Strict: the GET waits for such a
// round.
func TestNear_OwnInvalidationRacesARead(t *testing.T) {
	for _, mode := range []nearMode{{"strict", 0}, {"relaxed", time.Hour}} {
		t.Run(mode.name, func(t *testing.T) {
			var version atomic.Int64
			a := newNearSite(t, nil, &version, append([]cache.Option{cache.WithKeyPrefix(redistest.Prefix(t))}, mode.opts()...)...)
			a.get(t, "/n/1")                  // stored
			time.Sleep(20 * time.Millisecond) // the store's own drop is over: a round returned
			var armed atomic.Bool
			armed.Store(true)
			cache.NearHook(a.cache, func(after bool) {
				if after && armed.CompareAndSwap(true, false) {
					// The reply to the read has arrived; the path record is next.
					version.Add(1)
					cache.NearPushDelay(a.cache, 200*time.Millisecond)
					if err := a.cache.InvalidateURL("http://example.com/n/1"); err != nil {
						t.Error(err)
					}
				}
			})
			r := a.get(t, "/n/1") // R: a near miss, concurrent with the invalidation
			require.False(t, armed.Load(), "R read through the near tier")
			cache.NearHook(a.cache, nil)
			require.Contains(t, []string{nearBody(0, "1"), nearBody(1, "1")}, r.Body)
			g := a.get(t, "/n/1") // G: sent after the invalidation returned
			require.Equal(t, nearBody(1, "1"), g.Body, "answered from a read Redis ran before the invalidation (%s)", g.Header.Get("Cache-Status"))
			cache.NearPushDelay(a.cache, 0)
		})
	}
}
