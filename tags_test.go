package cache

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fiber-caches/cache/internal/core"
	"github.com/fiber-caches/cache/internal/core/redistest"
	"github.com/fiber-caches/cache/internal/testkit"
	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/storage/redis/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/valyala/fasthttp"
)

// tagShop is a catalogue: /products/:id tags its page with Tag
// ("product:<id>", "list"), /list names "list" in Surrogate-Key, /about
// carries no tag of the app's.
type tagShop struct {
	app  *fiber.App
	m    *Cache
	runs map[string]*atomic.Int64
}

func newTagShop(t *testing.T, b testBackend, opts ...Option) *tagShop {
	t.Helper()
	s := &tagShop{m: newTestCache(t, b, append([]Option{WithTTL(time.Hour)}, opts...)...), runs: map[string]*atomic.Int64{}}
	for _, p := range []string{"/products/1", "/products/2", "/list", "/about"} {
		s.runs[p] = &atomic.Int64{}
	}
	s.app = fiber.New()
	s.app.Use(s.m.Handler())
	count := func(c *fiber.Ctx) { s.runs[c.Path()].Add(1) }
	s.app.Get("/products/:id", func(c *fiber.Ctx) error {
		count(c)
		Tag(c, "product:"+c.Params("id"))
		Tag(c, "list")
		return c.SendString("product " + c.Params("id"))
	}).Name("product")
	s.app.Get("/list", func(c *fiber.Ctx) error {
		count(c)
		c.Set("Surrogate-Key", "list")
		return c.SendString("list")
	})
	s.app.Get("/about", func(c *fiber.Ctx) error { count(c); return c.SendString("about") })
	s.app.Post("/hook", func(c *fiber.Ctx) error {
		h, err := Helper(c)
		if err != nil {
			return err
		}
		return h.InvalidateTags(strings.Split(c.Query("tags"), ",")...)
	})
	return s
}

// ran reports whether GET path ran its handler.
func (s *tagShop) ran(t *testing.T, path string) bool {
	t.Helper()
	before := s.runs[path].Load()
	r := testkit.Do(t, s.app, "GET", path)
	require.Equal(t, 200, r.Status)
	return s.runs[path].Load() > before
}

func (s *tagShop) warm(t *testing.T) {
	t.Helper()
	for _, p := range []string{"/products/1", "/products/2", "/list", "/about"} {
		s.ran(t, p)
		require.False(t, s.ran(t, p), "%s is stored", p)
	}
}

// InvalidateTags invalidates exactly the entries carrying a tag, every
// backend, from outside a request and through Helper.
func TestTags_InvalidateTags(t *testing.T) {
	for _, b := range everyBackend() {
		t.Run(b.name, func(t *testing.T) {
			s := newTagShop(t, b, WithClockSkew(0))
			s.warm(t)
			require.NoError(t, s.m.InvalidateTags("product:1"))
			assert.True(t, s.ran(t, "/products/1"), "tagged product:1")
			for _, p := range []string{"/products/2", "/list", "/about"} {
				assert.False(t, s.ran(t, p), "%s is not tagged product:1", p)
			}
			require.Equal(t, 200, testkit.Do(t, s.app, "POST", "/hook?tags=list,nothing").Status)
			for _, p := range []string{"/products/1", "/products/2", "/list"} {
				assert.True(t, s.ran(t, p), "%s is tagged list (Tag or Surrogate-Key)", p)
			}
			assert.False(t, s.ran(t, "/about"))
		})
	}
}

// An invalidation through one instance reaches what another stored.
func TestTags_TwoInstances(t *testing.T) {
	st, prefix := redisStorage(t)
	opts := []Option{WithStorage(st), WithKeyPrefix(prefix), WithStorageTimeout(testkit.StorageTimeout)}
	a := newTagShop(t, everyBackend()[0], opts...)
	bOther := newTagShop(t, everyBackend()[0], opts...)
	a.warm(t)
	require.False(t, bOther.ran(t, "/products/1"), "B answers what A stored")
	require.NoError(t, bOther.m.InvalidateTags("list"))
	assert.True(t, a.ran(t, "/products/1"))
	assert.True(t, a.ran(t, "/list"))
	assert.False(t, a.ran(t, "/about"))
}

