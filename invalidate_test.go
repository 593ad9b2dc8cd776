package cache_test

import (
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fiber-caches/cache"
	"github.com/fiber-caches/cache/internal/testkit"
)

// The tests of this file, helper_test.go and redis_invalidate_test.go tell a
// hit from a miss by counting handler runs, not only by X-Cache.

// invBase is the scheme and host of httptest.NewRequest's requests.
const invBase = "http://example.com"

// invSite is an app behind one cache whose GET handlers count their runs
// and answer with the version of the data they read, so a test tells a hit
// from a miss, and a stale answer from a fresh one.
//
// Routes: whatever extra registers, then POST /helper (runs onHelper), GET
// /users (named "users"), GET /users/:id (named "user", Vary:
// Accept-Language), GET /* (Vary: Accept-Language under /v/), and every
// unsafe method on /*, answering the status in X-Status (default 200) with
// the Location and Content-Location in X-Location and X-Content-Location,
// or returning the error whose status X-Error gives.
type invSite struct {
	t        *testing.T
	app      *fiber.App
	cache    *cache.Cache
	version  atomic.Int64
	mu       sync.Mutex
	runs     map[string]int // by absolute URL and Accept-Language
	onHelper func(c *fiber.Ctx) error
}

func newInvSite(t *testing.T, opts ...cache.Option) *invSite {
	t.Helper()
	return newInvSiteWith(t, nil, opts...)
}

// newInvSiteWith is newInvSite with extra routes, registered first.
func newInvSiteWith(t *testing.T, extra func(s *invSite), opts ...cache.Option) *invSite {
	t.Helper()
	s := &invSite{t: t, cache: cache.NewCache(append([]cache.Option{cache.WithStorageTimeout(testkit.StorageTimeout)}, opts...)...), runs: map[string]int{}}
	t.Cleanup(func() { _ = s.cache.Close() })
	s.app = fiber.New(fiber.Config{RequestMethods: append(append([]string(nil), fiber.DefaultMethods...), "PURGE")})
	s.app.Use(s.cache.Handler())
	if extra != nil {
		extra(s)
	}
	s.routes(s.app)
	return s
}

// page is a GET handler that counts its runs and answers the data version;
// with vary, it varies on Accept-Language.
func (s *invSite) page(vary bool) fiber.Handler {
	return func(c *fiber.Ctx) error {
		lang := c.Get(fiber.HeaderAcceptLanguage)
		uri := c.Request().URI().RequestURI()
		s.mu.Lock()
		s.runs[c.BaseURL()+string(uri)+"|"+lang]++
		s.mu.Unlock()
		if vary || strings.HasPrefix(c.Path(), "/v/") {
			c.Vary(fiber.HeaderAcceptLanguage)
		}
		return c.SendString(fmt.Sprintf("v%d %s %s", s.version.Load(), uri, lang))
	}
}

// routes registers the site's handlers on r.
func (s *invSite) routes(r fiber.Router) {
	r.Post("/helper", func(c *fiber.Ctx) error { return s.onHelper(c) })
	r.Get("/users", s.page(false)).Name("users")
	r.Get("/users/:id", s.page(true)).Name("user")
	r.Get("/*", s.page(false))
	unsafe := func(c *fiber.Ctx) error {
		if v := c.Get("X-Error"); v != "" {
			code, _ := strconv.Atoi(v)
			return fiber.NewError(code, "failed")
		}
		if v := c.Get("X-Location"); v != "" {
			c.Set(fiber.HeaderLocation, v)
		}
		if v := c.Get("X-Content-Location"); v != "" {
			c.Set(fiber.HeaderContentLocation, v)
		}
		status := fiber.StatusOK
		if v := c.Get("X-Status"); v != "" {
			status, _ = strconv.Atoi(v)
		}
		s.version.Add(1) // the data changes, then the response invalidates
		return c.Status(status).SendString("done")
	}
	for _, m := range []string{fiber.MethodPost, fiber.MethodPut, fiber.MethodPatch, fiber.MethodDelete, fiber.MethodOptions, fiber.MethodTrace, fiber.MethodConnect, "PURGE"} {
		r.Add(m, "/*", unsafe)
	}
}

// helper runs fn with the request's cache.Helper inside a POST handler and
// returns fn's error.
func (s *invSite) helper(fn func(h *cache.CacheHelper) error) error {
	s.t.Helper()
	var fnErr error
	s.onHelper = func(c *fiber.Ctx) error {
		h, err := cache.Helper(c)
		if err != nil {
			return err
		}
		fnErr = fn(h)
		return c.SendStatus(fiber.StatusNoContent)
	}
	r := s.do(fiber.MethodPost, "/helper")
	require.Equal(s.t, fiber.StatusNoContent, r.Status, r.Body)
	return fnErr
}

// invAbs returns target as an absolute URL.
func invAbs(target string) string {
	if strings.HasPrefix(target, "http://") || strings.HasPrefix(target, "https://") {
		return target
	}
	return invBase + target
}

func (s *invSite) runsOf(target, lang string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.runs[invAbs(target)+"|"+lang]
}

// do sends method target with the headers hdr ("Name: value") and returns
// the response.
func (s *invSite) do(method, target string, hdr ...string) testkit.Result {
	s.t.Helper()
	return testkit.Do(s.t, s.app, method, target, hdr...)
}

// fetch sends a GET (or HEAD) for target in language lang and reports
// whether the handler ran.
func (s *invSite) fetch(method, target, lang string) (ran bool, r testkit.Result) {
	s.t.Helper()
	before := s.runsOf(target, lang)
	var hdr []string
	if lang != "" {
		hdr = []string{fiber.HeaderAcceptLanguage + ": " + lang}
	}
	r = s.do(method, target, hdr...)
	require.Equal(s.t, fiber.StatusOK, r.Status, "%s %s: %s", method, target, r.Body)
	return s.runsOf(target, lang) > before, r
}

