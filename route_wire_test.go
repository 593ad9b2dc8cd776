package cache_test

import (
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/stretchr/testify/require"

	"github.com/fiber-caches/cache"
)

// InvalidateRoute must invalidate the path a client's request for the
// route is keyed under. These tests send the requests over a real
// listener with Go's net/http client, each byte of the target as written
// (Go's own spelling where it sends the target as it is, the URL's Opaque
// otherwise), and count handler runs.

// wireSite is an app behind one cache on a real listener, with named
// routes of every kind whose handlers count their runs.
type wireSite struct {
	t      *testing.T
	app    *fiber.App
	cache  *cache.Cache
	base   string // http://127.0.0.1:port
	runs   atomic.Int64
	client *http.Client
	onPost func(h *cache.CacheHelper) error // what POST /invalidate does
}

func newWireSite(t *testing.T, cfg fiber.Config, opts ...cache.Option) *wireSite {
	t.Helper()
	s := &wireSite{t: t, cache: cxCache(t, opts...), client: &http.Client{Timeout: 10 * time.Second}}
	cfg.DisableStartupMessage = true
	s.app = fiber.New(cfg)
	s.app.Use(s.cache.Handler())
	page := func(c *fiber.Ctx) error {
		s.runs.Add(1)
		return c.JSON(c.AllParams())
	}
	s.app.Get("/users/:id", page).Name("user")
	s.app.Group("/api").Name("api.").Get("/items/:id", page).Name("item")
	s.app.Get("/tags/:tag<minLen(2)>", page).Name("tag")
	s.app.Get("/posts/:slug?", page).Name("post")
	s.app.Get("/files/*", page).Name("files")
	s.app.Post("/invalidate", func(c *fiber.Ctx) error {
		h, err := cache.Helper(c)
		if err != nil {
			return err
		}
		if err := s.onPost(h); err != nil {
			return c.Status(fiber.StatusBadRequest).SendString(err.Error())
		}
		return c.SendStatus(fiber.StatusNoContent)
	})
	s.app.Post("/write", func(c *fiber.Ctx) error { // answers the Location it is sent in X-Location
		c.Response().Header.Set(fiber.HeaderLocation, c.Get("X-Location"))
		return c.SendStatus(fiber.StatusCreated)
	})
	s.base = "http://" + cxListen(t, s.app)
	return s
}

// get sends a GET of target, byte for byte, and reports whether the
// handler ran, with the response's X-Cache.
func (s *wireSite) get(target string) (ran bool, xCache string) {
	s.t.Helper()
	req, err := http.NewRequest(fiber.MethodGet, s.base+target, nil)
	if err != nil || req.URL.RequestURI() != target {
		// Go's client would re-encode it (it does when a byte outside
		// RFC 3986 is raw, as browsers send '|'): send it as written.
		req, err = http.NewRequest(fiber.MethodGet, s.base+"/", nil)
		require.NoError(s.t, err)
		req.URL.Opaque = target
	}
	before := s.runs.Load()
	resp, err := s.client.Do(req)
	require.NoError(s.t, err, "GET %s", target)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	require.Equal(s.t, fiber.StatusOK, resp.StatusCode, "GET %s: %s", target, body)
	return s.runs.Load() > before, resp.Header.Get("X-Cache")
}

// warm stores target and checks that it is then a hit.
func (s *wireSite) warm(target string) {
	s.t.Helper()
	s.get(target)
	ran, xc := s.get(target)
	require.False(s.t, ran, "GET %s should be a hit", target)
	require.Equal(s.t, "hit", xc, "GET %s", target)
}

// helper runs fn with the Helper of a POST request's handler and returns
// fn's error.
func (s *wireSite) helper(fn func(h *cache.CacheHelper) error) error {
	s.t.Helper()
	var fnErr error
	s.onPost = func(h *cache.CacheHelper) error { fnErr = fn(h); return fnErr }
	resp, err := s.client.Post(s.base+"/invalidate", "text/plain", nil)
	require.NoError(s.t, err)
	resp.Body.Close()
	return fnErr
}

// invalidate calls InvalidateRoute through the Cache (outside a request)
// or through a Helper in a POST handler.
func (s *wireSite) invalidate(how, name string, params fiber.Map) {
	s.t.Helper()
	if how == "cache" {
		require.NoError(s.t, s.cache.InvalidateRoute(s.app, s.base, name, params))
		return
	}
	require.NoError(s.t, s.helper(func(h *cache.CacheHelper) error { return h.InvalidateRoute(name, params) }))
}

type wireCase struct {
	name    string
	route   string
	params  fiber.Map
	gone    []string // request targets: each runs its handler again after the invalidation
	survive []string // request targets: each is still a hit
}

