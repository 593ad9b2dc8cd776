package cache

import (
	"net"
	"net/http"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/fiber-caches/cache/internal/testkit"
	"github.com/gofiber/fiber/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Issue 9: one cache.New per endpoint, invalidated from another endpoint;
// WithNext; the Cache-Status header.

func TestApp_PerEndpointCachesInvalidateEachOther(t *testing.T) {
	for _, post := range []string{"/users/:id", "/admin/users/:id"} {
		t.Run(post, func(t *testing.T) {
			var k testkit.Counter
			app := fiber.New()
			// Each route its own cache.New, so its own in-process store:
			// the update reaches the GET's store through the process's
			// registry of caches.
			app.Get("/users/:id", New(), k.Handler("user")).Name("user")
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
			require.True(t, k.Ran(t, app, target))
			require.False(t, k.Ran(t, app, target))
			require.True(t, k.Ran(t, app, "/users/43"))
			update := "/users/42"
			if post != "/users/:id" {
				update = "/admin/users/42"
			}
			r := testkit.Do(t, app, "POST", update)
			require.Equal(t, fiber.StatusNoContent, r.Status, r.Body)
			assert.True(t, k.Ran(t, app, target), "the next GET runs the handler")
			assert.False(t, k.Ran(t, app, target))
			assert.False(t, k.Ran(t, app, "/users/43"), "another user stays")
		})
	}
}

func TestApp_TwoInProcessCachesInvalidateURL(t *testing.T) {
	var a, b testkit.Counter
	ca, cb := NewCache(), NewCache()
	defer ca.Close()
	defer cb.Close()
	app := fiber.New()
	app.Get("/a", ca.Handler(), a.Handler("a"))
	app.Get("/b", cb.Handler(), b.Handler("b"))
	for range 2 {
		testkit.Do(t, app, "GET", "/a")
		testkit.Do(t, app, "GET", "/b")
	}
	require.Equal(t, 1, a.Runs())
	require.Equal(t, 1, b.Runs())

	require.NoError(t, ca.InvalidateURL("http://example.com/b"))
	assert.Equal(t, "b#2", testkit.Do(t, app, "GET", "/b").Body, "ca reaches cb's store")
	assert.Equal(t, "a#1", testkit.Do(t, app, "GET", "/a").Body)
	require.NoError(t, cb.InvalidateURL("http://example.com/a"))
	assert.Equal(t, "a#2", testkit.Do(t, app, "GET", "/a").Body, "cb reaches ca's store")
	assert.Equal(t, "b#2", testkit.Do(t, app, "GET", "/b").Body)
}

func TestApp_InvalidateRouteReachesUnescapedParams(t *testing.T) {
	// Browsers and clients send ',' and ';' in a path as they are.
	for _, id := range []string{"a,b;c", "x;y", "p,q", "a:b@c"} {
		t.Run(id, func(t *testing.T) {
			var k testkit.Counter
			c := NewCache()
			defer c.Close()
			app := fiber.New()
			app.Use(c.Handler())
			app.Get("/items/:id", func(ctx *fiber.Ctx) error { return k.Handler(ctx.Params("id"))(ctx) }).Name("item")
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
			require.Equal(t, id+"#1", testkit.Do(t, app, "GET", target).Body)
			require.False(t, k.Ran(t, app, target))

			require.Equal(t, fiber.StatusNoContent, testkit.Do(t, app, "POST", "/purge").Status)
			assert.True(t, k.Ran(t, app, target), "Helper.InvalidateRoute")
			require.False(t, k.Ran(t, app, target))
			require.NoError(t, c.InvalidateRoute(app, "http://example.com", "item", fiber.Map{"id": id}))
			assert.True(t, k.Ran(t, app, target), "Cache.InvalidateRoute")
		})
	}
}

func TestApp_WithNextSkips(t *testing.T) {
	var k testkit.Counter
	app := fiber.New()
	app.Use(New(WithTTL(time.Minute), WithNext(func(c *fiber.Ctx) bool { return c.Get("X-No-Cache") != "" })))
	app.Get("/x", k.Handler("x"))
	for i := 1; i <= 3; i++ {
		r := testkit.Do(t, app, "GET", "/x", "X-No-Cache: 1")
		assert.Equal(t, "x#"+strconv.Itoa(i), r.Body, "the handler runs every time")
		assert.Equal(t, "fibercache; fwd=bypass; detail=skip", r.Header.Get("Cache-Status"))
		assert.Equal(t, "", r.Header.Get("X-Cache"))
	}
	// Skipped requests stored nothing; the others are cached.
	assert.Equal(t, "miss", testkit.Do(t, app, "GET", "/x").Header.Get("X-Cache"))
	assert.Equal(t, "hit", testkit.Do(t, app, "GET", "/x").Header.Get("X-Cache"))
	assert.Equal(t, "x#5", testkit.Do(t, app, "GET", "/x", "X-No-Cache: 1").Body, "a skipped request is never answered from the cache")
	assert.Equal(t, 5, k.Runs())
}

func TestApp_CacheStatus(t *testing.T) {
	var k testkit.Counter
	started := make(chan struct{})
	j := newJoins()
	app := fiber.New()
	app.Use(New(WithTTL(time.Minute), WithObserver(j), WithRules(Rule{Match: []string{"/x", "/nostore", "/slow"}})))
	app.Get("/x", k.Handler("x"))
	app.Get("/nostore", k.Handler("n", testkit.Header("Cache-Control", "no-store")))
	app.Get("/norule", k.Handler("r"))
	app.Get("/slow", slowHandler(&k, started, j, 4))
	app.Post("/x", k.Handler("post"))

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
		r := testkit.Do(t, app, "GET", tc.target)
		assert.Regexp(t, regexp.MustCompile(tc.status), r.Header.Get("Cache-Status"), tc.name)
		assert.Equal(t, tc.xcache, r.Header.Get("X-Cache"), tc.name)
	}
	// Other methods are neither looked up nor stored: no status header.
	r := testkit.Do(t, app, "POST", "/x")
	assert.Equal(t, fiber.StatusOK, r.Status)
	assert.Empty(t, r.Header.Values("Cache-Status"), "POST")
	assert.Empty(t, r.Header.Values("X-Cache"), "POST")

	rs := testkit.Burst(t, app, 5, started, "/slow")
	got := map[string]int{}
	for _, r := range rs {
		got[r.Header.Get("Cache-Status")+" | "+r.Header.Get("X-Cache")]++
	}
	assert.Equal(t, map[string]int{
		"fibercache; fwd=uri-miss; stored | miss":   1,
		"fibercache; fwd=uri-miss; collapsed | hit": 4,
	}, got, "one leader, four collapsed followers")

	// WithCacheStatus(false) leaves it out; X-Cache stays.
	app2 := fiber.New()
	app2.Use(New(WithCacheStatus(false)))
	app2.Get("/x", k.Handler("x"))
	for _, want := range []string{"miss", "hit"} {
		r := testkit.Do(t, app2, "GET", "/x")
		assert.Empty(t, r.Header.Values("Cache-Status"))
		assert.Equal(t, want, r.Header.Get("X-Cache"))
	}
}

// TestApp_RealListener runs the per-endpoint shape over a real connection:
// what a client sees, not only what app.Test shows.
func TestApp_RealListener(t *testing.T) {
	var k testkit.Counter
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Get("/users/:id", New(), k.Handler("user")).Name("user")
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
	assert.Equal(t, 1, k.Runs())
	assert.Equal(t, fiber.StatusNoContent, send("PUT", "/users/42").StatusCode)
	assert.Equal(t, "miss", send("GET", "/Users/42/").Header.Get("X-Cache"))
	assert.Equal(t, 2, k.Runs())
}