// miss asserts that a request for target runs the handler (and is stored).
func (s *invSite) miss(method, target, lang string, msgAndArgs ...any) {
	s.t.Helper()
	ran, r := s.fetch(method, target, lang)
	require.True(s.t, ran, append([]any{"%s %s [%s] should run the handler; %v", method, target, lang}, msgAndArgs...)...)
	require.Equal(s.t, "miss", r.Header.Get("X-Cache"), "%s %s [%s]", method, target, lang)
}

// hit asserts that a request for target is answered without the handler.
func (s *invSite) hit(method, target, lang string, msgAndArgs ...any) {
	s.t.Helper()
	ran, r := s.fetch(method, target, lang)
	require.False(s.t, ran, append([]any{"%s %s [%s] should be a hit; %v", method, target, lang}, msgAndArgs...)...)
	require.Equal(s.t, "hit", r.Header.Get("X-Cache"), "%s %s [%s]", method, target, lang)
}

// warm stores target (GET, and HEAD answered from it) and checks it hits.
func (s *invSite) warm(target, lang string) {
	s.t.Helper()
	s.miss(fiber.MethodGet, target, lang)
	s.hit(fiber.MethodGet, target, lang)
	s.hit(fiber.MethodHead, target, lang)
}

// invPrefix returns a storage key prefix of t's own, so tests sharing a
// Redis never see each other's keys.
func invPrefix(t *testing.T) string {
	return fmt.Sprintf("fibercache-test:%s:%s:%d:", invRun, t.Name(), invSeq.Add(1))
}

var (
	invRun = fmt.Sprintf("%d.%d", os.Getpid(), time.Now().UnixNano()) // this test process
	invSeq atomic.Int64
)

// invStores lists the storages most tests run with: the default in-process
// store and a fiber.Storage (encoded entries).
func invStores() map[string]func(t *testing.T) []cache.Option {
	return map[string]func(t *testing.T) []cache.Option{
		"memory":  func(*testing.T) []cache.Option { return nil },
		"storage": func(*testing.T) []cache.Option { return []cache.Option{cache.WithStorage(testkit.NewStorage())} },
	}
}

// --- automatic invalidation ---------------------------------------------------

func TestInvalidate_UnsafeSuccessInvalidatesGETAndHEAD(t *testing.T) {
	for store, opts := range invStores() {
		for _, method := range []string{fiber.MethodPost, fiber.MethodPut, fiber.MethodPatch, fiber.MethodDelete, "PURGE"} {
			for _, status := range []int{200, 201, 202, 204, 301, 302, 303, 307, 308} {
				t.Run(fmt.Sprintf("%s/%s/%d", store, method, status), func(t *testing.T) {
					s := newInvSite(t, opts(t)...)
					s.warm("/items/1", "")
					// A response stored by a HEAD goes too.
					s.miss(fiber.MethodHead, "/items/2", "")
					s.hit(fiber.MethodHead, "/items/2", "")

					r := s.do(method, "/items/1", "X-Status: "+strconv.Itoa(status))
					require.Equal(t, status, r.Status)
					r = s.do(method, "/items/2", "X-Status: "+strconv.Itoa(status))
					require.Equal(t, status, r.Status)

					s.miss(fiber.MethodHead, "/items/2", "", "HEAD-stored entry")
					s.miss(fiber.MethodGet, "/items/1", "")
					s.hit(fiber.MethodGet, "/items/1", "")
					s.hit(fiber.MethodHead, "/items/1", "")
					require.Equal(t, "v2 /items/1 ", s.do(fiber.MethodGet, "/items/1").Body, "fresh after the change")
				})
			}
		}
	}
}

func TestInvalidate_ErrorsAndSafeMethodsInvalidateNothing(t *testing.T) {
	for store, opts := range invStores() {
		cases := []struct {
			name   string
			method string
			hdr    []string
			status int // what the handler answered
		}{
			{"POST 400", fiber.MethodPost, []string{"X-Status: 400"}, 400},
			{"PUT 404", fiber.MethodPut, []string{"X-Status: 404"}, 404},
			{"PATCH 409", fiber.MethodPatch, []string{"X-Status: 409"}, 409},
			{"DELETE 500", fiber.MethodDelete, []string{"X-Status: 500"}, 500},
			{"POST 503", fiber.MethodPost, []string{"X-Status: 503"}, 503},
			{"DELETE handler error 403", fiber.MethodDelete, []string{"X-Error: 403"}, 403},
			{"POST handler error 500", fiber.MethodPost, []string{"X-Error: 500"}, 500},
			// Safe methods (RFC 9110 §9.2.1), and CONNECT, a tunnel rather
			// than a write, answered 2xx or 3xx.
			{"OPTIONS 200", fiber.MethodOptions, nil, 200},
			{"OPTIONS 301 with Location", fiber.MethodOptions, []string{"X-Status: 301", "X-Location: /items/2"}, 301},
			{"TRACE 200", fiber.MethodTrace, nil, 200},
			{"CONNECT 200", fiber.MethodConnect, nil, 200},
			{"POST 4xx with Location", fiber.MethodPost, []string{"X-Status: 422", "X-Location: /items/2"}, 422},
		}
		for _, tc := range cases {
			t.Run(store+"/"+tc.name, func(t *testing.T) {
				s := newInvSite(t, opts(t)...)
				s.warm("/items/1", "")
				s.warm("/items/2", "")
				r := s.do(tc.method, "/items/1", tc.hdr...)
				require.Equal(t, tc.status, r.Status, "the handler answered")
				s.hit(fiber.MethodGet, "/items/1", "")
				s.hit(fiber.MethodHead, "/items/1", "")
				s.hit(fiber.MethodGet, "/items/2", "")
			})
		}
	}
}

