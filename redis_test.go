package cache

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fiber-caches/cache/internal/core"
	"github.com/fiber-caches/cache/internal/core/redistest"
	"github.com/fiber-caches/cache/internal/testkit"
	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/storage/redis/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// redisStorage connects to the test Redis. Each test gets its own key
// prefix, whose keys are deleted when it ends, so tests share one server
// without seeing each other.
func redisStorage(t *testing.T) (*redis.Storage, string) {
	t.Helper()
	s := redis.New(redis.Config{Addrs: []string{redistest.Addr(t)}})
	t.Cleanup(func() { s.Close() })
	return s, redistest.Prefix(t)
}

// redisCache is a cache on s, closed when the test ends.
func redisCache(t *testing.T, opts ...Option) *Cache {
	t.Helper()
	// A loaded CI machine can take longer than the default 50 ms storage
	// timeout, which would pause the storage and turn hits into bypasses.
	m := NewCache(append([]Option{WithStorageTimeout(testkit.StorageTimeout)}, opts...)...)
	t.Cleanup(func() { _ = m.Close() })
	return m
}

func redisKeys(t *testing.T, s *redis.Storage, prefix string) []string {
	t.Helper()
	keys, err := s.Conn().Keys(context.Background(), prefix+"*").Result()
	require.NoError(t, err)
	return keys
}

func TestRedisMissThenHit(t *testing.T) {
	s, prefix := redisStorage(t)
	app := fiber.New()
	app.Use(redisCache(t, WithStorage(s), WithKeyPrefix(prefix), WithTTL(time.Minute)).Handler())
	var k testkit.Counter
	app.Get("/x", k.Handler("x", testkit.Header("Vary", "Accept-Language")))
	assert.Equal(t, "miss", testkit.Do(t, app, "GET", "/x", "Accept-Language: en").Header.Get("X-Cache"))
	r := testkit.Do(t, app, "GET", "/x", "Accept-Language: en")
	assert.Equal(t, "hit", r.Header.Get("X-Cache"))
	assert.Equal(t, "x#1", r.Body)
	assert.Equal(t, "x#2", testkit.Do(t, app, "GET", "/x", "Accept-Language: fr").Body)
	assert.Equal(t, 2, k.Runs())
	assert.Equal(t, "hit", testkit.Do(t, app, "HEAD", "/x", "Accept-Language: fr").Header.Get("X-Cache"))

	// One path record and an entry per variant, each expiring: an entry
	// with its TTL, the path record at least as long (it was created for
	// as long as a handler may run), the record of the route's tag as long
	// as its entries; and the namespace record (epoch and tag sequence),
	// kept.
	keys := redisKeys(t, s, prefix)
	var paths, entries, epochs, tags, leases int
	for _, key := range keys {
		assert.True(t, strings.HasPrefix(key, prefix+core.KeyVersion+":"), key)
		ttl, err := s.Conn().PTTL(context.Background(), key).Result()
		require.NoError(t, err)
		if strings.HasSuffix(key, ":epoch") {
			epochs++
			v, err := s.Get(key)
			require.NoError(t, err)
			_, seq, ok := core.ParseNamespace(v)
			assert.True(t, ok, "the epoch (8 bytes) and the tag sequence: %q", v)
			assert.Positive(t, seq)
			continue
		}
		assert.Greater(t, ttl, time.Duration(0), "every key expires: %s", key)
		switch {
		case strings.HasSuffix(key, ":p"):
			paths++
			assert.LessOrEqual(t, ttl, core.PendingPathTTL, key)
			assert.Greater(t, ttl, time.Minute-5*time.Second, key)
		case strings.Contains(key, ":e:"):
			entries++
			assert.LessOrEqual(t, ttl, time.Minute, key)
		case strings.Contains(key, ":l:"):
			leases++ // the note of a store, left on the fleet's lease (redislease.go)
			assert.LessOrEqual(t, ttl, core.LeaseLife(DefaultCoalesceWait), key)
		case strings.Contains(key, ":t:"):
			tags++
			assert.LessOrEqual(t, ttl, time.Minute, key)
			assert.Greater(t, ttl, time.Minute-5*time.Second, key)
		default:
			t.Errorf("unexpected key %s", key)
		}
	}
	assert.Equal(t, 1, paths, "one path record: %q", keys)
	assert.Equal(t, 2, entries, "one entry per language: %q", keys)
	assert.LessOrEqual(t, epochs, 1, "one epoch: %q", keys)
	assert.Equal(t, 1, tags, "the route's tag: %q", keys)
	assert.LessOrEqual(t, leases, 2, "at most one lease per entry: %q", keys)
}

func TestRedisSharedByTwoApps(t *testing.T) {
	s, prefix := redisStorage(t)
	var a, b testkit.Counter
	appA, appB := fiber.New(), fiber.New()
	appA.Use(redisCache(t, WithStorage(s), WithKeyPrefix(prefix)).Handler())
	appB.Use(redisCache(t, WithStorage(s), WithKeyPrefix(prefix)).Handler())
	appA.Get("/x", a.Handler("a"))
	appB.Get("/x", b.Handler("b"))
	testkit.Do(t, appA, "GET", "/x")
	r := testkit.Do(t, appB, "GET", "/x")
	assert.Equal(t, "a#1", r.Body, "B is served what A stored")
	assert.Equal(t, "hit", r.Header.Get("X-Cache"))
	assert.Equal(t, 0, b.Runs())
}