// wireRun stores every target of each case, invalidates the case's route
// and checks which targets run their handler again.
func wireRun(t *testing.T, cfg fiber.Config, cases []wireCase) {
	for _, how := range []string{"cache", "helper"} {
		for store, opts := range invStores() {
			t.Run(how+"/"+store, func(t *testing.T) {
				s := newWireSite(t, cfg, opts(t)...)
				for _, tc := range cases {
					for _, u := range append(append([]string(nil), tc.gone...), tc.survive...) {
						s.warm(u)
					}
					s.invalidate(how, tc.route, tc.params)
					for _, u := range tc.gone {
						ran, _ := s.get(u)
						require.True(t, ran, "%s: GET %s should run the handler again after InvalidateRoute(%q, %v)", tc.name, u, tc.route, tc.params)
					}
					for _, u := range tc.survive {
						ran, _ := s.get(u)
						require.False(t, ran, "%s: GET %s should still be a hit", tc.name, u)
					}
				}
			})
		}
	}
}

// Without UnescapePath the key holds the path as the client sent it: every
// pchar raw, and percent-encoded what clients encode.
func TestInvalidateRoute_OverTheWire(t *testing.T) {
	other := []string{"/users/other"}
	wireRun(t, fiber.Config{}, []wireCase{
		{"quote", "user", fiber.Map{"id": "o'brien"}, []string{"/users/o'brien"}, other},
		{"parentheses", "user", fiber.Map{"id": "foo_(bar)"}, []string{"/users/foo_(bar)"}, other},
		{"bang", "user", fiber.Map{"id": "hi!"}, []string{"/users/hi!"}, other},
		{"star", "user", fiber.Map{"id": "a*b"}, []string{"/users/a*b"}, other},
		{"every sub-delim", "user", fiber.Map{"id": "!$&'()*+,;="}, []string{"/users/!$&'()*+,;="}, other},
		{"colon and at", "user", fiber.Map{"id": "a:b@c"}, []string{"/users/a:b@c"}, other},
		{"unreserved", "user", fiber.Map{"id": "aZ09-._~"}, []string{"/users/aZ09-._~"}, other},
		{"percent-encoded value, as c.Params gives it", "user", fiber.Map{"id": "caf%C3%A9"}, []string{"/users/caf%C3%A9"}, other},
		{"non-ASCII", "user", fiber.Map{"id": "日本"}, []string{"/users/%E6%97%A5%E6%9C%AC"}, other},
		{"lone percent: encoded by Go, raw from browsers", "user", fiber.Map{"id": "100%"}, []string{"/users/100%25", "/users/100%"}, other},
		{"space", "user", fiber.Map{"id": "john doe"}, []string{"/users/john%20doe"}, other},
		{"spelt raw by browsers, encoded by Go", "user", fiber.Map{"id": "a|b"}, []string{"/users/a|b", "/users/a%7Cb"}, other},
		{"group", "api.item", fiber.Map{"id": "o'brien"}, []string{"/api/items/o'brien"}, []string{"/api/items/other"}},
		{"constraint", "tag", fiber.Map{"tag": "foo_(bar)"}, []string{"/tags/foo_(bar)"}, []string{"/tags/other"}},
		{"optional given", "post", fiber.Map{"slug": "hi!"}, []string{"/posts/hi!"}, []string{"/posts/other"}},
		{"optional omitted", "post", fiber.Map{}, []string{"/posts"}, []string{"/posts/other"}},
		{"wildcard", "files", fiber.Map{"*": "a/o'b/(1) x.txt"}, []string{"/files/a/o'b/(1)%20x.txt"}, []string{"/files/a"}},
	})
}

// With UnescapePath the key holds the decoded path (fasthttp decodes '+'
// as a space), and a value is the decoded one c.Params gives.
func TestInvalidateRoute_OverTheWireUnescapePath(t *testing.T) {
	other := []string{"/users/other"}
	wireRun(t, fiber.Config{UnescapePath: true}, []wireCase{
		{"quote", "user", fiber.Map{"id": "o'brien"}, []string{"/users/o'brien"}, other},
		{"every sub-delim but plus", "user", fiber.Map{"id": "!$&'()*,;="}, []string{"/users/!$&'()*,;="}, other},
		{"plus is what %2B reaches; a raw + is a space", "user", fiber.Map{"id": "a+b"}, []string{"/users/a%2Bb"}, []string{"/users/a+b"}},
		{"space, sent either way", "user", fiber.Map{"id": "a b"}, []string{"/users/a+b"}, other},
		{"non-ASCII", "user", fiber.Map{"id": "café"}, []string{"/users/caf%C3%A9"}, other},
		{"percent", "user", fiber.Map{"id": "100%"}, []string{"/users/100%25"}, other},
		{"%XX is literal", "user", fiber.Map{"id": "caf%C3%A9"}, []string{"/users/caf%25C3%25A9"}, []string{"/users/caf%C3%A9"}},
		{"pipe", "user", fiber.Map{"id": "a|b"}, []string{"/users/a|b"}, other},
		{"constraint", "tag", fiber.Map{"tag": "a b"}, []string{"/tags/a%20b"}, []string{"/tags/other"}},
		{"optional", "post", fiber.Map{"slug": "café"}, []string{"/posts/caf%C3%A9"}, []string{"/posts/other"}},
		{"group", "api.item", fiber.Map{"id": "o'brien"}, []string{"/api/items/o'brien"}, []string{"/api/items/other"}},
		{"wildcard", "files", fiber.Map{"*": "a b/c+d"}, []string{"/files/a%20b/c%2Bd"}, []string{"/files/a"}},
	})
}

