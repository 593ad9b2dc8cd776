package cache_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
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
	"github.com/fiber-caches/cache/internal/entry"
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
	s := &invSite{t: t, cache: cache.NewCache(opts...), runs: map[string]int{}}
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
	for _, m := range []string{fiber.MethodPost, fiber.MethodPut, fiber.MethodPatch, fiber.MethodDelete, fiber.MethodOptions, "PURGE"} {
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
	resp, body := s.do(fiber.MethodPost, "/helper")
	require.Equal(s.t, fiber.StatusNoContent, resp.StatusCode, body)
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

// do sends method target with the header pairs hdr (name, value, ...) and
// returns the response and its body.
func (s *invSite) do(method, target string, hdr ...string) (*http.Response, string) {
	s.t.Helper()
	return invDo(s.t, s.app, method, target, hdr...)
}

func invDo(t *testing.T, app *fiber.App, method, target string, hdr ...string) (*http.Response, string) {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := app.Test(req, -1)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	return resp, string(body)
}

// fetch sends a GET (or HEAD) for target in language lang and reports
// whether the handler ran.
func (s *invSite) fetch(method, target, lang string) (ran bool, resp *http.Response, body string) {
	s.t.Helper()
	before := s.runsOf(target, lang)
	var hdr []string
	if lang != "" {
		hdr = []string{fiber.HeaderAcceptLanguage, lang}
	}
	resp, body = s.do(method, target, hdr...)
	require.Equal(s.t, fiber.StatusOK, resp.StatusCode, "%s %s: %s", method, target, body)
	return s.runsOf(target, lang) > before, resp, body
}

// miss asserts that a request for target runs the handler (and is stored).
func (s *invSite) miss(method, target, lang string, msgAndArgs ...any) {
	s.t.Helper()
	ran, resp, _ := s.fetch(method, target, lang)
	require.True(s.t, ran, append([]any{"%s %s [%s] should run the handler; %v", method, target, lang}, msgAndArgs...)...)
	require.Equal(s.t, "miss", resp.Header.Get("X-Cache"), "%s %s [%s]", method, target, lang)
}

// hit asserts that a request for target is answered without the handler.
func (s *invSite) hit(method, target, lang string, msgAndArgs ...any) {
	s.t.Helper()
	ran, resp, _ := s.fetch(method, target, lang)
	require.False(s.t, ran, append([]any{"%s %s [%s] should be a hit; %v", method, target, lang}, msgAndArgs...)...)
	require.Equal(s.t, "hit", resp.Header.Get("X-Cache"), "%s %s [%s]", method, target, lang)
}

// warm stores target (GET, and HEAD answered from it) and checks it hits.
func (s *invSite) warm(target, lang string) {
	s.t.Helper()
	s.miss(fiber.MethodGet, target, lang)
	s.hit(fiber.MethodGet, target, lang)
	s.hit(fiber.MethodHead, target, lang)
}

// --- storages ---------------------------------------------------------------

// invMapStorage is a minimal fiber.Storage in a map. Values never expire:
// the tests run far shorter than any TTL they use.
type invMapStorage struct {
	mu sync.Mutex
	m  map[string][]byte
}

func newInvMapStorage() *invMapStorage { return &invMapStorage{m: map[string][]byte{}} }

func (s *invMapStorage) Get(key string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[key]
	if !ok {
		return nil, nil
	}
	return append([]byte(nil), v...), nil
}

func (s *invMapStorage) Set(key string, val []byte, _ time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[key] = append([]byte(nil), val...)
	return nil
}

func (s *invMapStorage) Delete(key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, key)
	return nil
}

func (s *invMapStorage) Reset() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.m)
	return nil
}

func (s *invMapStorage) Close() error { return nil }

// invOp is one storage call seen by invSpyStorage.
type invOp struct {
	name string     // "get", "set", "delete"
	key  string     // the storage key
	kind entry.Kind // for "set": the kind of entry written
}

// invSpyStorage wraps a fiber.Storage: it counts the calls, and runs before
// and after (when set) around each Get, Set and Delete.
type invSpyStorage struct {
	fiber.Storage
	gets, sets, deletes, resets atomic.Int64

	mu            sync.Mutex
	before, after func(invOp)
}

func (s *invSpyStorage) hooks() (before, after func(invOp)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.before, s.after
}

// setHooks installs before and after; nil removes them.
func (s *invSpyStorage) setHooks(before, after func(invOp)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.before, s.after = before, after
}