// The Surrogate-Key header is the cache's business: it never reaches
// clients, unless WithSurrogateKeyHeader says so, then listing every tag
// of the app's (Tag's and the header's), on the miss and on hits.
func TestTags_SurrogateKeyHeader(t *testing.T) {
	for _, keep := range []bool{false, true} {
		t.Run(fmt.Sprint(keep), func(t *testing.T) {
			s := newTagShop(t, everyBackend()[0], WithSurrogateKeyHeader(keep))
			s.app.Get("/both", func(c *fiber.Ctx) error {
				Tag(c, "b")
				c.Set("Surrogate-Key", "c a")
				return c.SendString("both")
			})
			for range 2 {
				r := testkit.Do(t, s.app, "GET", "/both")
				if keep {
					assert.Equal(t, []string{"a b c"}, r.Header.Values("Surrogate-Key"))
				} else {
					assert.Empty(t, r.Header.Values("Surrogate-Key"))
				}
				r = testkit.Do(t, s.app, "GET", "/list")
				if !keep {
					assert.Empty(t, r.Header.Values("Surrogate-Key"))
				}
			}
		})
	}
}

// Hostile or mistaken tags: the response is served but not stored, and
// says why; InvalidateTags refuses what can never be a tag, and
// invalidates nothing then.
func TestTags_Invalid(t *testing.T) {
	many := make([]string, MaxTags+1)
	for i := range many {
		many[i] = fmt.Sprintf("t%d", i)
	}
	for name, tags := range map[string][]string{
		"empty":      {""},
		"space":      {"a b"},
		"CR LF":      {"a\r\nSet-Cookie: x=1"},
		"comma":      {"a,b"},
		"reserved":   {"fc:route:/x"},
		"too long":   {strings.Repeat("t", MaxTagLength+1)},
		"too many":   many,
		"header too": nil,
	} {
		t.Run(name, func(t *testing.T) {
			var runs testkit.Counter
			app := fiber.New()
			app.Use(newTestCache(t, everyBackend()[0]).Handler())
			app.Get("/p", runs.Handler("p", func(c *fiber.Ctx) {
				if tags == nil {
					c.Set("Surrogate-Key", strings.Join(many, " "))
				}
				Tag(c, tags...)
			}))
			r := testkit.Do(t, app, "GET", "/p")
			assert.Equal(t, 200, r.Status)
			assert.Contains(t, r.Header.Get("Cache-Status"), "detail=invalid_tags")
			testkit.Do(t, app, "GET", "/p")
			assert.Equal(t, 2, runs.Runs(), "not stored")
		})
	}
	m := newTestCache(t, everyBackend()[0])
	for _, tag := range []string{"", "a b", "a\nb", "fc:x", strings.Repeat("t", MaxTagLength+1)} {
		assert.Error(t, m.InvalidateTags("ok", tag), "%q", tag)
		assert.Error(t, m.ExpireTags(tag), "%q", tag)
	}
}