// A value that cannot be the parameter is an error, and nothing is
// invalidated: neither the route's URLs nor anything else.
func TestInvalidateRoute_RefusedValuesInvalidateNothing(t *testing.T) {
	s := newWireSite(t, fiber.Config{})
	s.warm("/users/a")
	s.warm("/api/items/a")
	for _, params := range []fiber.Map{
		{"id": "a/b"}, {"id": ""}, {"id": ".."}, {"id": "a\r\nb"}, {"Id ": 3}, {"id": 1, "ID": 2},
	} {
		err := s.cache.InvalidateRoute(s.app, s.base, "user", params)
		require.Error(t, err, "%v", params)
		require.Contains(t, err.Error(), "nothing was invalidated")
		err = s.helper(func(h *cache.CacheHelper) error { return h.InvalidateRoute("user", params) })
		require.Error(t, err, "%v", params)
	}
	for _, u := range []string{"/users/a", "/api/items/a"} {
		ran, _ := s.get(u)
		require.False(t, ran, "GET %s should still be a hit", u)
	}
}

// InvalidateURL and the Location of a write read a path as a client sending
// it would: what clients percent-encode is encoded, '|' (raw for browsers,
// encoded by Go) goes in both spellings, a pchar stays as it is even beside
// a byte Go's URL type would re-encode it for, and with UnescapePath the
// path is decoded as Fiber decodes it.
func TestInvalidateURL_SpeltAsClientsSend(t *testing.T) {
	cases := []struct {
		name    string
		cfg     fiber.Config
		url     string   // given as written
		gone    []string // request targets, each another path to the cache
		survive []string
	}{
		{"space", fiber.Config{}, "/users/john doe", []string{"/users/john%20doe"}, nil},
		{"non-ASCII", fiber.Config{}, "/users/café", []string{"/users/caf%C3%A9"}, nil},
		{"lone percent", fiber.Config{}, "/users/100%", []string{"/users/100%25", "/users/100%"}, nil},
		{"pipe", fiber.Config{}, "/users/a|b", []string{"/users/a|b", "/users/a%7Cb"}, nil},
		{"quote beside a pipe", fiber.Config{}, "/users/o'b|c", []string{"/users/o'b|c", "/users/o'b%7Cc"}, nil},
		{"quote beside non-ASCII", fiber.Config{}, "/users/o'café", []string{"/users/o'caf%C3%A9"}, nil},
		{"unescape: plus is a space", fiber.Config{UnescapePath: true}, "/users/a+b", []string{"/users/a+b"}, []string{"/users/a%2Bb"}},
		{"unescape: lone percent", fiber.Config{UnescapePath: true}, "/users/100%", []string{"/users/100%25"}, nil},
	}
	ways := map[string]func(s *wireSite, u string){
		"Cache.InvalidateURL": func(s *wireSite, u string) { require.NoError(s.t, s.cache.InvalidateURL(s.base+u)) },
		"Helper.InvalidateURL": func(s *wireSite, u string) {
			require.NoError(s.t, s.helper(func(h *cache.CacheHelper) error { return h.InvalidateURL(u) }))
		},
		"Location": func(s *wireSite, u string) {
			req, err := http.NewRequest(fiber.MethodPost, s.base+"/write", nil)
			require.NoError(s.t, err)
			req.Header.Set("X-Location", u)
			resp, err := s.client.Do(req)
			require.NoError(s.t, err)
			resp.Body.Close()
			require.Equal(s.t, fiber.StatusCreated, resp.StatusCode)
		},
	}
	for way, invalidate := range ways {
		for _, tc := range cases {
			t.Run(way+"/"+tc.name, func(t *testing.T) {
				s := newWireSite(t, tc.cfg)
				survive := append([]string{"/users/other"}, tc.survive...)
				for _, u := range append(append([]string(nil), tc.gone...), survive...) {
					s.warm(u)
				}
				invalidate(s, tc.url)
				for _, u := range tc.gone {
					ran, _ := s.get(u)
					require.True(t, ran, "GET %s should run the handler again after invalidating %q", u, tc.url)
				}
				for _, u := range survive {
					ran, _ := s.get(u)
					require.False(t, ran, "GET %s is another path", u)
				}
			})
		}
	}
}