// TestInvalidate_WholePath: an invalidation is of a path: every query
// string of it goes (a change of /items/1 may show in /items/1?tab=2), and
// nothing else does (/items/10, /items).
func TestInvalidate_WholePath(t *testing.T) {
	for store, opts := range invStores() {
		t.Run(store, func(t *testing.T) {
			s := newInvSite(t, opts(t)...)
			for _, u := range []string{"/items/1", "/items/10", "/items/1?tab=2", "/items/1?tab=3&x=y", "/items"} {
				s.warm(u, "")
			}
			s.do(fiber.MethodPut, "/items/1")
			s.miss(fiber.MethodGet, "/items/1", "")
			s.miss(fiber.MethodGet, "/items/1?tab=2", "", "every query string of the path goes")
			s.miss(fiber.MethodGet, "/items/1?tab=3&x=y", "")
			s.hit(fiber.MethodGet, "/items/10", "")
			s.hit(fiber.MethodGet, "/items", "")
			// A write to one query string invalidates the path, all of it.
			s.do(fiber.MethodPut, "/items/1?tab=2")
			s.miss(fiber.MethodGet, "/items/1", "")
			s.miss(fiber.MethodGet, "/items/1?tab=2", "")
			s.hit(fiber.MethodGet, "/items/10", "")
		})
	}
}

func TestInvalidate_LocationAndContentLocation(t *testing.T) {
	cases := []struct {
		name    string
		post    string // request target of the POST
		hdr     []string
		gone    []string // invalidated
		survive []string // still hits
	}{
		{"Location path", "/users", []string{"X-Status: 201", "X-Location: /users/42"},
			[]string{"/users", "/users/42"}, []string{"/users/7"}},
		{"Location relative to the request", "/users/", []string{"X-Status: 201", "X-Location: 42"},
			[]string{"/users/", "/users/42"}, []string{"/users/7"}},
		// A path goes with every query string of it.
		{"Location dot-dot", "/users/42/rename", []string{"X-Status: 303", "X-Location: ../43?tab=profile"},
			[]string{"/users/42/rename", "/users/43?tab=profile", "/users/43"}, []string{"/users/42"}},
		{"Location absolute, same host", "/users", []string{"X-Status: 201", "X-Location: http://example.com/users/42"},
			[]string{"/users/42"}, []string{"/users/7"}},
		{"Location absolute, same host in another case", "/users", []string{"X-Status: 201", "X-Location: http://EXAMPLE.com/users/42"},
			[]string{"/users/42"}, nil},
		{"Location other host", "/users", []string{"X-Status: 201", "X-Location: http://other.example/users/42"},
			[]string{"/users"}, []string{"/users/42", "http://other.example/users/42"}},
		{"Content-Location", "/users/42", []string{"X-Content-Location: /users/42?format=full"},
			[]string{"/users/42", "/users/42?format=full"}, []string{"/users"}},
		{"Content-Location other host", "/users/42", []string{"X-Content-Location: http://other.example/users/42"},
			[]string{"/users/42"}, []string{"http://other.example/users/42"}},
		{"Location and Content-Location", "/users", []string{"X-Status: 201", "X-Location: /users/42", "X-Content-Location: /users/43"},
			[]string{"/users", "/users/42", "/users/43"}, []string{"/users/7"}},
		{"3xx redirect", "/users/42/avatar", []string{"X-Status: 303", "X-Location: /users/42"},
			[]string{"/users/42/avatar", "/users/42"}, []string{"/users/7"}},
		{"fragment ignored", "/users", []string{"X-Status: 201", "X-Location: /users/42#top"},
			[]string{"/users/42"}, nil},
		{"error status: not even Location", "/users", []string{"X-Status: 409", "X-Location: /users/42"},
			nil, []string{"/users", "/users/42"}},
		{"unparsable Location ignored", "/users", []string{"X-Status: 201", "X-Location: http://[::1/x"},
			[]string{"/users"}, []string{"/users/42"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newInvSite(t)
			for _, u := range append(append([]string(nil), tc.gone...), tc.survive...) {
				s.warm(u, "")
			}
			s.do(fiber.MethodPost, tc.post, tc.hdr...)
			for _, u := range tc.gone {
				s.miss(fiber.MethodGet, u, "", "should be invalidated")
			}
			for _, u := range tc.survive {
				s.hit(fiber.MethodGet, u, "", "should survive")
			}
		})
	}
}

func TestInvalidate_EveryVaryVariant(t *testing.T) {
	for store, opts := range invStores() {
		t.Run(store, func(t *testing.T) {
			s := newInvSite(t, opts(t)...)
			for _, lang := range []string{"en", "fr", ""} {
				s.warm("/users/42", lang)
			}
			s.do(fiber.MethodPut, "/users/42")
			for _, lang := range []string{"en", "fr", ""} {
				s.miss(fiber.MethodGet, "/users/42", lang)
				s.hit(fiber.MethodGet, "/users/42", lang)
				s.hit(fiber.MethodHead, "/users/42", lang)
			}
			require.Equal(t, 2, s.runsOf("/users/42", "en"))
			require.Equal(t, 2, s.runsOf("/users/42", "fr"))
			// And again: the variants stored after an invalidation go too.
			s.do(fiber.MethodDelete, "/users/42")
			s.miss(fiber.MethodGet, "/users/42", "fr")
			s.miss(fiber.MethodGet, "/users/42", "en")
		})
	}
}

// TestInvalidate_ConstantStorageOps checks that an invalidation costs the
// same two storage calls (a Get of the path record, a Set of a fresh
// generation) whatever the number of stored variants, never deletes, never
// scans and never calls Reset.
func TestInvalidate_ConstantStorageOps(t *testing.T) {
	invConstantOps(t, func(*testing.T) fiber.Storage { return testkit.NewStorage() })
}

