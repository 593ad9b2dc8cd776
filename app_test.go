package cache

import (
	"net"
	"net/http"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Issue 9: one cache.New per endpoint, invalidated from another endpoint;
// WithNext; the Cache-Status header.

func TestApp_PerEndpointCachesInvalidateEachOther(t *testing.T) {
	for _, post := range []string{"/users/:id", "/admin/users/:id"} {
		t.Run(post, func(t *testing.T) {
			var k counter
			app := fiber.New()
			// Each route its own cache.New, so its own in-process store:
			// the update reaches the GET's store through the process's
			// registry of caches.
			app.Get("/users/:id", New(), k.handler("user")).Name("user")
			app.Post(post, New(), func(c *fiber.Ctx) error {
				h, err := Helper(c)
				if err != nil {
					return err
				}
				if err := h.InvalidateRoute("user", fiber.Map{"id": c.Params("id")}); err != nil {
					return err
				}
				return c.SendStatus(fiber.StatusNoContent)
			})
			target := "/users/42"
			require.True(t, ran(t, app, &k, target))
			require.False(t, ran(t, app, &k, target))
			require.True(t, ran(t, app, &k, "/users/43"))
			update := "/users/42"
			if post != "/users/:id" {
				update = "/admin/users/42"
			}
			r := do(t, app, "POST", update)
			require.Equal(t, fiber.StatusNoContent, r.status, r.body)
			assert.True(t, ran(t, app, &k, target), "the next GET runs the handler")
			assert.False(t, ran(t, app, &k, target))
			assert.False(t, ran(t, app, &k, "/users/43"), "another user stays")
		})
	}
}

func TestApp_TwoInProcessCachesInvalidateURL(t *testing.T) {
	var a, b counter
	ca, cb := NewCache(), NewCache()
	defer ca.Close()
	defer cb.Close()
	app := fiber.New()
	app.Get("/a", ca.Handler(), a.handler("a"))
	app.Get("/b", cb.Handler(), b.handler("b"))
	for range 2 {
		do(t, app, "GET", "/a")
		do(t, app, "GET", "/b")
	}
	require.Equal(t, 1, a.runs())
	require.Equal(t, 1, b.runs())

	require.NoError(t, ca.InvalidateURL("http://example.com/b"))
	assert.Equal(t, "b#2", do(t, app, "GET", "/b").body, "ca reaches cb's store")
	assert.Equal(t, "a#1", do(t, app, "GET", "/a").body)
	require.NoError(t, cb.InvalidateURL("http://example.com/a"))
	assert.Equal(t, "a#2", do(t, app, "GET", "/a").body, "cb reaches ca's store")
	assert.Equal(t, "b#2", do(t, app, "GET", "/b").body)
}

func TestApp_InvalidateRouteReachesUnescapedParams(t *testing.T) {
	// Browsers and clients send ',' and ';' in a path as they are.
	for _, id := range []string{"a,b;c", "x;y", "p,q", "a:b@c"} {
		t.Run(id, func(t *testing.T) {
			var k counter
			c := NewCache()
			defer c.Close()
			app := fiber.New()
			app.Use(c.Handler())
			app.Get("/items/:id", func(ctx *fiber.Ctx) error { return k.handler(ctx.Params("id"))(ctx) }).Name("item")
			app.Post("/purge", func(ctx *fiber.Ctx) error {
				h, err := Helper(ctx)
				if err != nil {
					return err
				}
				if err := h.InvalidateRoute("item", fiber.Map{"id": id}); err != nil {
					return err
				}
				return ctx.SendStatus(fiber.StatusNoContent)
			})
			target := "/items/" + id
			require.Equal(t, id+"#1", do(t, app, "GET", target).body)
			require.False(t, ran(t, app, &k, target))

			require.Equal(t, fiber.StatusNoContent, do(t, app, "POST", "/purge").status)
			assert.True(t, ran(t, app, &k, target), "Helper.InvalidateRoute")
			require.False(t, ran(t, app, &k, target))
			require.NoError(t, c.InvalidateRoute(app, "http://example.com", "item", fiber.Map{"id": id}))
			assert.True(t, ran(t, app, &k, target), "Cache.InvalidateRoute")
		})
	}
}

func TestApp_WithNextSkips(t *testing.T) {
	var k counter
	app := fiber.New()
	app.Use(New(WithTTL(time.Minute), WithNext(func(c *fiber.Ctx) bool { return c.Get("X-No-Cache") != "" })))
	app.Get("/x", k.handler("x"))
	for i := 1; i <= 3; i++ {
		r := do(t, app, "GET", "/x", "X-No-Cache: 1")
		assert.Equal(t, "x#"+itoa(i), r.body, "the handler runs every time")
		assert.Equal(t, "fibercache; fwd=bypass; detail=skip", r.header.Get("Cache-Status"))
		assert.Equal(t, "", r.header.Get("X-Cache"))
	}
	// Skipped requests stored nothing; the others are cached.
	assert.Equal(t, "miss", do(t, app, "GET", "/x").header.Get("X-Cache"))
	assert.Equal(t, "hit", do(t, app, "GET", "/x").header.Get("X-Cache"))
	assert.Equal(t, "x#5", do(t, app, "GET", "/x", "X-No-Cache: 1").body, "a skipped request is never answered from the cache")
	assert.Equal(t, 5, k.runs())
}

// concurrent sends n GETs of target at once, the first alone until the
// handler has started, and returns what each got.
func concurrent(t *testing.T, app *fiber.App, n int, started <-chan struct{}, target string) []result {
	t.Helper()
	out := make([]result, n)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); out[0] = do(t, app, "GET", target) }()
	<-started
	for i := 1; i < n; i++ {
		wg.Add(1)
		go func(i int) { defer wg.Done(); out[i] = do(t, app, "GET", target) }(i)
	}
	wg.Wait()
	return out
}

