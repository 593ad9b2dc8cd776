package cache_test

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fiber-caches/cache"
	"github.com/fiber-caches/cache/internal/testkit"
)

func TestHelper_MissingCachingOutsideTheMiddleware(t *testing.T) {
	var got error
	handler := func(c *fiber.Ctx) error {
		h, err := cache.Helper(c)
		assert.Nil(t, h)
		got = err
		return c.SendStatus(fiber.StatusNoContent)
	}
	t.Run("no cache at all", func(t *testing.T) {
		got = nil
		app := fiber.New()
		app.Put("/users/:id", handler)
		testkit.Do(t, app, fiber.MethodPut, "/users/42")
		require.Error(t, got)
		assert.ErrorIs(t, got, cache.ErrMissingCaching)
		assert.Contains(t, got.Error(), "cache.New", "the error says how to fix it")
		assert.Contains(t, got.Error(), "PUT /users/42")
	})
	t.Run("cache on another route", func(t *testing.T) {
		got = nil
		app := fiber.New()
		app.Get("/users/:id", cache.New(), func(c *fiber.Ctx) error { return c.SendString("u") })
		app.Put("/users/:id", handler)
		testkit.Do(t, app, fiber.MethodPut, "/users/42")
		assert.ErrorIs(t, got, cache.ErrMissingCaching)
	})
	t.Run("cache after the handler", func(t *testing.T) {
		got = nil
		app := fiber.New()
		app.Use(func(c *fiber.Ctx) error {
			_, got = cache.Helper(c)
			return c.Next()
		})
		app.Use(cache.New())
		app.Get("/", func(c *fiber.Ctx) error { return c.SendString("x") })
		testkit.Do(t, app, fiber.MethodGet, "/")
		assert.ErrorIs(t, got, cache.ErrMissingCaching)
	})
}

func TestHelper_FindsTheMiddleware(t *testing.T) {
	hit := func(t *testing.T, app *fiber.App, target string) {
		t.Helper()
		require.Equal(t, "hit", testkit.Do(t, app, fiber.MethodGet, target).Header.Get("X-Cache"), target)
	}
	miss := func(t *testing.T, app *fiber.App, target string) {
		t.Helper()
		require.Equal(t, "miss", testkit.Do(t, app, fiber.MethodGet, target).Header.Get("X-Cache"), target)
	}
	purge := func(c *fiber.Ctx) error {
		h, err := cache.Helper(c)
		if err != nil {
			return err
		}
		require.NotNil(t, h.Cache())
		if err := h.InvalidateURL("/api/items/1"); err != nil {
			return err
		}
		return c.SendStatus(fiber.StatusNoContent)
	}
	item := func(c *fiber.Ctx) error { return c.SendString(c.Params("id")) }

	t.Run("route level", func(t *testing.T) {
		app := fiber.New()
		mw := cache.New()
		app.Get("/api/items/:id", mw, item)
		app.Post("/api/purge", mw, purge)
		miss(t, app, "/api/items/1")
		hit(t, app, "/api/items/1")
		r := testkit.Do(t, app, fiber.MethodPost, "/api/purge")
		require.Equal(t, fiber.StatusNoContent, r.Status, r.Body)
		miss(t, app, "/api/items/1")
	})
	t.Run("group", func(t *testing.T) {
		app := fiber.New()
		api := app.Group("/api", cache.New())
		api.Get("/items/:id", item)
		api.Post("/purge", purge)
		miss(t, app, "/api/items/1")
		hit(t, app, "/api/items/1")
		r := testkit.Do(t, app, fiber.MethodPost, "/api/purge")
		require.Equal(t, fiber.StatusNoContent, r.Status, r.Body)
		miss(t, app, "/api/items/1")
	})
}