func invConstantOps(t *testing.T, newStorage func(*testing.T) fiber.Storage) {
	type cost struct {
		byURL, byUnsafe, byHelper testkit.Counts
	}
	measure := func(t *testing.T, variants int) cost {
		spy := testkit.Wrap(newStorage(t))
		c := cache.NewCache(cache.WithStorage(spy), cache.WithTTL(time.Minute), cache.WithKeyPrefix(invPrefix(t)), cache.WithStorageTimeout(testkit.StorageTimeout))
		t.Cleanup(func() { _ = c.Close() })
		app := fiber.New()
		app.Use(c.Handler())
		var runs atomic.Int64
		var helperCost testkit.Counts
		app.Get("/p", func(c *fiber.Ctx) error {
			runs.Add(1)
			c.Vary("X-Variant")
			return c.SendString(c.Get("X-Variant"))
		})
		app.Put("/p", func(c *fiber.Ctx) error { return c.SendStatus(fiber.StatusNoContent) })
		app.Post("/purge", func(c *fiber.Ctx) error {
			h, err := cache.Helper(c)
			if err != nil {
				return err
			}
			spy.TakeCounts()
			err = h.InvalidateURL("/p")
			helperCost = spy.Counts() // before the POST's own invalidation of /purge
			return err
		})
		// stored sends a GET for every variant and checks that they all run
		// the handler (wantMiss) or all hit.
		stored := func(wantMiss bool) {
			t.Helper()
			runs.Store(0)
			for i := range variants {
				r := testkit.Do(t, app, fiber.MethodGet, "/p", "X-Variant: "+strconv.Itoa(i))
				require.Equal(t, strconv.Itoa(i), r.Body)
				if !wantMiss {
					require.Equal(t, "hit", r.Header.Get("X-Cache"))
				}
			}
			if wantMiss {
				require.EqualValues(t, variants, runs.Load(), "every variant runs the handler")
			} else {
				require.EqualValues(t, 0, runs.Load(), "every variant is a hit")
			}
		}
		var got cost

		stored(true)
		stored(false)
		spy.TakeCounts()
		require.NoError(t, c.InvalidateURL(invBase+"/p"))
		got.byURL = spy.Counts()
		stored(true)
		stored(false)

		// The PUT itself runs through the middleware: count from its start.
		spy.TakeCounts()
		require.Equal(t, fiber.StatusNoContent, testkit.Do(t, app, fiber.MethodPut, "/p").Status)
		got.byUnsafe = spy.Counts()
		stored(true)
		stored(false)

		require.Equal(t, fiber.StatusOK, testkit.Do(t, app, fiber.MethodPost, "/purge").Status)
		got.byHelper = helperCost
		stored(true)
		return got
	}
	one := measure(t, 1)
	fifty := measure(t, 50)
	// A Get of the path record, a Set of a fresh generation: one path
	// record for every query, variant, method and scheme of the path.
	want := testkit.Counts{Gets: 1, Sets: 1, Deletes: 0, Resets: 0}
	assert.Equal(t, want, one.byURL, "Cache.InvalidateURL, 1 variant")
	assert.Equal(t, want, fifty.byURL, "Cache.InvalidateURL, 50 variants")
	assert.Equal(t, want, one.byUnsafe, "PUT, 1 variant")
	assert.Equal(t, want, fifty.byUnsafe, "PUT, 50 variants")
	assert.Equal(t, want, one.byHelper, "Helper.InvalidateURL, 1 variant")
	assert.Equal(t, want, fifty.byHelper, "Helper.InvalidateURL, 50 variants")
}

// --- races ------------------------------------------------------------------
//
// What the race tests prove: once an invalidation is acknowledged, no
// response computed before it is ever served, however the storing request
// R (lookup, path-record creation, handler, store) and the invalidation I
// interleave. They stop R at each of its storage operations in turn (a
// testkit.Storage's hooks for a fiber.Storage, a go-redis hook for the
// Redis fast path) and at each point of its handler, run I to its
// acknowledgment there, and check that G, a GET sent right after the
// acknowledgment, and every GET after R, through either instance and in
// every language, answer the changed data. Every wait is bounded: a hang
// fails the test.

// invRaceTimeout bounds every wait of the race tests, and is the storage
// timeout of their caches (a storage call held by a hook must not time out).
const invRaceTimeout = 10 * time.Second

// invWait receives from ch, failing the test when nothing comes in time.
func invWait[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(invRaceTimeout):
		t.Fatalf("timed out after %v waiting for %s", invRaceTimeout, what)
		panic("unreachable")
	}
}

// invRaceApp is one instance of a service whose GET /r handler answers the
// version of the data (shared by the instances of a test) it read; hooks
// stop it at the points of a request's story.
type invRaceApp struct {
	vary    bool
	app     *fiber.App
	cache   *cache.Cache
	version *atomic.Int64
	runs    atomic.Int64
	// One-shot hooks: before the handler reads the data, after it read
	// it, and in a middleware in front of the cache once the cache has
	// answered a GET (stored it, if it stores).
	onStart, onRead, afterCache atomic.Pointer[func()]
	coalesced                   chan struct{} // a request coalesced (observer)
}

// invObserver signals every EventCoalesced, without ever blocking.
type invObserver struct{ ch chan struct{} }

func (o invObserver) Observe(ev cache.Event, _ cache.Reason) {
	if ev == cache.EventCoalesced {
		select {
		case o.ch <- struct{}{}:
		default:
		}
	}
}