func (s *invSpyStorage) around(op invOp, call func() error) error {
	before, after := s.hooks()
	if before != nil {
		before(op)
	}
	err := call()
	if after != nil {
		after(op)
	}
	return err
}

func (s *invSpyStorage) Get(key string) (v []byte, err error) {
	s.gets.Add(1)
	err = s.around(invOp{name: "get", key: key}, func() error {
		v, err = s.Storage.Get(key)
		return err
	})
	return v, err
}

func (s *invSpyStorage) Set(key string, val []byte, exp time.Duration) error {
	s.sets.Add(1)
	op := invOp{name: "set", key: key}
	if e, err := entry.Decode(val); err == nil {
		op.kind = e.Kind
	}
	return s.around(op, func() error { return s.Storage.Set(key, val, exp) })
}

func (s *invSpyStorage) Delete(key string) error {
	s.deletes.Add(1)
	return s.around(invOp{name: "delete", key: key}, func() error { return s.Storage.Delete(key) })
}

func (s *invSpyStorage) Reset() error {
	s.resets.Add(1)
	return s.Storage.Reset()
}

// counts returns the calls so far, as gets, sets, deletes, resets.
func (s *invSpyStorage) counts() [4]int64 {
	return [4]int64{s.gets.Load(), s.sets.Load(), s.deletes.Load(), s.resets.Load()}
}

func (s *invSpyStorage) resetCounts() {
	s.gets.Store(0)
	s.sets.Store(0)
	s.deletes.Store(0)
	s.resets.Store(0)
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
		"storage": func(*testing.T) []cache.Option { return []cache.Option{cache.WithStorage(newInvMapStorage())} },
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

					resp, _ := s.do(method, "/items/1", "X-Status", strconv.Itoa(status))
					require.Equal(t, status, resp.StatusCode)
					resp, _ = s.do(method, "/items/2", "X-Status", strconv.Itoa(status))
					require.Equal(t, status, resp.StatusCode)

					s.miss(fiber.MethodHead, "/items/2", "", "HEAD-stored entry")
					s.miss(fiber.MethodGet, "/items/1", "")
					s.hit(fiber.MethodGet, "/items/1", "")
					s.hit(fiber.MethodHead, "/items/1", "")
					_, body := s.do(fiber.MethodGet, "/items/1")
					require.Equal(t, "v2 /items/1 ", body, "fresh after the change")
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
		}{
			{"POST 400", fiber.MethodPost, []string{"X-Status", "400"}},
			{"PUT 404", fiber.MethodPut, []string{"X-Status", "404"}},
			{"PATCH 409", fiber.MethodPatch, []string{"X-Status", "409"}},
			{"DELETE 500", fiber.MethodDelete, []string{"X-Status", "500"}},
			{"POST 503", fiber.MethodPost, []string{"X-Status", "503"}},
			{"DELETE handler error 403", fiber.MethodDelete, []string{"X-Error", "403"}},
			{"POST handler error 500", fiber.MethodPost, []string{"X-Error", "500"}},
			{"OPTIONS 200", fiber.MethodOptions, nil},
			{"POST 4xx with Location", fiber.MethodPost, []string{"X-Status", "422", "X-Location", "/items/2"}},
		}
		for _, tc := range cases {
			t.Run(store+"/"+tc.name, func(t *testing.T) {
				s := newInvSite(t, opts(t)...)
				s.warm("/items/1", "")
				s.warm("/items/2", "")
				s.do(tc.method, "/items/1", tc.hdr...)
				s.hit(fiber.MethodGet, "/items/1", "")
				s.hit(fiber.MethodHead, "/items/1", "")
				s.hit(fiber.MethodGet, "/items/2", "")
			})
		}
	}
}

func TestInvalidate_OnlyThatURL(t *testing.T) {
	s := newInvSite(t)
	s.warm("/items/1", "")
	s.warm("/items/10", "")
	s.warm("/items/1?tab=2", "")
	s.warm("/items", "")
	s.do(fiber.MethodPut, "/items/1")
	s.miss(fiber.MethodGet, "/items/1", "")
	s.hit(fiber.MethodGet, "/items/10", "")
	s.hit(fiber.MethodGet, "/items", "")
	// The query is part of the URL: a change of /items/1 says nothing of
	// /items/1?tab=2, and the other way round.
	s.hit(fiber.MethodGet, "/items/1?tab=2", "")
	s.do(fiber.MethodPut, "/items/1?tab=2")
	s.miss(fiber.MethodGet, "/items/1?tab=2", "")
	s.hit(fiber.MethodGet, "/items/1", "")
}