// ExpireTags (a soft purge) makes the tag's entries stale, not gone: one
// with a stale-while-revalidate window (or WithGrace) is served at once
// while one request refreshes it; one without is fetched again. Every
// backend.
func TestTags_ExpireTags(t *testing.T) {
	for _, b := range everyBackend() {
		t.Run(b.name, func(t *testing.T) {
			var runs atomic.Int64
			m := newTestCache(t, b, WithTTL(time.Hour), WithClockSkew(0))
			app := fiber.New()
			app.Use(m.Handler())
			app.Get("/swr", func(c *fiber.Ctx) error {
				n := runs.Add(1)
				Tag(c, "news")
				c.Set("Cache-Control", "max-age=600, stale-while-revalidate=60")
				return c.SendString(fmt.Sprintf("v%d", n))
			})
			app.Get("/plain", func(c *fiber.Ctx) error {
				runs.Add(1)
				Tag(c, "news")
				return c.SendString("plain")
			})
			testkit.Do(t, app, "GET", "/swr")
			testkit.Do(t, app, "GET", "/plain")
			require.EqualValues(t, 2, runs.Load())
			require.NoError(t, m.ExpireTags("news"))

			r := testkit.Do(t, app, "GET", "/swr")
			assert.Equal(t, "v1", r.Body, "served stale at once")
			assert.Contains(t, r.Header.Get("Cache-Status"), "detail=stale")
			require.Eventually(t, func() bool {
				r := testkit.Do(t, app, "GET", "/swr")
				return r.Body != "v1" && !strings.Contains(r.Header.Get("Cache-Status"), "stale")
			}, 5*time.Second, 5*time.Millisecond, "a background refresh replaces it")
			// One refresh, but for a stale request whose lookup came before
			// that refresh stored and its own refresh after: then two.
			refreshes := runs.Load() - 2
			assert.Contains(t, []int64{1, 2}, refreshes, "background refreshes")
			r = testkit.Do(t, app, "GET", "/swr")
			assert.Equal(t, "hit", r.Header.Get("X-Cache"))
			assert.NotContains(t, r.Header.Get("Cache-Status"), "stale", "fresh again")

			testkit.Do(t, app, "GET", "/plain")
			assert.EqualValues(t, 2+refreshes+1, runs.Load(), "no stale window: fetched again")
		})
	}
}

// A revalidation's 304 keeps the tags of what it confirms, even when its
// handler does not tag the 304 again.
func TestTags_KeptThroughRevalidation(t *testing.T) {
	for _, b := range everyBackend() {
		t.Run(b.name, func(t *testing.T) {
			clock := newFakeClock()
			var runs atomic.Int64
			m := newTestCache(t, b, WithTTL(time.Hour), withClock(clock.now), WithClockSkew(0))
			app := fiber.New()
			app.Use(m.Handler())
			app.Get("/p", func(c *fiber.Ctx) error {
				runs.Add(1)
				c.Set("ETag", `"v1"`)
				if c.Get("If-None-Match") == `"v1"` {
					return c.SendStatus(fiber.StatusNotModified)
				}
				Tag(c, "product:9")
				c.Set("Cache-Control", "max-age=10")
				return c.SendString("body")
			})
			testkit.Do(t, app, "GET", "/p")
			clock.advance(15 * time.Second)
			require.Contains(t, testkit.Do(t, app, "GET", "/p").Header.Get("Cache-Status"), "fwd-status=304; stored")
			require.Equal(t, "hit", testkit.Do(t, app, "GET", "/p").Header.Get("X-Cache"))
			require.NoError(t, m.InvalidateTags("product:9"))
			testkit.Do(t, app, "GET", "/p")
			assert.EqualValues(t, 3, runs.Load(), "the revalidated entry still carried product:9")
		})
	}
}