func newInvRaceApp(t *testing.T, vary bool, version *atomic.Int64, opts ...cache.Option) *invRaceApp {
	t.Helper()
	a := &invRaceApp{vary: vary, version: version, coalesced: make(chan struct{}, 16)}
	opts = append([]cache.Option{cache.WithStorageTimeout(invRaceTimeout), cache.WithObserver(invObserver{a.coalesced})}, opts...)
	a.cache = cache.NewCache(opts...)
	t.Cleanup(func() { _ = a.cache.Close() })
	a.app = fiber.New()
	a.app.Use(func(c *fiber.Ctx) error {
		err := c.Next()
		if c.Method() == fiber.MethodGet {
			invFire(&a.afterCache)
		}
		return err
	})
	a.app.Use(a.cache.Handler())
	// GET /r, through a route whose parameter InvalidateRoute can leave
	// out (the whole route), tagged "data".
	a.app.Get("/:res", func(c *fiber.Ctx) error {
		a.runs.Add(1)
		invFire(&a.onStart)
		v := a.version.Load()
		invFire(&a.onRead)
		if a.vary {
			c.Vary(fiber.HeaderAcceptLanguage)
		}
		cache.Tag(c, "data")
		return c.SendString(a.body(v, c.Get(fiber.HeaderAcceptLanguage)))
	}).Name("r")
	return a
}

// invFire runs the hook in p once, if there is one.
func invFire(p *atomic.Pointer[func()]) {
	if f := p.Swap(nil); f != nil {
		(*f)()
	}
}

// body is the answer of version v in language lang.
func (a *invRaceApp) body(v int64, lang string) string {
	if !a.vary {
		return fmt.Sprintf("v%d", v)
	}
	return fmt.Sprintf("v%d %s", v, lang)
}

// invGo sends a GET /r in language lang in a goroutine; the channel gets
// its body, or an error.
func invGo(app *fiber.App, lang string) <-chan string {
	return invGoMethod(app, fiber.MethodGet, lang)
}

func invGoMethod(app *fiber.App, method, lang string) <-chan string {
	out := make(chan string, 1)
	go func() {
		req := httptest.NewRequest(method, "/r", nil)
		if lang != "" {
			req.Header.Set(fiber.HeaderAcceptLanguage, lang)
		}
		resp, err := app.Test(req, -1)
		if err != nil {
			out <- "error: " + err.Error()
			return
		}
		b, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if err != nil {
			out <- "error: " + err.Error()
			return
		}
		out <- string(b)
	}()
	return out
}

// invRaceEnv is one race test's world: instances A (which serves R) and B
// (which invalidates; B is A for the in-process store) on one store.
type invRaceEnv struct {
	version atomic.Int64
	a, b    *invRaceApp
	// tap, when the store has storage operations to stop at, makes f run
	// before (after=false) and after (after=true) each of A's; nil f
	// removes it.
	tap func(f func(after bool))
	// holdISet, for a fiber.Storage, makes hold run before each Set made
	// through B (I's write of a fresh generation); nil removes it.
	holdISet func(hold func())
	// how I invalidates /r: one of invRaceHows.
	how string
}

// invRaceHows are the ways I invalidates /r: its URL, its tag (which the
// cold scenarios see first on R's own response), its whole route.
var invRaceHows = []string{"url", "tag", "route"}

// invalidate is I's invalidation of /r, through B.
func (e *invRaceEnv) invalidate() error {
	switch e.how {
	case "tag":
		return e.b.cache.InvalidateTags("data")
	case "route":
		return e.b.cache.InvalidateRoute(e.b.app, invBase, "r", nil)
	}
	return e.b.cache.InvalidateURL(invBase + "/r")
}

// invTickClock returns a clock for the instances of one test: real time,
// but never the same microsecond twice, so that a plain storage's tag
// sequence (its clock) orders every lookup and invalidation of one
// process without a margin (WithClockSkew(0)).
func invTickClock() func() time.Time {
	var last atomic.Int64
	return func() time.Time {
		for {
			prev := last.Load()
			next := max(time.Now().UnixMicro(), prev+1)
			if last.CompareAndSwap(prev, next) {
				return time.UnixMicro(next)
			}
		}
	}
}

// invRaceBackend makes race-test worlds on one kind of store.
type invRaceBackend struct {
	name   string
	hasOps bool // its worlds have a tap
	new    func(t *testing.T, vary bool) *invRaceEnv
}

func invMemoryRaceBackend() invRaceBackend {
	return invRaceBackend{"memory", false, func(t *testing.T, vary bool) *invRaceEnv {
		e := &invRaceEnv{}
		e.a = newInvRaceApp(t, vary, &e.version)
		e.b = e.a
		cache.Isolate(e.a.cache) // its tests run in parallel: main_test.go
		return e
	}}
}

// invStorageRaceBackend runs A and B on one fiber.Storage (made once per
// test by newStorage; each instance sees it through its own testkit.Wrap,
// which hides any Conn method: the generic fiber.Storage path).
func invStorageRaceBackend(name string, newStorage func(t *testing.T) (fiber.Storage, string)) invRaceBackend {
	return invRaceBackend{name, true, func(t *testing.T, vary bool) *invRaceEnv {
		s, prefix := newStorage(t)
		spyA, spyB := testkit.Wrap(s), testkit.Wrap(s)
		e := &invRaceEnv{}
		clock := invTickClock()
		opts := func(spy *testkit.Storage) []cache.Option {
			return []cache.Option{cache.WithStorage(spy), cache.WithKeyPrefix(prefix), cache.WithTTL(time.Minute),
				cache.WithClock(clock), cache.WithClockSkew(0)}
		}
		e.a = newInvRaceApp(t, vary, &e.version, opts(spyA)...)
		e.b = newInvRaceApp(t, vary, &e.version, opts(spyB)...)
		// Two processes: B learns of A's invalidations through the storage
		// alone (and the tests run in parallel: main_test.go).
		cache.Isolate(e.a.cache)
		cache.Isolate(e.b.cache)
		e.tap = func(f func(after bool)) {
			if f == nil {
				spyA.SetHooks(nil, nil)
				return
			}
			spyA.SetHooks(func(testkit.Op) { f(false) }, func(testkit.Op) { f(true) })
		}
		e.holdISet = func(hold func()) {
			if hold == nil {
				spyB.SetHooks(nil, nil)
				return
			}
			spyB.SetHooks(func(op testkit.Op) {
				if op.Name == "set" {
					hold()
				}
			}, nil)
		}
		return e
	}}
}