func TestApp_CacheStatus(t *testing.T) {
	var k counter
	started := make(chan struct{})
	j := newJoins()
	app := fiber.New()
	app.Use(New(WithTTL(time.Minute), WithObserver(j), WithRules(Rule{Match: []string{"/x", "/nostore", "/slow"}})))
	app.Get("/x", k.handler("x"))
	app.Get("/nostore", k.handler("n", header("Cache-Control", "no-store")))
	app.Get("/norule", k.handler("r"))
	app.Get("/slow", slowHandler(&k, started, j, 4))

	cases := []struct {
		name, target   string
		status, xcache string
	}{
		{"stored miss", "/x", `^fibercache; fwd=uri-miss; stored$`, "miss"},
		{"hit", "/x", `^fibercache; hit; ttl=(59|60)$`, "hit"},
		{"not stored", "/nostore", `^fibercache; fwd=uri-miss; detail=no_store$`, ""},
		{"not stored again", "/nostore", `^fibercache; fwd=uri-miss; detail=no_store$`, ""},
		{"bypass", "/norule", `^fibercache; fwd=bypass; detail=no_rule$`, ""},
	}
	for _, tc := range cases {
		r := do(t, app, "GET", tc.target)
		assert.Regexp(t, regexp.MustCompile(tc.status), r.header.Get("Cache-Status"), tc.name)
		assert.Equal(t, tc.xcache, r.header.Get("X-Cache"), tc.name)
	}

	rs := concurrent(t, app, 5, started, "/slow")
	got := map[string]int{}
	for _, r := range rs {
		got[r.header.Get("Cache-Status")+" | "+r.header.Get("X-Cache")]++
	}
	assert.Equal(t, map[string]int{
		"fibercache; fwd=uri-miss; stored | miss":   1,
		"fibercache; fwd=uri-miss; collapsed | hit": 4,
	}, got, "one leader, four collapsed followers")

	// WithCacheStatus(false) leaves it out; X-Cache stays.
	app2 := fiber.New()
	app2.Use(New(WithCacheStatus(false)))
	app2.Get("/x", k.handler("x"))
	for _, want := range []string{"miss", "hit"} {
		r := do(t, app2, "GET", "/x")
		assert.Empty(t, r.header.Values("Cache-Status"))
		assert.Equal(t, want, r.header.Get("X-Cache"))
	}
}

// TestApp_RealListener runs the per-endpoint shape over a real connection:
// what a client sees, not only what app.Test shows.
func TestApp_RealListener(t *testing.T) {
	var k counter
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Get("/users/:id", New(), k.handler("user")).Name("user")
	app.Put("/users/:id", New(), func(c *fiber.Ctx) error {
		h, err := Helper(c)
		if err != nil {
			return err
		}
		if err := h.InvalidateRoute("user", fiber.Map{"id": c.Params("id")}); err != nil {
			return err
		}
		return c.SendStatus(fiber.StatusNoContent)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = app.Listener(ln) }()
	defer func() { _ = app.Shutdown() }()
	base := "http://" + ln.Addr().String()
	send := func(method, path string) *http.Response {
		t.Helper()
		req, err := http.NewRequest(method, base+path, nil)
		require.NoError(t, err)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
		return resp
	}
	assert.Equal(t, "miss", send("GET", "/users/42").Header.Get("X-Cache"))
	assert.Equal(t, "hit", send("GET", "/users/42/").Header.Get("X-Cache"))
	assert.Equal(t, "hit", send("GET", "/USERS/42").Header.Get("X-Cache"))
	assert.Equal(t, 1, k.runs())
	assert.Equal(t, fiber.StatusNoContent, send("PUT", "/users/42").StatusCode)
	assert.Equal(t, "miss", send("GET", "/Users/42/").Header.Get("X-Cache"))
	assert.Equal(t, 2, k.runs())
}