func TestHelper_InvalidateURL(t *testing.T) {
	for store, opts := range invStores() {
		t.Run(store, func(t *testing.T) {
			s := newInvSite(t, opts(t)...)
			warmAll := func() {
				for _, lang := range []string{"en", "fr"} {
					s.warm("/users/42", lang)
				}
				s.warm("/users/43", "en")
				s.warm("/users?page=2", "")
				s.warm("/users", "")
				s.warm("http://other.example/users/42", "en")
			}
			warmAll()

			// A path: resolved against the request's scheme and host; every
			// variant goes, GET and HEAD.
			require.NoError(t, s.helper(func(h *cache.CacheHelper) error { return h.InvalidateURL("/users/42") }))
			for _, lang := range []string{"en", "fr"} {
				s.miss(fiber.MethodHead, "/users/42", lang)
				s.miss(fiber.MethodGet, "/users/42", lang)
			}
			s.hit(fiber.MethodGet, "/users/43", "en")
			s.hit(fiber.MethodGet, "http://other.example/users/42", "en", "another host")

			// A full URL, of either scheme.
			require.NoError(t, s.helper(func(h *cache.CacheHelper) error { return h.InvalidateURL("http://example.com/users/42") }))
			s.miss(fiber.MethodGet, "/users/42", "fr")
			require.NoError(t, s.helper(func(h *cache.CacheHelper) error { return h.InvalidateURL("https://example.com/users/42") }))
			s.miss(fiber.MethodGet, "/users/42", "fr")
			require.NoError(t, s.helper(func(h *cache.CacheHelper) error { return h.InvalidateURL("http://other.example/users/42") }))
			s.miss(fiber.MethodGet, "http://other.example/users/42", "en")
			s.hit(fiber.MethodGet, "/users/42", "fr")

			// A relative reference, resolved against the request's path
			// (/helper).
			require.NoError(t, s.helper(func(h *cache.CacheHelper) error { return h.InvalidateURL("users/43") }))
			s.miss(fiber.MethodGet, "/users/43", "en")

			// A query changes nothing: the whole path goes, every query.
			require.NoError(t, s.helper(func(h *cache.CacheHelper) error { return h.InvalidateURL("/users?page=2") }))
			s.miss(fiber.MethodGet, "/users?page=2", "")
			s.miss(fiber.MethodGet, "/users", "")
			s.hit(fiber.MethodGet, "/users/43", "en")
		})
	}
}

func TestHelper_InvalidateURLErrors(t *testing.T) {
	s := newInvSite(t)
	for _, bad := range []string{"", "http://[::1", "mailto:someone@example.com", "ftp://example.com/x"} {
		err := s.helper(func(h *cache.CacheHelper) error { return h.InvalidateURL(bad) })
		require.Error(t, err, "%q", bad)
		assert.Contains(t, err.Error(), "InvalidateURL", "%q", bad)
	}
}

// TestHelper_UsableAfterTheRequest keeps a helper past its request (Fiber
// reuses the request's memory): it still invalidates the right URLs.
func TestHelper_UsableAfterTheRequest(t *testing.T) {
	var kept *cache.CacheHelper
	s := newInvSiteWith(t, func(s *invSite) {
		s.app.Get("/keep/*", func(c *fiber.Ctx) error {
			h, err := cache.Helper(c)
			kept = h
			if err != nil {
				return err
			}
			return c.SendString("kept")
		})
	})
	s.warm("/users/42", "en")
	s.do(fiber.MethodGet, "/keep/me") // the helper's request
	// These reuse the request's memory.
	for i := range 3 {
		s.do(fiber.MethodGet, "http://other.example/somewhere/else/"+strconv.Itoa(i))
	}
	require.NotNil(t, kept)
	require.NoError(t, kept.InvalidateURL("/users/42"))
	s.miss(fiber.MethodGet, "/users/42", "en")
	s.warm("/users/43", "en")
	require.NoError(t, kept.InvalidateRoute("user", fiber.Map{"id": 43}))
	s.miss(fiber.MethodGet, "/users/43", "en")
	require.NoError(t, kept.Cache().InvalidateURL("http://example.com/users/43"))
	s.miss(fiber.MethodGet, "/users/43", "en")
}

