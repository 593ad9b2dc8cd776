package cache

import (
	"testing"

	"github.com/fiber-caches/cache/internal/testkit"
	"github.com/gofiber/fiber/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Issue 9: the key is the path as the app's router matches it, plus the
// query (WithQueryIgnore, WithQuerySort) and what WithKeyFunc appends.

// userApp is an app behind one cache with GET and PUT on route (a Fiber
// route path), the GET handler counting its runs.
func userApp(cfg fiber.Config, route string, opts ...Option) (*fiber.App, *testkit.Counter) {
	var k testkit.Counter
	app := fiber.New(cfg)
	app.Use(New(opts...))
	app.Get(route, k.Handler("user"))
	app.Put(route, func(c *fiber.Ctx) error { return c.SendStatus(fiber.StatusNoContent) })
	return app, &k
}

func TestKeys_RoutedPathVariantsShareAnEntryAndAnInvalidation(t *testing.T) {
	// Fiber routes all four to GET /users/:id by default.
	variants := []string{"/users/42", "/users/42/", "/Users/42", "/users/42?utm=x"}
	app, k := userApp(fiber.Config{}, "/users/:id")

	assert.True(t, k.Ran(t, app, "/users/42"))
	assert.False(t, k.Ran(t, app, "/users/42/"), "a trailing slash routes to the same handler")
	assert.False(t, k.Ran(t, app, "/Users/42"), "so does another case")
	assert.Equal(t, 1, k.Runs(), "the first three share one entry")
	assert.True(t, k.Ran(t, app, "/users/42?utm=x"), "a query is another entry")

	// A successful PUT /users/42 reaches each of them.
	for _, v := range variants {
		t.Run(v, func(t *testing.T) {
			for _, w := range variants {
				testkit.Do(t, app, "GET", w)
			}
			require.False(t, k.Ran(t, app, v), "warm")
			require.Equal(t, fiber.StatusNoContent, testkit.Do(t, app, "PUT", "/users/42").Status)
			assert.True(t, k.Ran(t, app, v), "GET %s after PUT /users/42", v)
		})
	}
}

func TestKeys_RouterConfig(t *testing.T) {
	cases := []struct {
		name   string
		cfg    fiber.Config
		first  string
		second string
		shared bool
	}{
		{"default: case folded", fiber.Config{}, "/users/42", "/Users/42", true},
		{"CaseSensitive", fiber.Config{CaseSensitive: true}, "/users/42", "/Users/42", false},
		{"default: trailing slash dropped", fiber.Config{}, "/users/42", "/users/42/", true},
		{"StrictRouting", fiber.Config{StrictRouting: true}, "/users/42", "/users/42/", false},
		{"default: escapes as sent", fiber.Config{}, "/users/42", "/users/%34%32", false},
		{"UnescapePath", fiber.Config{UnescapePath: true}, "/users/42", "/users/%34%32", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// A wildcard route, so the router sends both requests to the
			// handler whatever its configuration.
			app, k := userApp(tc.cfg, "/*")
			require.True(t, k.Ran(t, app, tc.first))
			require.False(t, k.Ran(t, app, tc.first))
			assert.Equal(t, !tc.shared, k.Ran(t, app, tc.second), "%s after %s", tc.second, tc.first)
			assert.False(t, k.Ran(t, app, tc.second))
			if tc.shared {
				// One path: one PUT invalidates both spellings.
				require.Equal(t, fiber.StatusNoContent, testkit.Do(t, app, "PUT", tc.first).Status)
				assert.True(t, k.Ran(t, app, tc.second))
			}
		})
	}
	t.Run("UnescapePath, named route", func(t *testing.T) {
		app, k := userApp(fiber.Config{UnescapePath: true}, "/users/:id")
		require.True(t, k.Ran(t, app, "/users/42"))
		assert.False(t, k.Ran(t, app, "/users/%34%32"))
		require.Equal(t, fiber.StatusNoContent, testkit.Do(t, app, "PUT", "/users/%34%32").Status)
		assert.True(t, k.Ran(t, app, "/users/42"))
	})
}