// One invalidation costs a constant number of storage operations,
// whatever the number of entries carrying the tag: no index of keys, no
// scan. 10,000 tagged entries on a plain fiber.Storage and on Redis.
func TestTags_ConstantStorageOps(t *testing.T) {
	t.Parallel() // long: main_test.go
	const n = 10000
	// Straight through the app's handler, as fasthttp's server calls it:
	// 20,000 requests through app.Test would take most of this test's time.
	do := func(app *fiber.App, i int) (status int, xCache, cacheStatus string) {
		ctx := new(fasthttp.RequestCtx)
		ctx.Request.Header.SetMethod("GET")
		ctx.Request.SetRequestURI(fmt.Sprintf("/items/%d", i))
		ctx.Request.Header.SetHost("example.com")
		app.Handler()(ctx)
		return ctx.Response.StatusCode(), string(ctx.Response.Header.Peek("X-Cache")), string(ctx.Response.Header.Peek("Cache-Status"))
	}
	serve := func(t *testing.T, app *fiber.App, i int) string {
		t.Helper()
		status, xCache, _ := do(app, i)
		require.Equal(t, 200, status)
		return xCache
	}
	newApp := func(t *testing.T, opts ...Option) *fiber.App {
		app := fiber.New()
		m := newTestCache(t, everyBackend()[0], append(opts, WithTTL(time.Hour), WithClockSkew(0))...)
		Isolate(m) // the test runs in parallel: main_test.go
		app.Use(m.Handler())
		app.Get("/items/:id", func(c *fiber.Ctx) error {
			Tag(c, "catalogue")
			return c.SendString(c.Params("id"))
		})
		return app
	}
	// fill stores the n entries, four requests at a time.
	fill := func(t *testing.T, app *fiber.App) {
		var wg sync.WaitGroup
		var stored atomic.Int64
		var mu sync.Mutex
		var others []string
		for w := range 4 {
			wg.Go(func() {
				for i := w; i < n; i += 4 {
					if status, xCache, cacheStatus := do(app, i); status == 200 && xCache == "miss" {
						stored.Add(1)
					} else {
						mu.Lock()
						others = append(others, fmt.Sprintf("/items/%d: %d %q", i, status, cacheStatus))
						mu.Unlock()
					}
				}
			})
		}
		wg.Wait()
		require.EqualValues(t, n, stored.Load(), "every entry stored; not: %v", others)
	}
	t.Run("storage", func(t *testing.T) {
		s := testkit.NewStorage()
		app := newApp(t, WithStorage(s), WithStorageTimeout(testkit.StorageTimeout))
		fill(t, app)
		m := NewCache(WithStorage(s), WithStorageTimeout(testkit.StorageTimeout))
		defer m.Close()
		Isolate(m)
		s.TakeCounts()
		require.NoError(t, m.InvalidateTags("catalogue"))
		c := s.TakeCounts()
		assert.LessOrEqual(t, c.Gets+c.Sets+c.Deletes, int64(2), "one read and one write of the tag's record: %+v", c)
		for i := 0; i < n; i += n / 50 {
			assert.Equal(t, "miss", serve(t, app, i), "entry %d", i)
		}
	})
	t.Run("redis", func(t *testing.T) {
		st, prefix := redisStorage(t)
		app := newApp(t, WithStorage(st), WithKeyPrefix(prefix), WithStorageTimeout(testkit.StorageTimeout))
		fill(t, app)
		rs := redis.New(redis.Config{Addrs: []string{redistest.Addr(t)}})
		defer rs.Close()
		rt := &redistest.RoundTrips{}
		rs.Conn().AddHook(rt)
		m := NewCache(WithStorage(rs), WithKeyPrefix(prefix), WithStorageTimeout(testkit.StorageTimeout))
		defer m.Close()
		Isolate(m)
		rt.Take()
		require.NoError(t, m.InvalidateTags("catalogue"))
		assert.EqualValues(t, 1, rt.Take(), "one round trip (one script call)")
		for i := 0; i < n; i += n / 50 {
			assert.Equal(t, "miss", serve(t, app, i), "entry %d", i)
		}
	})
}

// Nothing accumulates in Redis per tag without a TTL, however many are
// invalidated: a tag record written by an invalidation lives a few
// minutes, one written for an entry as long as the entry.
func TestTags_RedisRecordsExpire(t *testing.T) {
	st, prefix := redisStorage(t)
	m := newTestCache(t, testBackend{"redis", func(*testing.T) []Option {
		return []Option{WithStorage(st), WithKeyPrefix(prefix), WithStorageTimeout(testkit.StorageTimeout)}
	}}, WithTTL(time.Minute))
	for i := range 1000 {
		require.NoError(t, m.InvalidateTags(fmt.Sprintf("never-used-%d", i)))
	}
	app := fiber.New()
	app.Use(m.Handler())
	app.Get("/p", func(c *fiber.Ctx) error { Tag(c, "used"); return c.SendString("p") })
	testkit.Do(t, app, "GET", "/p")
	keys := redisKeys(t, st, prefix)
	require.Greater(t, len(keys), 1000)
	for _, k := range keys {
		ttl, err := st.Conn().PTTL(context.Background(), k).Result()
		require.NoError(t, err)
		if strings.HasSuffix(k, ":epoch") {
			continue // the namespace record: one per namespace
		}
		require.Greater(t, ttl, time.Duration(0), "every key expires: %s", k)
		assert.LessOrEqual(t, ttl, core.TagRecordMinTTL, k)
	}
}