// invRoutes registers named routes of every kind of parameter.
func invRoutes(s *invSite) {
	s.app.Get("/posts/:slug?", s.page(false)).Name("post")
	s.app.Get("/files/*", s.page(false)).Name("files")
	s.app.Get("/assets/+", s.page(false)).Name("assets")
	s.app.Get("/two/*/and/*", s.page(false)).Name("two")
	s.app.Get("/flights/:from-:to", s.page(false)).Name("flight")
	s.app.Get("/plants/:genus.:species", s.page(false)).Name("plant")
	s.app.Get("/orders/:id<int>", s.page(true)).Name("order")
	s.app.Get("/days/:day<datetime(2006\\-01\\-02)>/:n<min(1);max(9)>", s.page(false)).Name("day")
	s.app.Get("/codes/:code<regex(\\d{3})>", s.page(false)).Name("code")
	s.app.Get("/price\\:usd/:id", s.page(false)).Name("price")
	api := s.app.Group("/api").Name("api.")
	api.Get("/items/:id", s.page(false)).Name("item")
}

// invLangs returns the languages to store u in: two where the route varies
// on Accept-Language.
func invLangs(u string) []string {
	if strings.HasPrefix(u, "/users/") || strings.HasPrefix(u, "/orders/") || strings.HasPrefix(u, "/v/") {
		return []string{"en", "fr"}
	}
	return []string{""}
}

func TestHelper_InvalidateRoute(t *testing.T) {
	cases := []struct {
		name    string
		route   string
		params  fiber.Map
		gone    []string
		survive []string
		alias   string // shares the entry of gone[0] (the router's path is the same)
	}{
		{"param", "user", fiber.Map{"id": 42}, []string{"/users/42"}, []string{"/users/43", "/users"}, ""},
		{"string param, escaped", "user", fiber.Map{"id": "john doe"}, []string{"/users/john%20doe"}, []string{"/users/42"}, ""},
		{"param key of another case", "user", fiber.Map{"ID": "42"}, []string{"/users/42"}, nil, ""},
		{"no params: every query of the path", "users", nil, []string{"/users", "/users?page=2"}, []string{"/users/42"}, ""},
		{"optional given", "post", fiber.Map{"slug": "hello"}, []string{"/posts/hello"}, []string{"/posts", "/posts/bye"}, ""},
		{"optional omitted: with and without the slash", "post", nil, []string{"/posts"}, []string{"/posts/hello"}, "/posts/"},
		{"wildcard", "files", fiber.Map{"*": "docs/read me.md"}, []string{"/files/docs/read%20me.md"}, []string{"/files/docs"}, ""},
		{"wildcard numbered", "files", fiber.Map{"*1": "a/b"}, []string{"/files/a/b"}, nil, ""},
		{"wildcard omitted", "files", nil, []string{"/files/"}, []string{"/files/a/b"}, "/files"},
		{"plus", "assets", fiber.Map{"+": "css/site.css"}, []string{"/assets/css/site.css"}, []string{"/assets/css"}, ""},
		{"two wildcards", "two", fiber.Map{"*1": "x", "*2": "y/z"}, []string{"/two/x/and/y/z"}, nil, ""},
		{"dash-separated params", "flight", fiber.Map{"from": "LAX", "to": "SFO"}, []string{"/flights/LAX-SFO"}, []string{"/flights/SFO-LAX"}, ""},
		{"dot-separated params", "plant", fiber.Map{"genus": "prunus", "species": "persica"}, []string{"/plants/prunus.persica"}, nil, ""},
		{"constraint", "order", fiber.Map{"id": 7}, []string{"/orders/7"}, []string{"/orders/8"}, ""},
		{"constraints with data", "day", fiber.Map{"day": "2024-01-31", "n": 3}, []string{"/days/2024-01-31/3"}, nil, ""},
		{"regex constraint", "code", fiber.Map{"code": "404"}, []string{"/codes/404"}, []string{"/codes/500"}, ""},
		{"escaped colon", "price", fiber.Map{"id": 5}, []string{"/price:usd/5"}, nil, ""},
		{"group name prefix", "api.item", fiber.Map{"id": 9}, []string{"/api/items/9"}, []string{"/api/items/10"}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newInvSiteWith(t, invRoutes)
			for _, u := range append(append([]string(nil), tc.gone...), tc.survive...) {
				for _, lang := range invLangs(u) {
					s.warm(u, lang)
				}
			}
			if tc.alias != "" {
				s.hit(fiber.MethodGet, tc.alias, "", "one entry for both")
			}
			require.NoError(t, s.helper(func(h *cache.CacheHelper) error { return h.InvalidateRoute(tc.route, tc.params) }))
			if tc.alias != "" {
				s.miss(fiber.MethodGet, tc.alias, "", "should be invalidated")
				s.hit(fiber.MethodGet, tc.gone[0], "", "stored again by its alias")
				tc.gone = tc.gone[1:]
			}
			for _, u := range tc.gone {
				for _, lang := range invLangs(u) {
					s.miss(fiber.MethodGet, u, lang, "should be invalidated")
				}
			}
			for _, u := range tc.survive {
				for _, lang := range invLangs(u) {
					s.hit(fiber.MethodGet, u, lang, "should survive")
				}
			}
		})
	}
}