func invMapRaceBackend() invRaceBackend {
	return invStorageRaceBackend("storage", func(t *testing.T) (fiber.Storage, string) { return testkit.NewStorage(), invPrefix(t) })
}

// invRaceScenario is what is stored before R, and R's language.
type invRaceScenario struct {
	name string
	vary bool
	prep func(t *testing.T, e *invRaceEnv)
	lang string   // R's
	also []string // other languages checked after the race
}

func invRaceScenarios() []invRaceScenario {
	get := func(which func(e *invRaceEnv) *invRaceApp, method, lang string) func(t *testing.T, e *invRaceEnv) {
		return func(t *testing.T, e *invRaceEnv) {
			invWait(t, invGoMethod(which(e).app, method, lang), "a request before R")
		}
	}
	viaA := func(e *invRaceEnv) *invRaceApp { return e.a }
	viaB := func(e *invRaceEnv) *invRaceApp { return e.b }
	return []invRaceScenario{
		{name: "cold", lang: ""},
		{name: "HEAD stored", prep: get(viaA, fiber.MethodHead, ""), lang: ""},
		{name: "invalidated entry", prep: func(t *testing.T, e *invRaceEnv) {
			get(viaA, fiber.MethodGet, "")(t, e)
			e.version.Add(1)
			require.NoError(t, e.invalidate())
		}, lang: ""},
		{name: "vary cold", vary: true, lang: "en", also: []string{"fr"}},
		{name: "vary other variant via A", vary: true, prep: get(viaA, fiber.MethodGet, "fr"), lang: "en", also: []string{"fr", "de"}},
		{name: "vary other variant via B", vary: true, prep: get(viaB, fiber.MethodGet, "fr"), lang: "en", also: []string{"fr", "de"}},
	}
}

// invRacePoint is where I runs: before or after A's storage operation
// number op (kind "op"), or at a point of R's story.
type invRacePoint struct {
	kind  string // "op", "handler-start", "handler-read", "after-cache"
	op    int
	after bool
}

func (p invRacePoint) String() string {
	if p.kind != "op" {
		return p.kind
	}
	if p.after {
		return fmt.Sprintf("after-op-%d", p.op)
	}
	return fmt.Sprintf("before-op-%d", p.op)
}

// invCountOps runs R alone in the scenario and returns the number of
// storage operations A made for it.
func invCountOps(t *testing.T, be invRaceBackend, sc invRaceScenario) int {
	t.Helper()
	e := be.new(t, sc.vary)
	if sc.prep != nil {
		sc.prep(t, e)
	}
	var n atomic.Int64
	e.tap(func(after bool) {
		if !after {
			n.Add(1)
		}
	})
	invWait(t, invGo(e.a.app, sc.lang), "R")
	e.tap(nil)
	return int(n.Load())
}

// invRacePoints returns every point of R's story, its storage operations
// (counted by a dry run) included.
func invRacePoints(t *testing.T, be invRaceBackend, sc invRaceScenario) []invRacePoint {
	pts := []invRacePoint{{kind: "handler-start"}, {kind: "handler-read"}, {kind: "after-cache"}}
	if !be.hasOps {
		return pts
	}
	// Twice: the first run may load the Redis scripts.
	invCountOps(t, be, sc)
	n := invCountOps(t, be, sc)
	require.Positive(t, n)
	for i := range n {
		pts = append(pts, invRacePoint{kind: "op", op: i}, invRacePoint{kind: "op", op: i, after: true})
	}
	return pts
}

// TestInvalidate_RaceAtEveryPoint runs I at every point of R's story on the
// in-process store and on a fiber.Storage.
func TestInvalidate_RaceAtEveryPoint(t *testing.T) {
	t.Parallel() // long: main_test.go
	for _, be := range []invRaceBackend{invMemoryRaceBackend(), invMapRaceBackend()} {
		invRaceEveryPoint(t, be)
	}
}

// invRaceEveryPoint runs I at every point of R's story in be's worlds,
// invalidating in each of hows (every way when none is given).
func invRaceEveryPoint(t *testing.T, be invRaceBackend, hows ...string) {
	if len(hows) == 0 {
		hows = invRaceHows
	}
	for _, how := range hows {
		be := be.by(how)
		for _, sc := range invRaceScenarios() {
			t.Run(be.name+"/"+sc.name, func(t *testing.T) {
				for _, p := range invRacePoints(t, be, sc) {
					if !t.Run(p.String(), func(t *testing.T) { invRaceAt(t, be, sc, p) }) {
						return // one failing point is enough to read
					}
				}
			})
		}
	}
}

// by returns be whose worlds invalidate the way how says.
func (be invRaceBackend) by(how string) invRaceBackend {
	newEnv := be.new
	be.name += "/" + how
	be.new = func(t *testing.T, vary bool) *invRaceEnv {
		e := newEnv(t, vary)
		e.how = how
		return e
	}
	return be
}