func TestKeys_QueryOptions(t *testing.T) {
	cases := []struct {
		name    string
		opts    []Option
		targets []string
		runs    int
	}{
		{"ignore", []Option{WithQueryIgnore("utm_*", "fbclid")},
			[]string{"/p?x=1", "/p?utm_source=a&x=1", "/p?x=1&fbclid=z", "/p?utm_medium=b&x=1&utm_source=c&fbclid=d"}, 1},
		{"ignore keeps the rest", []Option{WithQueryIgnore("utm_*", "fbclid")},
			[]string{"/p?x=1", "/p?x=2&utm_source=a", "/p?x=1&y=2&fbclid=z", "/p?utm=x&x=1", "/p?xfbclid=1&x=1"}, 5},
		{"ignore matches decoded names", []Option{WithQueryIgnore("utm_*")},
			[]string{"/p?x=1", "/p?utm%5Fsource=a&x=1"}, 1},
		{"no ignore", nil, []string{"/p?x=1", "/p?utm_source=a&x=1", "/p?x=1&fbclid=z"}, 3},
		{"sort", []Option{WithQuerySort()}, []string{"/p?a=1&b=2", "/p?b=2&a=1"}, 1},
		{"sort keeps repeated names in order", []Option{WithQuerySort()}, []string{"/p?a=1&a=2&b=3", "/p?b=3&a=1&a=2", "/p?a=2&a=1&b=3"}, 2},
		// "a+b" and "a%20b" are one name to the handler, as are "%61" and
		// "a": their order is what c.Query reads first.
		{"sort keeps repeated names in order, however spelled", []Option{WithQuerySort()},
			[]string{"/p?a+b=1&a%20b=2", "/p?a%20b=2&a+b=1", "/p?%61=1&a=2", "/p?a=2&%61=1"}, 4},
		{"no sort", nil, []string{"/p?a=1&b=2", "/p?b=2&a=1"}, 2},
		{"ignore and sort", []Option{WithQuerySort(), WithQueryIgnore("fbclid")}, []string{"/p?a=1&b=2", "/p?fbclid=1&b=2&a=1"}, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var k testkit.Counter
			app := fiber.New()
			app.Use(New(tc.opts...))
			app.Get("/p", func(c *fiber.Ctx) error { return k.Handler(string(c.Request().URI().QueryString()))(c) })
			for range 2 {
				for _, u := range tc.targets {
					testkit.Do(t, app, "GET", u)
				}
			}
			assert.Equal(t, tc.runs, k.Runs())
		})
	}
}

// tenantKey adds the X-Tenant request header to the key.
func tenantKey(c *fiber.Ctx, key []byte) []byte { return append(key, c.Get("X-Tenant")...) }

func TestKeys_KeyFuncSeparatesTenants(t *testing.T) {
	var k testkit.Counter
	app := fiber.New()
	app.Use(New(WithKeyFunc(tenantKey)))
	app.Get("/p", func(c *fiber.Ctx) error { return k.Handler("tenant " + c.Get("X-Tenant"))(c) })
	assert.Equal(t, "tenant a#1", testkit.Do(t, app, "GET", "/p", "X-Tenant: a").Body)
	assert.Equal(t, "tenant b#2", testkit.Do(t, app, "GET", "/p", "X-Tenant: b").Body)
	assert.Equal(t, "tenant a#1", testkit.Do(t, app, "GET", "/p", "X-Tenant: a").Body)
	assert.Equal(t, "tenant b#2", testkit.Do(t, app, "GET", "/p", "X-Tenant: b").Body)
	assert.Equal(t, "tenant #3", testkit.Do(t, app, "GET", "/p").Body)
	assert.Equal(t, 3, k.Runs())

	// An invalidation of the path reaches every tenant.
	app.Put("/p", func(c *fiber.Ctx) error { return c.SendStatus(fiber.StatusNoContent) })
	testkit.Do(t, app, "PUT", "/p")
	assert.Equal(t, "tenant a#4", testkit.Do(t, app, "GET", "/p", "X-Tenant: a").Body)
	assert.Equal(t, "tenant b#5", testkit.Do(t, app, "GET", "/p", "X-Tenant: b").Body)
}