// TestRedisGarbageIsAMiss overwrites the records of a stored response
// with garbage: the next request runs the handler and stores again, and
// the one after is a hit. Garbage never answers, and never keeps a path
// from being cached for good.
func TestRedisGarbageIsAMiss(t *testing.T) {
	s, base := redisStorage(t)
	n := 0
	kinds := map[string]func(key string) bool{
		"entry":       func(key string) bool { return strings.Contains(key, ":e:") },
		"path record": func(key string) bool { return strings.HasSuffix(key, ":p") },
		"both":        func(key string) bool { return !strings.HasSuffix(key, ":epoch") },
	}
	for _, path := range []string{"fast path", "generic path"} {
		for which, garbled := range kinds {
			n++
			prefix := fmt.Sprintf("%s%d:", base, n) // deleted with base
			t.Run(path+"/"+which, func(t *testing.T) {
				var storage fiber.Storage = s
				if path == "generic path" {
					storage = testkit.Wrap(s) // hides Conn
				}
				app := fiber.New()
				app.Use(redisCache(t, WithStorage(storage), WithKeyPrefix(prefix)).Handler())
				var k testkit.Counter
				app.Get("/x", k.Handler("x"))
				testkit.Do(t, app, "GET", "/x")
				n := 0
				for _, key := range redisKeys(t, s, prefix) {
					if garbled(key) {
						require.NoError(t, s.Set(key, []byte("not an entry"), 0))
						n++
					}
				}
				require.Positive(t, n)
				r := testkit.Do(t, app, "GET", "/x")
				assert.Equal(t, 200, r.Status)
				assert.Equal(t, "x#2", r.Body)
				r = testkit.Do(t, app, "GET", "/x")
				assert.Equal(t, "hit", r.Header.Get("X-Cache"), "the cache heals: %s", r.Header.Get("Cache-Status"))
				assert.Equal(t, "x#2", r.Body)
			})
		}
	}
}

// TestRedisGarbageEpoch: garbage in the namespace's epoch never answers
// (every request runs the handler). The cache does not heal it: it logs
// that the record must be deleted, and stays out of the way until it is.
func TestRedisGarbageEpoch(t *testing.T) {
	for _, path := range []string{"fast path", "generic path"} {
		t.Run(path, func(t *testing.T) {
			s, prefix := redisStorage(t)
			var storage fiber.Storage = s
			if path == "generic path" {
				storage = testkit.Wrap(s)
			}
			app := fiber.New()
			app.Use(redisCache(t, WithStorage(storage), WithKeyPrefix(prefix), WithStoragePause(time.Millisecond)).Handler())
			var k testkit.Counter
			app.Get("/x", k.Handler("x"))
			testkit.Do(t, app, "GET", "/x")
			require.Equal(t, "hit", testkit.Do(t, app, "GET", "/x").Header.Get("X-Cache"))
			epochKey := core.EpochKey(prefix)
			require.NoError(t, s.Set(epochKey, []byte("not an epoch"), 0))
			// The garbage is replaced by a fresh epoch: what was stored
			// before is never served again, and the cache works again.
			r := testkit.Do(t, app, "GET", "/x")
			require.Equal(t, 200, r.Status)
			require.Equal(t, "x#2", r.Body, "the handler runs")
			r = testkit.Do(t, app, "GET", "/x")
			require.Equal(t, "x#2", r.Body)
			require.Equal(t, "hit", r.Header.Get("X-Cache"), "not switched off")
			v, err := s.Get(epochKey)
			require.NoError(t, err)
			if path == "generic path" {
				require.Len(t, v, 8)
			} else {
				_, _, ok := core.ParseNamespace(v)
				require.True(t, ok, "%q", v)
			}
		})
	}
}

func TestRedisDownServesTheHandler(t *testing.T) {
	srv, err := redistest.Start()
	require.NoError(t, err)
	defer srv.Stop()
	s := redis.New(redis.Config{Addrs: []string{srv.Addr}})
	defer s.Close()
	app := fiber.New()
	app.Use(redisCache(t, WithStorage(s), WithTTL(time.Minute)).Handler())
	var k testkit.Counter
	app.Get("/x", k.Handler("x"))
	app.Delete("/x", k.Handler("deleted"))
	testkit.Do(t, app, "GET", "/x")
	assert.Equal(t, "hit", testkit.Do(t, app, "GET", "/x").Header.Get("X-Cache"))

	srv.Stop()
	for i := 0; i < 3; i++ {
		r := testkit.Do(t, app, "GET", "/x")
		assert.Equal(t, 200, r.Status)
		assert.Equal(t, "x#"+strconv.Itoa(i+2), r.Body)
	}
	assert.Equal(t, 200, testkit.Do(t, app, "DELETE", "/x").Status, "a failed invalidation does not fail the request")
}