func TestHelper_InvalidateRouteErrors(t *testing.T) {
	cases := []struct {
		name   string
		route  string
		params fiber.Map
		want   []string // in the error message
	}{
		{"unknown name", "nope", nil, []string{`no route is named "nope"`, "nothing was invalidated"}},
		{"empty name", "", nil, []string{"empty"}},
		{"empty required param", "user", fiber.Map{"id": ""}, []string{`"id"`, "empty"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newInvSiteWith(t, invRoutes)
			err := s.helper(func(h *cache.CacheHelper) error { return h.InvalidateRoute(tc.route, tc.params) })
			require.Error(t, err)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
			// Nor does the other, out-of-request form accept it.
			err = s.cache.InvalidateRoute(s.app, invBase, tc.route, tc.params)
			require.Error(t, err)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

// With a required parameter missing, InvalidateRoute invalidates every
// URL of the route (its pattern), and nothing else: not another route's,
// not another cache's (every backend).
func TestHelper_InvalidateRouteMissingParamsInvalidatesTheRoute(t *testing.T) {
	cases := []struct {
		name    string
		route   string
		params  fiber.Map
		gone    [][2]string // URL, language
		survive [][2]string
	}{
		{"missing param", "user", nil, [][2]string{{"/users/42", "en"}, {"/users/43", "fr"}}, [][2]string{{"/posts/hello", ""}, {"/flights/LAX-SFO", ""}}},
		{"missing param among others", "flight", fiber.Map{"from": "LAX"}, [][2]string{{"/flights/LAX-SFO", ""}, {"/flights/JFK-BOS", ""}}, [][2]string{{"/users/42", "en"}, {"/posts/hello", ""}}},
		{"nil param", "user", fiber.Map{"id": nil}, [][2]string{{"/users/42", "en"}}, [][2]string{{"/posts/hello", ""}}},
		{"missing plus", "assets", nil, [][2]string{{"/assets/a/b", ""}}, [][2]string{{"/files/a/b", ""}, {"/users/42", "en"}}},
		{"missing constrained param", "order", nil, [][2]string{{"/orders/7", "en"}}, [][2]string{{"/users/42", "en"}, {"/codes/123", ""}}},
		{"group route", "api.item", nil, [][2]string{{"/api/items/1", ""}}, [][2]string{{"/users/42", "en"}}},
	}
	for store, opts := range invStores() {
		for _, tc := range cases {
			for _, how := range []string{"helper", "cache"} {
				t.Run(store+"/"+tc.name+"/"+how, func(t *testing.T) {
					var other int
					app2 := fiber.New() // another app, its own cache and in-process store
					app2.Get("/elsewhere", cache.New(), func(c *fiber.Ctx) error {
						other++
						return c.SendString("elsewhere")
					})
					s := newInvSiteWith(t, invRoutes, opts(t)...)
					for _, u := range append(append([][2]string{}, tc.gone...), tc.survive...) {
						s.warm(u[0], u[1])
					}
					testkit.Do(t, app2, fiber.MethodGet, "/elsewhere")
					var err error
					if how == "helper" {
						err = s.helper(func(h *cache.CacheHelper) error { return h.InvalidateRoute(tc.route, tc.params) })
					} else {
						err = s.cache.InvalidateRoute(s.app, invBase, tc.route, tc.params)
					}
					require.NoError(t, err)
					for _, u := range tc.gone {
						// Runs the handler; on a plain storage, whose tag
						// sequence is a clock, it is stored again only a
						// second (clockSkew) after the invalidation.
						ran, _ := s.fetch(fiber.MethodGet, u[0], u[1])
						require.True(t, ran, "GET %s [%s] runs the handler", u[0], u[1])
					}
					for _, u := range tc.survive {
						s.hit(fiber.MethodGet, u[0], u[1])
					}
					testkit.Do(t, app2, fiber.MethodGet, "/elsewhere")
					assert.Equal(t, 1, other, "another cache of the process keeps what it stored")
				})
			}
		}
	}
}

// --- out of a request --------------------------------------------------------

func TestCache_InvalidateURL(t *testing.T) {
	for store, opts := range invStores() {
		t.Run(store, func(t *testing.T) {
			s := newInvSite(t, opts(t)...)
			for _, lang := range []string{"en", "fr"} {
				s.warm("/users/42", lang)
			}
			s.warm("/users/43", "en")
			s.warm("/v/x?y=1", "en")
			require.NoError(t, s.cache.InvalidateURL("http://example.com/users/42"))
			for _, lang := range []string{"en", "fr"} {
				s.miss(fiber.MethodHead, "/users/42", lang)
				s.miss(fiber.MethodGet, "/users/42", lang)
			}
			s.hit(fiber.MethodGet, "/users/43", "en")
			require.NoError(t, s.cache.InvalidateURL("HTTP://example.com/v/x?y=1#frag"))
			s.miss(fiber.MethodGet, "/v/x?y=1", "en")
			// The app sees http; a full URL removes both forms.
			require.NoError(t, s.cache.InvalidateURL("https://example.com/users/43"))
			s.miss(fiber.MethodGet, "/users/43", "en")
			// Another host is another site.
			require.NoError(t, s.cache.InvalidateURL("http://other.example/users/43"))
			s.hit(fiber.MethodGet, "/users/43", "en")
		})
	}
}

func TestCache_InvalidateURLErrors(t *testing.T) {
	c := cache.NewCache()
	for _, bad := range []string{"/users/42", "users/42", "example.com/users/42", "//example.com/users/42", ""} {
		err := c.InvalidateURL(bad)
		require.Error(t, err, "%q", bad)
		assert.Contains(t, err.Error(), "must be absolute", "%q", bad)
	}
	for _, bad := range []string{"http://[::1", "ftp://example.com/x"} {
		require.Error(t, c.InvalidateURL(bad), "%q", bad)
	}
}

func TestCache_InvalidateRoute(t *testing.T) {
	s := newInvSiteWith(t, invRoutes)
	s.warm("/users/42", "en")
	s.warm("/users/42", "fr")
	s.warm("/users/43", "en")
	s.warm("/posts", "")
	s.hit(fiber.MethodGet, "/posts/", "", "one entry for the router's one path")
	require.NoError(t, s.cache.InvalidateRoute(s.app, "http://example.com", "user", fiber.Map{"id": 42}))
	s.miss(fiber.MethodGet, "/users/42", "en")
	s.miss(fiber.MethodGet, "/users/42", "fr")
	s.hit(fiber.MethodGet, "/users/43", "en")
	require.NoError(t, s.cache.InvalidateRoute(s.app, "http://example.com/", "post", nil), "a trailing slash on the base")
	s.miss(fiber.MethodGet, "/posts/", "")
	s.hit(fiber.MethodGet, "/posts", "")

	err := s.cache.InvalidateRoute(s.app, "/", "user", fiber.Map{"id": 42})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "must be absolute")
	err = s.cache.InvalidateRoute(nil, invBase, "user", fiber.Map{"id": 42})
	require.Error(t, err)
	err = s.cache.InvalidateRoute(s.app, invBase, "nope", nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `"nope"`)
}

// A background job invalidates through the *Cache the app uses.
func TestCache_HandlerAndBackgroundInvalidation(t *testing.T) {
	c := cache.NewCache()
	app := fiber.New()
	app.Use(c.Handler())
	runs := 0
	app.Get("/users/:id", func(ctx *fiber.Ctx) error {
		runs++
		return ctx.SendString("user " + ctx.Params("id"))
	}).Name("user")

	get := func() string {
		return testkit.Do(t, app, fiber.MethodGet, "https://example.com/users/42").Header.Get("X-Cache")
	}
	require.Equal(t, "miss", get())
	require.Equal(t, "hit", get())
	done := make(chan error)
	go func() { done <- c.InvalidateURL("https://example.com/users/42") }()
	require.NoError(t, <-done)
	require.Equal(t, "miss", get())
	require.Equal(t, 2, runs)
	go func() { done <- c.InvalidateRoute(app, "https://example.com", "user", fiber.Map{"id": "42"}) }()
	require.NoError(t, <-done)
	require.Equal(t, "miss", get())
	require.Equal(t, 3, runs)
}

func TestHelper_ErrorsAreNotMissingCaching(t *testing.T) {
	s := newInvSite(t)
	err := s.helper(func(h *cache.CacheHelper) error { return h.InvalidateRoute("nope", nil) })
	require.Error(t, err)
	assert.False(t, errors.Is(err, cache.ErrMissingCaching))
}

// A parameter name the route does not have (a typo) is an error, and
// nothing is invalidated: not the route, not everything.
func TestInvalidateRoute_UnknownParameterInvalidatesNothing(t *testing.T) {
	for _, how := range []string{"helper", "cache"} {
		t.Run(how, func(t *testing.T) {
			other := testkit.Counter{}
			app2 := fiber.New() // another app, its own cache and in-process store
			app2.Get("/elsewhere", cache.New(), other.Handler("elsewhere"))
			s := newInvSiteWith(t, invRoutes)
			s.warm("/users/3", "en")
			s.warm("/posts/hello", "")
			require.True(t, other.Ran(t, app2, "/elsewhere"))
			for _, params := range []fiber.Map{{"Id ": 3}, {"id": 3, "page": 2}, {"idd": nil}} {
				var err error
				if how == "helper" {
					err = s.helper(func(h *cache.CacheHelper) error { return h.InvalidateRoute("user", params) })
				} else {
					err = s.cache.InvalidateRoute(s.app, invBase, "user", params)
				}
				require.Error(t, err, "%v", params)
				assert.Contains(t, err.Error(), "has no parameter")
				assert.Contains(t, err.Error(), `its parameters are "id"`)
				assert.Contains(t, err.Error(), "nothing was invalidated")
			}
			s.hit(fiber.MethodGet, "/users/3", "en")
			s.hit(fiber.MethodGet, "/posts/hello", "")
			require.False(t, other.Ran(t, app2, "/elsewhere"), "another cache of the process")
		})
	}
}

// The unknown-route error names the route meant, with its group's prefix.
func TestInvalidateRoute_UnknownNameSaysWhatIsTrue(t *testing.T) {
	s := newInvSiteWith(t, invRoutes) // has "api.item"
	for _, err := range []error{
		s.helper(func(h *cache.CacheHelper) error { return h.InvalidateRoute("item", fiber.Map{"id": 9}) }),
		s.cache.InvalidateRoute(s.app, invBase, "item", fiber.Map{"id": 9}),
	} {
		require.Error(t, err)
		assert.Contains(t, err.Error(), `no route is named "item"; did you mean "api.item"?`)
		assert.NotContains(t, err.Error(), `Name("item")`, "the route already is named so")
	}
}

// InvalidateAll drops everything of this cache's namespace, on every
// instance sharing it, and nothing of other namespaces: another key prefix
// on the same storage, another cache of the process with its own store.
func TestInvalidateAll(t *testing.T) {
	for store, opts := range invStores() {
		for _, how := range []string{"helper", "cache"} {
			t.Run(store+"/"+how, func(t *testing.T) {
				other := testkit.Counter{}
				app2 := fiber.New()
				app2.Get("/elsewhere", cache.New(), other.Handler("elsewhere"))
				s := newInvSiteWith(t, invRoutes, opts(t)...)
				for _, u := range []string{"/users", "/posts/hello", "/files/a/b", "/v/x?y=1"} {
					s.warm(u, "")
				}
				s.warm("/users/42", "en")
				require.True(t, other.Ran(t, app2, "/elsewhere"))
				if how == "helper" {
					require.NoError(t, s.helper(func(h *cache.CacheHelper) error { return h.InvalidateAll() }))
				} else {
					require.NoError(t, s.cache.InvalidateAll())
				}
				for _, u := range []string{"/users", "/posts/hello", "/files/a/b", "/v/x?y=1"} {
					s.miss(fiber.MethodGet, u, "")
				}
				s.miss(fiber.MethodHead, "/users/42", "en")
				require.False(t, other.Ran(t, app2, "/elsewhere"), "another cache of the process, with its own store")
			})
		}
	}
}

// On one fiber.Storage: the instances under the flushed prefix miss, those
// under another prefix still hit.
func TestInvalidateAll_OneStorageTwoPrefixes(t *testing.T) {
	st := testkit.NewStorage()
	on := func(prefix string) *invSite {
		return newInvSite(t, cache.WithStorage(st), cache.WithKeyPrefix(prefix))
	}
	a1, a2, b := on("a:"), on("a:"), on("b:")
	a1.warm("/users/42", "en")
	a2.hit(fiber.MethodGet, "/users/42", "en", "a2 shares a1's namespace")
	b.warm("/users/42", "en")
	require.NoError(t, a2.cache.InvalidateAll())
	a1.miss(fiber.MethodGet, "/users/42", "en", "every instance of the namespace")
	b.hit(fiber.MethodGet, "/users/42", "en", "another prefix")
}

// On Redis: two prefixes on one Redis, two instances on the first.
func TestRedisInvalidateAll_TwoPrefixes(t *testing.T) {
	prefixes := invRedisPrefixes(t)
	a1, a2 := newInvRedisSites(t, prefixes(), nil)
	b, _ := newInvRedisSites(t, prefixes(), nil)
	for _, u := range []string{"/users/42", "/v/x?y=1"} {
		a1.warm(u, "en")
		a2.hit(fiber.MethodGet, u, "en", "a2 shares a1's namespace")
		b.warm(u, "en")
	}
	require.NoError(t, a2.helper(func(h *cache.CacheHelper) error { return h.InvalidateAll() }))
	for _, u := range []string{"/users/42", "/v/x?y=1"} {
		a1.miss(fiber.MethodGet, u, "en", "every instance of the namespace")
		b.hit(fiber.MethodGet, u, "en", "another prefix on the same Redis")
	}
}