// invRaceAt runs R with I (a change of the data, then its invalidation
// through B, acknowledged) at point p, then G, a GET sent right after the
// acknowledgment; and checks that G and every GET after R answer the
// changed data.
func invRaceAt(t *testing.T, be invRaceBackend, sc invRaceScenario, p invRacePoint) {
	e := be.new(t, sc.vary)
	if sc.prep != nil {
		sc.prep(t, e)
	}
	var (
		fired, inI atomic.Bool
		iErr       atomic.Pointer[error]
		gRes       = make(chan (<-chan string), 1)
	)
	trigger := func() {
		if !fired.CompareAndSwap(false, true) {
			return
		}
		e.version.Add(1)
		inI.Store(true) // I's own operations through A (every cache of the process is invalidated) are not R's
		if err := e.invalidate(); err != nil {
			iErr.Store(&err)
		}
		inI.Store(false)
		gRes <- invGo(e.a.app, sc.lang)
	}
	switch p.kind {
	case "op":
		var before, after atomic.Int64
		e.tap(func(isAfter bool) {
			if inI.Load() || fired.Load() {
				return
			}
			n := &before
			if isAfter {
				n = &after
			}
			if int(n.Add(1)-1) == p.op && isAfter == p.after {
				trigger()
			}
		})
	case "handler-start":
		e.a.onStart.Store(&trigger)
	case "handler-read":
		e.a.onRead.Store(&trigger)
	case "after-cache":
		e.a.afterCache.Store(&trigger)
	}
	r := invWait(t, invGo(e.a.app, sc.lang), "R")
	require.True(t, fired.Load(), "R never reached %s", p)
	if err := iErr.Load(); err != nil {
		require.NoError(t, *err)
	}
	want := e.version.Load()
	require.Contains(t, []string{e.a.body(want-1, sc.lang), e.a.body(want, sc.lang)}, r, "R's own answer")
	g := invWait(t, invWait(t, gRes, "G to be sent"), "G")
	require.Equal(t, e.a.body(want, sc.lang), g, "G was sent after the invalidation was acknowledged (R answered %q)", r)
	if e.tap != nil {
		e.tap(nil)
	}
	invRaceAfter(t, e, sc, r)
}

// invRaceAfter checks that, R and I over, every language is answered with
// the changed data through both instances, and that the cache still
// stores: the next request for R's language is a hit.
func invRaceAfter(t *testing.T, e *invRaceEnv, sc invRaceScenario, r string) {
	t.Helper()
	want := e.version.Load()
	for _, l := range append(append([]string{sc.lang}, sc.also...), "it") {
		for name, x := range map[string]*invRaceApp{"A": e.a, "B": e.b} {
			got := testkit.Do(t, x.app, fiber.MethodGet, "/r", fiber.HeaderAcceptLanguage+": "+l).Body
			require.Equal(t, e.a.body(want, l), got, "stale answer through %s for language %q after the race; R answered %q", name, l, r)
		}
	}
	got := testkit.Do(t, e.a.app, fiber.MethodGet, "/r", fiber.HeaderAcceptLanguage+": "+sc.lang)
	require.Equal(t, e.a.body(want, sc.lang), got.Body)
	require.Equal(t, "hit", got.Header.Get("X-Cache"), "the cache stores again after the race")
}

// TestInvalidate_RaceInterleavings splits I on a fiber.Storage, which has
// no atomic update, into its read of the path record and its write of a
// fresh generation, and runs the read just before R's storage operation p1
// and the write just before R's operation p2 (or after R), for every p1 ≤
// p2.
func TestInvalidate_RaceInterleavings(t *testing.T) {
	t.Parallel() // long: main_test.go
	invRaceSplitAll(t, invMapRaceBackend())
}

func invRaceSplitAll(t *testing.T, be invRaceBackend) {
	for _, how := range invRaceHows {
		invRaceSplitHow(t, be.by(how))
	}
}

// invRaceSplitHow runs every split of I in be's worlds, in the scenarios
// named (every one when none is).
func invRaceSplitHow(t *testing.T, be invRaceBackend, scenarios ...string) {
	all := invRaceScenarios()
	for _, name := range scenarios {
		require.True(t, slices.ContainsFunc(all, func(sc invRaceScenario) bool { return sc.name == name }), "no scenario is named %q", name)
	}
	for _, sc := range all {
		if len(scenarios) > 0 && !slices.Contains(scenarios, sc.name) {
			continue
		}
		t.Run(be.name+"/"+sc.name, func(t *testing.T) {
			invCountOps(t, be, sc)
			n := invCountOps(t, be, sc)
			for p1 := 0; p1 <= n; p1++ {
				for p2 := p1; p2 <= n; p2++ {
					name := fmt.Sprintf("read-before-op-%d/write-before-op-%d", p1, p2)
					if !t.Run(name, func(t *testing.T) { invRaceSplit(t, be, sc, p1, p2) }) {
						return
					}
				}
			}
		})
	}
}

