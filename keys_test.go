package cache

import (
	"testing"

	"github.com/gofiber/fiber/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Issue 9: the key is the path as the app's router matches it, plus the
// query (WithQueryIgnore, WithQuerySort) and what WithKeyFunc appends.

// userApp is an app behind one cache with GET and PUT on route (a Fiber
// route path), the GET handler counting its runs.
func userApp(cfg fiber.Config, route string, opts ...Option) (*fiber.App, *counter) {
	var k counter
	app := fiber.New(cfg)
	app.Use(New(opts...))
	app.Get(route, k.handler("user"))
	app.Put(route, func(c *fiber.Ctx) error { return c.SendStatus(fiber.StatusNoContent) })
	return app, &k
}

// ran reports whether a GET of target ran the handler k counts.
func ran(t *testing.T, app *fiber.App, k *counter, target string, headers ...string) bool {
	t.Helper()
	before := k.runs()
	r := do(t, app, "GET", target, headers...)
	require.Equal(t, 200, r.status, "GET %s: %s", target, r.body)
	return k.runs() > before
}

func TestKeys_RoutedPathVariantsShareAnEntryAndAnInvalidation(t *testing.T) {
	// Fiber routes all four to GET /users/:id by default.
	variants := []string{"/users/42", "/users/42/", "/Users/42", "/users/42?utm=x"}
	app, k := userApp(fiber.Config{}, "/users/:id")

	assert.True(t, ran(t, app, k, "/users/42"))
	assert.False(t, ran(t, app, k, "/users/42/"), "a trailing slash routes to the same handler")
	assert.False(t, ran(t, app, k, "/Users/42"), "so does another case")
	assert.Equal(t, 1, k.runs(), "the first three share one entry")
	assert.True(t, ran(t, app, k, "/users/42?utm=x"), "a query is another entry")

	// A successful PUT /users/42 reaches each of them.
	for _, v := range variants {
		t.Run(v, func(t *testing.T) {
			for _, w := range variants {
				do(t, app, "GET", w)
			}
			require.False(t, ran(t, app, k, v), "warm")
			require.Equal(t, fiber.StatusNoContent, do(t, app, "PUT", "/users/42").status)
			assert.True(t, ran(t, app, k, v), "GET %s after PUT /users/42", v)
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
			require.True(t, ran(t, app, k, tc.first))
			require.False(t, ran(t, app, k, tc.first))
			assert.Equal(t, !tc.shared, ran(t, app, k, tc.second), "%s after %s", tc.second, tc.first)
			assert.False(t, ran(t, app, k, tc.second))
			if tc.shared {
				// One path: one PUT invalidates both spellings.
				require.Equal(t, fiber.StatusNoContent, do(t, app, "PUT", tc.first).status)
				assert.True(t, ran(t, app, k, tc.second))
			}
		})
	}
	t.Run("UnescapePath, named route", func(t *testing.T) {
		app, k := userApp(fiber.Config{UnescapePath: true}, "/users/:id")
		require.True(t, ran(t, app, k, "/users/42"))
		assert.False(t, ran(t, app, k, "/users/%34%32"))
		require.Equal(t, fiber.StatusNoContent, do(t, app, "PUT", "/users/%34%32").status)
		assert.True(t, ran(t, app, k, "/users/42"))
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
		{"no sort", nil, []string{"/p?a=1&b=2", "/p?b=2&a=1"}, 2},
		{"ignore and sort", []Option{WithQuerySort(), WithQueryIgnore("fbclid")}, []string{"/p?a=1&b=2", "/p?fbclid=1&b=2&a=1"}, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var k counter
			app := fiber.New()
			app.Use(New(tc.opts...))
			app.Get("/p", func(c *fiber.Ctx) error { return k.handler(string(c.Request().URI().QueryString()))(c) })
			for range 2 {
				for _, u := range tc.targets {
					do(t, app, "GET", u)
				}
			}
			assert.Equal(t, tc.runs, k.runs())
		})
	}
}

// tenantKey adds the X-Tenant request header to the key.
func tenantKey(c *fiber.Ctx, key []byte) []byte { return append(key, c.Get("X-Tenant")...) }

func TestKeys_KeyFuncSeparatesTenants(t *testing.T) {
	var k counter
	app := fiber.New()
	app.Use(New(WithKeyFunc(tenantKey)))
	app.Get("/p", func(c *fiber.Ctx) error { return k.handler("tenant " + c.Get("X-Tenant"))(c) })
	assert.Equal(t, "tenant a#1", do(t, app, "GET", "/p", "X-Tenant: a").body)
	assert.Equal(t, "tenant b#2", do(t, app, "GET", "/p", "X-Tenant: b").body)
	assert.Equal(t, "tenant a#1", do(t, app, "GET", "/p", "X-Tenant: a").body)
	assert.Equal(t, "tenant b#2", do(t, app, "GET", "/p", "X-Tenant: b").body)
	assert.Equal(t, "tenant #3", do(t, app, "GET", "/p").body)
	assert.Equal(t, 3, k.runs())

	// An invalidation of the path reaches every tenant.
	app.Put("/p", func(c *fiber.Ctx) error { return c.SendStatus(fiber.StatusNoContent) })
	do(t, app, "PUT", "/p")
	assert.Equal(t, "tenant a#4", do(t, app, "GET", "/p", "X-Tenant: a").body)
	assert.Equal(t, "tenant b#5", do(t, app, "GET", "/p", "X-Tenant: b").body)
}