func TestInvalidate_LocationAndContentLocation(t *testing.T) {
	cases := []struct {
		name    string
		post    string // request target of the POST
		hdr     []string
		gone    []string // invalidated
		survive []string // still hits
	}{
		{"Location path", "/users", []string{"X-Status", "201", "X-Location", "/users/42"},
			[]string{"/users", "/users/42"}, []string{"/users/7"}},
		{"Location relative to the request", "/users/", []string{"X-Status", "201", "X-Location", "42"},
			[]string{"/users/", "/users/42"}, []string{"/users/7", "/users"}},
		{"Location dot-dot", "/users/42/rename", []string{"X-Status", "303", "X-Location", "../43?tab=profile"},
			[]string{"/users/42/rename", "/users/43?tab=profile"}, []string{"/users/43", "/users/42"}},
		{"Location absolute, same host", "/users", []string{"X-Status", "201", "X-Location", "http://example.com/users/42"},
			[]string{"/users/42"}, []string{"/users/7"}},
		{"Location absolute, same host in another case", "/users", []string{"X-Status", "201", "X-Location", "http://EXAMPLE.com/users/42"},
			[]string{"/users/42"}, nil},
		{"Location other host", "/users", []string{"X-Status", "201", "X-Location", "http://other.example/users/42"},
			[]string{"/users"}, []string{"/users/42", "http://other.example/users/42"}},
		{"Content-Location", "/users/42", []string{"X-Content-Location", "/users/42?format=full"},
			[]string{"/users/42", "/users/42?format=full"}, []string{"/users"}},
		{"Content-Location other host", "/users/42", []string{"X-Content-Location", "http://other.example/users/42"},
			[]string{"/users/42"}, []string{"http://other.example/users/42"}},
		{"Location and Content-Location", "/users", []string{"X-Status", "201", "X-Location", "/users/42", "X-Content-Location", "/users/43"},
			[]string{"/users", "/users/42", "/users/43"}, []string{"/users/7"}},
		{"3xx redirect", "/users/42/avatar", []string{"X-Status", "303", "X-Location", "/users/42"},
			[]string{"/users/42/avatar", "/users/42"}, []string{"/users/7"}},
		{"fragment ignored", "/users", []string{"X-Status", "201", "X-Location", "/users/42#top"},
			[]string{"/users/42"}, nil},
		{"error status: not even Location", "/users", []string{"X-Status", "409", "X-Location", "/users/42"},
			nil, []string{"/users", "/users/42"}},
		{"unparsable Location ignored", "/users", []string{"X-Status", "201", "X-Location", "http://[::1/x"},
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
// same few storage calls whatever the number of stored variants, never
// scans and never calls Reset.
func TestInvalidate_ConstantStorageOps(t *testing.T) {
	invConstantOps(t, func(*testing.T) fiber.Storage { return newInvMapStorage() })
}

func invConstantOps(t *testing.T, newStorage func(*testing.T) fiber.Storage) {
	type cost struct {
		byURL, byUnsafe, byHelper [4]int64 // gets, sets, deletes, resets
	}
	measure := func(t *testing.T, variants int) cost {
		spy := &invSpyStorage{Storage: newStorage(t)}
		c := cache.NewCache(cache.WithStorage(spy), cache.WithTTL(time.Minute), cache.WithKeyPrefix(invPrefix(t)))
		app := fiber.New()
		app.Use(c.Handler())
		var runs atomic.Int64
		var helperCost [4]int64
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
			spy.resetCounts()
			err = h.InvalidateURL("/p")
			helperCost = spy.counts() // before the POST's own invalidation of /purge
			return err
		})
		// stored sends a GET for every variant and checks that they all run
		// the handler (wantMiss) or all hit.
		stored := func(wantMiss bool) {
			t.Helper()
			runs.Store(0)
			for i := range variants {
				resp, body := invDo(t, app, fiber.MethodGet, "/p", "X-Variant", strconv.Itoa(i))
				require.Equal(t, strconv.Itoa(i), body)
				if !wantMiss {
					require.Equal(t, "hit", resp.Header.Get("X-Cache"))
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
		spy.resetCounts()
		require.NoError(t, c.InvalidateURL(invBase+"/p"))
		got.byURL = spy.counts()
		stored(true)
		stored(false)

		// The PUT itself runs through the middleware: count from its start.
		spy.resetCounts()
		resp, _ := invDo(t, app, fiber.MethodPut, "/p")
		require.Equal(t, fiber.StatusNoContent, resp.StatusCode)
		got.byUnsafe = spy.counts()
		stored(true)
		stored(false)

		resp, _ = invDo(t, app, fiber.MethodPost, "/purge")
		require.Equal(t, fiber.StatusOK, resp.StatusCode)
		got.byHelper = helperCost
		stored(true)
		return got
	}
	one := measure(t, 1)
	fifty := measure(t, 50)
	want := [4]int64{0, 1, 1, 0} // a Set of the generation, a Delete of the URL's record
	// A full URL goes in its http and https forms.
	wantBoth := [4]int64{0, 2, 2, 0}
	assert.Equal(t, wantBoth, one.byURL, "Cache.InvalidateURL, 1 variant")
	assert.Equal(t, wantBoth, fifty.byURL, "Cache.InvalidateURL, 50 variants")
	assert.Equal(t, want, one.byUnsafe, "PUT, 1 variant")
	assert.Equal(t, want, fifty.byUnsafe, "PUT, 50 variants")
	assert.Equal(t, want, one.byHelper, "Helper.InvalidateURL, 1 variant")
	assert.Equal(t, want, fifty.byHelper, "Helper.InvalidateURL, 50 variants")
}

// --- races ------------------------------------------------------------------

// invRaceApp is an app whose GET handler may be held while it runs: it
// reads the data version, signals started, and waits for release.
type invRaceApp struct {
	vary    bool
	app     *fiber.App
	cache   *cache.Cache
	version atomic.Int64
	runs    atomic.Int64
	hold    atomic.Bool
	started chan struct{}
	release chan struct{}
}

func newInvRaceApp(vary bool, opts ...cache.Option) *invRaceApp {
	a := &invRaceApp{vary: vary, cache: cache.NewCache(opts...), started: make(chan struct{}, 1), release: make(chan struct{})}
	a.app = fiber.New()
	a.app.Use(a.cache.Handler())
	a.app.Get("/r", func(c *fiber.Ctx) error {
		a.runs.Add(1)
		v := a.version.Load()
		if a.hold.CompareAndSwap(true, false) {
			a.started <- struct{}{}
			<-a.release
		}
		if a.vary {
			c.Vary(fiber.HeaderAcceptLanguage)
		}
		return c.SendString(a.body(v, c.Get(fiber.HeaderAcceptLanguage)))
	})
	return a
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
	out := make(chan string, 1)
	go func() {
		req := httptest.NewRequest(fiber.MethodGet, "/r", nil)
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

// invChange changes the data, then invalidates /r, as a writer does.
func (a *invRaceApp) change(t *testing.T) {
	t.Helper()
	a.version.Add(1)
	require.NoError(t, a.cache.InvalidateURL(invBase+"/r"))
}

// after asserts that, the race over, GET /r in lang runs the handler and
// answers the current version.
func (a *invRaceApp) after(t *testing.T, lang string) {
	t.Helper()
	before := a.runs.Load()
	_, body := invDo(t, a.app, fiber.MethodGet, "/r", fiber.HeaderAcceptLanguage, lang)
	require.Equal(t, before+1, a.runs.Load(), "a response computed before the invalidation was stored: %q", body)
	require.Equal(t, a.body(a.version.Load(), lang), body)
}

// An invalidation while the handler runs keeps its (old) response from
// being stored.
func TestInvalidate_RaceWhileHandlerRuns(t *testing.T) {
	for store, opts := range invStores() {
		for _, vary := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/vary=%v", store, vary), func(t *testing.T) {
				a := newInvRaceApp(vary, opts(t)...)
				if vary {
					invDo(t, a.app, fiber.MethodGet, "/r", fiber.HeaderAcceptLanguage, "fr")
				}
				a.hold.Store(true)
				res := invGo(a.app, "en")
				<-a.started
				a.change(t)
				close(a.release)
				require.Equal(t, a.body(0, "en"), <-res, "the held request answers what it read")
				a.after(t, "en")
				if vary {
					a.after(t, "fr")
				}
			})
		}
	}
}

// An invalidation while the store's Set is delayed (before it reaches the
// storage, or after, before the middleware checks the generation) keeps the
// old response from staying stored.
func TestInvalidate_RaceWhileSetDelayed(t *testing.T) {
	for _, vary := range []bool{false, true} {
		for _, when := range []string{"before", "after"} {
			for _, kind := range []entry.Kind{entry.KindResponse, entry.KindVary} {
				if kind == entry.KindVary && !vary {
					continue
				}
				t.Run(fmt.Sprintf("vary=%v/%s-set-of-kind-%d", vary, when, kind), func(t *testing.T) {
					spy := &invSpyStorage{Storage: newInvMapStorage()}
					a := newInvRaceApp(vary, cache.WithStorage(spy))
					if vary {
						invDo(t, a.app, fiber.MethodGet, "/r", fiber.HeaderAcceptLanguage, "fr")
					}
					var armed atomic.Bool
					inSet, release := make(chan struct{}), make(chan struct{})
					hold := func(op invOp) {
						if op.name == "set" && op.kind == kind && armed.CompareAndSwap(true, false) {
							close(inSet)
							<-release
						}
					}
					if when == "before" {
						spy.setHooks(hold, nil)
					} else {
						spy.setHooks(nil, hold)
					}
					armed.Store(true)
					res := invGo(a.app, "en")
					<-inSet
					a.change(t) // its Set is of a generation: not held
					close(release)
					require.Equal(t, a.body(0, "en"), <-res)
					spy.setHooks(nil, nil)
					a.after(t, "en")
					if vary {
						a.after(t, "fr")
					}
				})
			}
		}
	}
}

// TestInvalidate_RaceInterleavings runs one storing request R against one
// invalidation I (a second instance on the same storage: a data change, a
// Set of the generation, a Delete of the URL's record) in every order of
// their storage calls, and checks that, both over, no request is answered
// with data older than the change.
func TestInvalidate_RaceInterleavings(t *testing.T) {
	invRaceInterleavings(t, func(*testing.T) fiber.Storage { return newInvMapStorage() })
}

func invRaceInterleavings(t *testing.T, newStorage func(*testing.T) fiber.Storage) {
	scenarios := []struct {
		name    string
		vary    bool
		warm    []string // languages stored before R
		request string   // R's language
	}{
		{"cold", false, nil, ""},
		{"stale entry of another method", false, nil, ""},
		{"vary, cold", true, nil, "en"},
		{"vary, another variant stored", true, []string{"fr"}, "en"},
		{"vary, two variants stored", true, []string{"fr", "de"}, "en"},
	}
	const maxOps = 12 // more than R makes
	for _, sc := range scenarios {
		for p1 := 0; p1 <= maxOps; p1++ {
			for p2 := p1; p2 <= maxOps; p2++ {
				name := fmt.Sprintf("%s/gen-before-op-%d/delete-before-op-%d", sc.name, p1, p2)
				ok := t.Run(name, func(t *testing.T) {
					invInterleave(t, newStorage(t), sc.vary, sc.warm, sc.request, p1, p2, sc.name == "stale entry of another method")
				})
				if !ok {
					return // one failing order is enough to read
				}
			}
		}
	}
}

// invInterleave runs R (GET /r in language lang through cache A) and I
// (version++, then cache B's invalidation of /r: Set gen, then Delete) so
// that I's Set runs just before R's storage call number p1 and I's Delete
// just before R's call number p2 (or after R, when R makes fewer calls).
func invInterleave(t *testing.T, backend fiber.Storage, vary bool, warm []string, lang string, p1, p2 int, headFirst bool) {
	prefix := invPrefix(t)
	spyA := &invSpyStorage{Storage: backend}
	spyB := &invSpyStorage{Storage: backend}
	a := newInvRaceApp(vary, cache.WithStorage(spyA), cache.WithKeyPrefix(prefix), cache.WithTTL(time.Minute))
	b := cache.NewCache(cache.WithStorage(spyB), cache.WithKeyPrefix(prefix), cache.WithTTL(time.Minute))
	for _, l := range warm {
		invDo(t, a.app, fiber.MethodGet, "/r", fiber.HeaderAcceptLanguage, l)
	}
	if headFirst {
		// A response stored by a HEAD does not answer R's GET: R stores.
		req := httptest.NewRequest(fiber.MethodHead, "/r", nil)
		resp, err := a.app.Test(req, -1)
		require.NoError(t, err)
		_ = resp.Body.Close()
	}

	// I runs in its own goroutine; its Delete waits for goDelete. (It then
	// invalidates the https form of the URL too, which R does not use.)
	setDone, goDelete, iDone := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	var setOnce sync.Once
	spyB.setHooks(func(op invOp) {
		if op.name == "delete" {
			<-goDelete
		}
	}, func(op invOp) {
		if op.name == "set" {
			setOnce.Do(func() { close(setDone) })
		}
	})
	started, deleting := false, false
	startI := func() {
		if started {
			return
		}
		started = true
		a.version.Add(1)
		go func() { iDone <- b.InvalidateURL(invBase + "/r") }()
		<-setDone
	}
	finishI := func() {
		startI()
		if !deleting {
			deleting = true
			close(goDelete)
			require.NoError(t, <-iDone)
		}
	}
	n := 0
	spyA.setHooks(func(invOp) {
		// Only R uses cache A meanwhile, so these are R's calls, in order.
		if n == p1 {
			startI()
		}
		if n == p2 {
			finishI()
		}
		n++
	}, nil)
	res := invGo(a.app, lang)
	body := <-res
	require.False(t, strings.HasPrefix(body, "error"), body)
	spyA.setHooks(nil, nil)
	finishI()

	// Both over: every language is answered with the changed data.
	want := a.version.Load()
	for _, l := range append(append([]string{lang}, warm...), "it") {
		_, got := invDo(t, a.app, fiber.MethodGet, "/r", fiber.HeaderAcceptLanguage, l)
		require.Equal(t, a.body(want, l), got,
			"stale answer for language %q after R (%d storage calls) and I; R answered %q", l, n, body)
	}
}

// TestInvalidate_RaceStress runs readers and writers of a few URLs at once
// (run it with -race) and checks that once they are done every URL and
// variant is answered with its latest data.
func TestInvalidate_RaceStress(t *testing.T) {
	for store, opts := range invStores() {
		t.Run(store, func(t *testing.T) { invStress(t, opts(t)...) })
	}
}

func invStress(t *testing.T, opts ...cache.Option) {
	c := cache.NewCache(opts...)
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
		req := httptest.NewRequest(method, fmt.Sprintf("/s/%d", n), nil)
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
			_, body := invDo(t, app, fiber.MethodGet, fmt.Sprintf("/s/%d", n), fiber.HeaderAcceptLanguage, lang)
			require.Equal(t, fmt.Sprintf("v%d", versions[n].Load()), body, "/s/%d [%s]", n, lang)
		}
	}
}

// TestInvalidate_RaceCoalescedFollower: a request that starts after an
// invalidation has finished must not be answered with a response computed
// before it, even when it joins (coalesces with) a request whose handler
// ran before the invalidation. The leader L is held after it stored and
// checked the generation, before it hands its response to its followers;
// the invalidation runs; then F arrives and waits for L.
func TestInvalidate_RaceCoalescedFollower(t *testing.T) {
	for _, vary := range []bool{false, true} {
		t.Run(fmt.Sprintf("vary=%v", vary), func(t *testing.T) {
			// A dry run counts the storage calls of a storing miss; the
			// last is the check of the generation.
			dry := &invSpyStorage{Storage: newInvMapStorage()}
			invDo(t, newInvRaceApp(vary, cache.WithStorage(dry)).app, fiber.MethodGet, "/r", fiber.HeaderAcceptLanguage, "en")
			c := dry.counts()
			lastOfL := c[0] + c[1] + c[2] - 1

			spy := &invSpyStorage{Storage: newInvMapStorage()}
			a := newInvRaceApp(vary, cache.WithStorage(spy))
			var lOps, fOps atomic.Int64
			lHeld, releaseL := make(chan struct{}), make(chan struct{})
			fLooked := make(chan struct{})
			var phase atomic.Int32 // 0: L runs, 1: F runs
			spy.setHooks(nil, func(op invOp) {
				switch phase.Load() {
				case 0:
					if lOps.Add(1)-1 == lastOfL {
						close(lHeld)
						<-releaseL
					}
				case 1:
					if fOps.Add(1) == 1 { // F looked its URL up: it joins L next
						close(fLooked)
					}
				}
			})
			resL := invGo(a.app, "en")
			<-lHeld
			a.change(t) // version 1, and the invalidation, finished
			phase.Store(1)
			resF := invGo(a.app, "en")
			<-fLooked
			// F has no storage call between its lookup and joining L's
			// flight; give it that moment. (Were F to miss L's flight, it
			// would run its handler: the test cannot fail falsely.)
			time.Sleep(50 * time.Millisecond)
			close(releaseL)
			require.Equal(t, a.body(0, "en"), <-resL)
			require.Equal(t, a.body(1, "en"), <-resF, "F started after the invalidation finished")
			spy.setHooks(nil, nil)
		})
	}
}