func invRaceSplit(t *testing.T, be invRaceBackend, sc invRaceScenario, p1, p2 int) {
	e := be.new(t, sc.vary)
	if sc.prep != nil {
		sc.prep(t, e)
	}
	atSet, goSet := make(chan struct{}), make(chan struct{})
	var atSetOnce sync.Once
	over := make(chan struct{}) // a storage call may outlive its timeout, and the test
	t.Cleanup(func() { close(over) })
	e.holdISet(func() {
		atSetOnce.Do(func() { close(atSet) })
		select {
		case <-goSet:
		case <-over:
		case <-time.After(invRaceTimeout):
			t.Errorf("I's write was never released")
		}
	})
	var (
		inI     atomic.Bool // I's own operations through A are not R's
		started atomic.Bool
		acked   atomic.Bool
		iDone   = make(chan error, 1)
		gRes    = make(chan (<-chan string), 1)
		errs    = make(chan string, 4)
	)
	ack := func() {
		select {
		case err := <-iDone:
			if err != nil {
				errs <- err.Error()
			}
		case <-time.After(invRaceTimeout):
			errs <- "timed out waiting for I"
		}
		acked.Store(true)
		gRes <- invGo(e.a.app, sc.lang)
	}
	done := make(chan struct{})
	start := func() { // I's read, up to its write (or its end: no record)
		started.Store(true)
		e.version.Add(1)
		inI.Store(true)
		go func() {
			err := e.invalidate()
			iDone <- err
			close(done)
		}()
		select {
		case <-atSet:
			inI.Store(false)
		case <-done: // I ended at its read: no record, nothing to write
			inI.Store(false)
			ack()
		case <-time.After(invRaceTimeout):
			errs <- "timed out waiting for I's read"
		}
	}
	finish := func() { // I's write, and its acknowledgment
		if acked.Load() {
			return
		}
		inI.Store(true)
		close(goSet)
		ack()
		inI.Store(false)
	}
	var n atomic.Int64
	e.tap(func(after bool) {
		if after || inI.Load() || acked.Load() {
			return
		}
		i := int(n.Add(1) - 1)
		if i == p1 {
			start()
		}
		if i == p2 {
			finish()
		}
	})
	r := invWait(t, invGo(e.a.app, sc.lang), "R")
	e.tap(nil)
	if !started.Load() {
		start()
	}
	finish()
	close(errs)
	for msg := range errs {
		t.Fatal(msg)
	}
	e.holdISet(nil)
	want := e.version.Load()
	g := invWait(t, invWait(t, gRes, "G to be sent"), "G")
	require.Equal(t, e.a.body(want, sc.lang), g, "G was sent after the invalidation was acknowledged (R answered %q)", r)
	invRaceAfter(t, e, sc, r)
}

// TestInvalidate_RaceCoalescedFollower: F, sent after an invalidation was
// acknowledged, coalesces with L, whose handler read the data before it;
// F must not be handed L's response. Then L is released.
func TestInvalidate_RaceCoalescedFollower(t *testing.T) {
	for _, be := range []invRaceBackend{invMemoryRaceBackend(), invMapRaceBackend()} {
		invRaceCoalesced(t, be)
	}
}

func invRaceCoalesced(t *testing.T, be invRaceBackend) {
	for _, how := range invRaceHows {
		invRaceCoalescedHow(t, be.by(how))
	}
}

func invRaceCoalescedHow(t *testing.T, be invRaceBackend) {
	for _, vary := range []bool{false, true} {
		t.Run(fmt.Sprintf("%s/vary=%v", be.name, vary), func(t *testing.T) {
			e := be.new(t, vary)
			lang := ""
			if vary {
				lang = "en"
				invWait(t, invGo(e.a.app, "fr"), "a request before L")
			}
			held, release := make(chan struct{}), make(chan struct{})
			hold := func() {
				close(held)
				select {
				case <-release:
				case <-time.After(invRaceTimeout):
					t.Errorf("L was never released")
				}
			}
			e.a.onRead.Store(&hold)
			resL := invGo(e.a.app, lang)
			invWait(t, held, "L's handler")
			e.version.Add(1)
			require.NoError(t, e.invalidate())
			resF := invGo(e.a.app, lang)
			invWait(t, e.a.coalesced, "F to coalesce with L")
			close(release)
			require.Equal(t, e.a.body(0, lang), invWait(t, resL, "L"))
			require.Equal(t, e.a.body(1, lang), invWait(t, resF, "F"), "F was sent after the invalidation was acknowledged")
			invRaceAfter(t, e, invRaceScenario{vary: vary, lang: lang, also: []string{"fr"}}, "")
		})
	}
}

// TestInvalidate_RaceStress runs readers and writers of a few URLs at once
// (run it with -race) and checks that once they are done every URL and
// variant is answered with its latest data. (correctness_test.go checks
// every read against the writes acknowledged before it, through a real
// listener.)
func TestInvalidate_RaceStress(t *testing.T) {
	for store, opts := range invStores() {
		t.Run(store, func(t *testing.T) { invStress(t, opts(t)...) })
	}
}

func invStress(t *testing.T, opts ...cache.Option) {
	c := cache.NewCache(append([]cache.Option{cache.WithStorageTimeout(testkit.StorageTimeout)}, opts...)...)
	t.Cleanup(func() { _ = c.Close() })
	app := fiber.New()
	app.Use(c.Handler())
	const urls = 3
	var versions [urls]atomic.Int64
	app.Get("/s/:n", func(ctx *fiber.Ctx) error {
		n, _ := ctx.ParamsInt("n")
		v := versions[n].Load()
		ctx.Vary(fiber.HeaderAcceptLanguage)
		return ctx.SendString(fmt.Sprintf("v%d", v))
	})
	app.Put("/s/:n", func(ctx *fiber.Ctx) error {
		n, _ := ctx.ParamsInt("n")
		versions[n].Add(1)
		return ctx.SendStatus(fiber.StatusNoContent)
	})
	langs := []string{"en", "fr", "de"}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	send := func(method string, n int, lang string) {
		req := httptest.NewRequest(method, fmt.Sprintf("/s/%d?q=%d", n, len(lang)), nil)
		req.Header.Set(fiber.HeaderAcceptLanguage, lang)
		resp, err := app.Test(req, -1)
		if err != nil {
			select {
			case errs <- err:
			default:
			}
			return
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
	}
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 60 {
				n, lang := (w+i)%urls, langs[(w*7+i)%len(langs)]
				if (w+i)%5 == 0 {
					send(fiber.MethodPut, n, lang)
				} else {
					send(fiber.MethodGet, n, lang)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	for n := range urls {
		for _, lang := range langs {
			body := testkit.Do(t, app, fiber.MethodGet, fmt.Sprintf("/s/%d?q=%d", n, len(lang)), fiber.HeaderAcceptLanguage+": "+lang).Body
			require.Equal(t, fmt.Sprintf("v%d", versions[n].Load()), body, "/s/%d [%s]", n, lang)
		}
	}
}
