package cache

import (
	"errors"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fiber-caches/cache/internal/core"
	"github.com/fiber-caches/cache/internal/testkit"
	"github.com/gofiber/fiber/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/valyala/fasthttp"
)

// fakeClock is a clock tests move by hand (withClock).
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

// newFakeClock returns a clock at the real time (whole seconds): a
// storage expires keys by real time, so a clock in the past would have
// them expire at once.
func newFakeClock() *fakeClock { return &fakeClock{t: time.Now().UTC().Truncate(time.Second)} }

func (f *fakeClock) now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.t
}

func (f *fakeClock) advance(d time.Duration) {
	f.mu.Lock()
	f.t = f.t.Add(d)
	f.mu.Unlock()
}

// versioned is a handler whose body is "v<n>" for its n-th run, with the
// Cache-Control cc; fail, when set, makes it fail instead.
type versioned struct {
	runs atomic.Int64
	cc   string
	fail atomic.Value // func(c *fiber.Ctx) error
}

func (v *versioned) handler(c *fiber.Ctx) error {
	n := v.runs.Add(1)
	if f, ok := v.fail.Load().(func(c *fiber.Ctx) error); ok && f != nil {
		return f(c)
	}
	c.Set(fiber.HeaderCacheControl, v.cc)
	return c.SendString("v" + strconv.Itoa(int(n)))
}

// eventually waits, at most a second, for cond.
func eventually(t *testing.T, cond func() bool, msg string) {
	t.Helper()
	require.Eventually(t, cond, time.Second, 2*time.Millisecond, msg)
}

// RFC 5861 §3: a stale response within its stale-while-revalidate window is
// served at once, and one background request refreshes it.
func TestStaleWhileRevalidate(t *testing.T) {
	clock := newFakeClock()
	v := &versioned{cc: "max-age=10, stale-while-revalidate=60"}
	m := NewCache(WithTTL(time.Hour), withClock(clock.now))
	defer m.Close()
	app := fiber.New()
	app.Use(m.Handler())
	app.Get("/p", v.handler)

	require.Equal(t, "v1", testkit.Do(t, app, "GET", "/p").Body)
	clock.advance(15 * time.Second)
	// The refresh waits until the stale requests are answered.
	gate := make(chan struct{})
	v.fail.Store(func(c *fiber.Ctx) error {
		<-gate
		c.Set(fiber.HeaderCacheControl, v.cc)
		return c.SendString("v" + strconv.Itoa(int(v.runs.Load())))
	})
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := testkit.Do(t, app, "GET", "/p")
			assert.Equal(t, "v1", r.Body, "stale, at once")
			assert.Contains(t, r.Header.Get("Cache-Status"), "detail=stale")
		}()
	}
	wg.Wait()
	v.fail.Store((func(c *fiber.Ctx) error)(nil))
	close(gate)
	eventually(t, func() bool { return testkit.Do(t, app, "GET", "/p").Body == "v2" }, "the background refresh replaced the entry")
	assert.EqualValues(t, 2, v.runs.Load(), "one refresh for eight stale requests")
	assert.Equal(t, "hit", testkit.Do(t, app, "GET", "/p").Header.Get("X-Cache"))

	// Past the window, the request waits for the handler.
	clock.advance(2 * time.Minute)
	assert.Equal(t, "v3", testkit.Do(t, app, "GET", "/p").Body)
}

// WithGrace gives responses that name no window of their own one.
func TestGrace(t *testing.T) {
	clock := newFakeClock()
	v := &versioned{cc: "max-age=10"}
	m := NewCache(WithTTL(time.Hour), WithGrace(time.Minute), withClock(clock.now))
	defer m.Close()
	app := fiber.New()
	app.Use(m.Handler())
	app.Get("/p", v.handler)
	testkit.Do(t, app, "GET", "/p")
	clock.advance(30 * time.Second)
	assert.Equal(t, "v1", testkit.Do(t, app, "GET", "/p").Body)
	eventually(t, func() bool { return v.runs.Load() == 2 }, "refreshed in the background")

	// Without WithGrace a stale response is not served stale.
	v2 := &versioned{cc: "max-age=10"}
	m2 := NewCache(WithTTL(time.Hour), withClock(clock.now))
	defer m2.Close()
	app2 := fiber.New()
	app2.Use(m2.Handler())
	app2.Get("/p", v2.handler)
	testkit.Do(t, app2, "GET", "/p")
	clock.advance(30 * time.Second)
	assert.Equal(t, "v2", testkit.Do(t, app2, "GET", "/p").Body)
}

// RFC 5861 §4: within its stale-if-error window a stale response answers in
// place of a handler error or a 5xx; must-revalidate forbids it.
func TestStaleIfError(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cc    string
		fail  func(c *fiber.Ctx) error
		stale bool
	}{
		{"5xx", "max-age=10, stale-if-error=60", func(c *fiber.Ctx) error { return c.Status(503).SendString("down") }, true},
		{"error", "max-age=10, stale-if-error=60", func(*fiber.Ctx) error { return errors.New("db down") }, true},
		{"must-revalidate", "max-age=10, stale-if-error=60, must-revalidate", func(c *fiber.Ctx) error { return c.Status(503).SendString("down") }, false},
		{"no window", "max-age=10", func(c *fiber.Ctx) error { return c.Status(503).SendString("down") }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := newFakeClock()
			v := &versioned{cc: tc.cc}
			m := NewCache(WithTTL(time.Hour), withClock(clock.now))
			defer m.Close()
			app := fiber.New()
			app.Use(m.Handler())
			app.Get("/p", v.handler)
			testkit.Do(t, app, "GET", "/p")
			clock.advance(20 * time.Second)
			v.fail.Store(tc.fail)
			r := testkit.Do(t, app, "GET", "/p")
			if tc.stale {
				assert.Equal(t, 200, r.Status)
				assert.Equal(t, "v1", r.Body)
				assert.Contains(t, r.Header.Get("Cache-Status"), "fwd=stale")
				assert.Contains(t, r.Header.Get("Cache-Status"), "stale-if-error")
			} else {
				assert.NotEqual(t, 200, r.Status)
			}
			clock.advance(2 * time.Minute)
			assert.NotEqual(t, 200, testkit.Do(t, app, "GET", "/p").Status, "past the window the failure goes through")
		})
	}
}

// RFC 9111 §4.3: a stale entry with a validator of its handler's is
// revalidated: the handler sees If-None-Match, a 304 refreshes the entry,
// and the client gets the stored body.
func TestRevalidation(t *testing.T) {
	clock := newFakeClock()
	var runs, notModified atomic.Int64
	m := NewCache(WithTTL(time.Hour), withClock(clock.now))
	defer m.Close()
	app := fiber.New()
	app.Use(m.Handler())
	app.Get("/p", func(c *fiber.Ctx) error {
		runs.Add(1)
		c.Set(fiber.HeaderCacheControl, "max-age=10")
		c.Set(fiber.HeaderETag, `"v1"`)
		if c.Get(fiber.HeaderIfNoneMatch) == `"v1"` {
			notModified.Add(1)
			return c.SendStatus(fiber.StatusNotModified)
		}
		return c.SendString("body-v1")
	})
	require.Equal(t, "body-v1", testkit.Do(t, app, "GET", "/p").Body)
	clock.advance(15 * time.Second)
	r := testkit.Do(t, app, "GET", "/p")
	assert.Equal(t, 200, r.Status)
	assert.Equal(t, "body-v1", r.Body)
	assert.EqualValues(t, 1, notModified.Load(), "the handler was asked conditionally")
	assert.Contains(t, r.Header.Get("Cache-Status"), "fwd-status=304")
	r = testkit.Do(t, app, "GET", "/p")
	assert.Equal(t, "hit", r.Header.Get("X-Cache"), "the 304 refreshed the entry")
	assert.EqualValues(t, 2, runs.Load())
	// The client's own validator still gets a 304 from the store.
	r = testkit.Do(t, app, "GET", "/p", `If-None-Match: "v1"`)
	assert.Equal(t, 304, r.Status)
	assert.Empty(t, r.Body)
	assert.EqualValues(t, 2, runs.Load())
}

// RFC 9111 §5.2.2.4: a no-cache response with a validator is stored and
// revalidated on every use; without one it is not stored.
func TestNoCacheIsRevalidated(t *testing.T) {
	var runs, conditional atomic.Int64
	app := fiber.New()
	app.Use(New(WithTTL(time.Hour)))
	app.Get("/etag", func(c *fiber.Ctx) error {
		runs.Add(1)
		c.Set(fiber.HeaderCacheControl, "no-cache")
		c.Set(fiber.HeaderETag, `"e"`)
		if c.Get(fiber.HeaderIfNoneMatch) == `"e"` {
			conditional.Add(1)
			return c.SendStatus(fiber.StatusNotModified)
		}
		return c.SendString("full")
	})
	for range 3 {
		r := testkit.Do(t, app, "GET", "/etag")
		assert.Equal(t, 200, r.Status)
		assert.Equal(t, "full", r.Body)
	}
	assert.EqualValues(t, 3, runs.Load(), "every use asks the handler")
	assert.EqualValues(t, 2, conditional.Load(), "conditionally, after the first")
}

// In the shared-cache mode the request's Cache-Control is honoured; in app
// mode it is not (one client must not make everyone's requests reach the
// handler).
func TestRequestDirectives(t *testing.T) {
	build := func(opts ...Option) (*fiber.App, *versioned) {
		v := &versioned{cc: "max-age=100"}
		app := fiber.New()
		app.Use(New(opts...))
		app.Get("/p", v.handler)
		return app, v
	}
	app, v := build(WithTTL(time.Hour))
	testkit.Do(t, app, "GET", "/p")
	assert.Equal(t, "v1", testkit.Do(t, app, "GET", "/p", "Cache-Control: no-cache").Body, "app mode ignores it")
	assert.Equal(t, "v1", testkit.Do(t, app, "GET", "/p", "Pragma: no-cache").Body)
	assert.EqualValues(t, 1, v.runs.Load())

	app, _ = build(WithSharedCache())
	testkit.Do(t, app, "GET", "/p")
	assert.Equal(t, "v1", testkit.Do(t, app, "GET", "/p").Body)
	assert.Equal(t, "v2", testkit.Do(t, app, "GET", "/p", "Cache-Control: no-cache").Body, "RFC 9111 §5.2.1.4")
	assert.Equal(t, "v3", testkit.Do(t, app, "GET", "/p", "Cache-Control: max-age=0").Body, "RFC 9111 §5.2.1.1")
	assert.Equal(t, "v4", testkit.Do(t, app, "GET", "/p", "Pragma: no-cache").Body, "RFC 9111 §5.4")
	assert.Equal(t, "v4", testkit.Do(t, app, "GET", "/p").Body)
	r := testkit.Do(t, app, "GET", "/other", "Cache-Control: only-if-cached")
	assert.Equal(t, 504, r.Status, "RFC 9111 §5.2.1.7")
	r = testkit.Do(t, app, "GET", "/p", "Cache-Control: no-store")
	assert.Equal(t, "v5", r.Body)
	assert.Contains(t, r.Header.Get("Cache-Status"), "fwd=bypass")
}

// Close waits for background refreshes and starts none after it.
func TestCloseStopsRefreshes(t *testing.T) {
	clock := newFakeClock()
	release := make(chan struct{})
	var runs atomic.Int64
	m := NewCache(WithTTL(time.Hour), WithGrace(time.Hour), withClock(clock.now))
	app := fiber.New()
	app.Use(m.Handler())
	app.Get("/p", func(c *fiber.Ctx) error {
		if runs.Add(1) > 1 {
			<-release
		}
		c.Set(fiber.HeaderCacheControl, "max-age=1")
		return c.SendString("x")
	})
	testkit.Do(t, app, "GET", "/p")
	clock.advance(time.Minute)
	testkit.Do(t, app, "GET", "/p") // stale: a refresh starts and blocks
	eventually(t, func() bool { return runs.Load() == 2 }, "the refresh started")
	closed := make(chan struct{})
	go func() { _ = m.Close(); close(closed) }()
	select {
	case <-closed:
		t.Fatal("Close returned while a refresh was running")
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return after the refresh ended")
	}
}

// A background refresh of a request that came over TLS refreshes the
// https entry: the refresh is keyed, and seen by the handler, as https.
func TestRefreshKeepsTheScheme(t *testing.T) {
	clock := newFakeClock()
	v := &versioned{cc: "max-age=10, stale-while-revalidate=60"}
	m := NewCache(WithTTL(time.Hour), withClock(clock.now))
	defer m.Close()
	app := fiber.New()
	app.Use(m.Handler())
	var schemes sync.Map
	app.Get("/p", func(c *fiber.Ctx) error {
		schemes.Store(c.Protocol(), true)
		return v.handler(c)
	})
	serve := app.Handler()
	get := func() string {
		ctx := new(fasthttp.RequestCtx)
		ctx.Init2(core.TLSConn(&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1}, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 443}), nil, false)
		ctx.Request.Header.SetMethod(fiber.MethodGet)
		ctx.Request.SetRequestURI("/p")
		ctx.Request.Header.SetHost("example.com")
		serve(ctx)
		return string(ctx.Response.Body())
	}
	require.Equal(t, "v1", get())
	clock.advance(15 * time.Second)
	require.Equal(t, "v1", get(), "stale")
	eventually(t, func() bool { return get() == "v2" }, "the https entry was refreshed")
	_, sawHTTP := schemes.Load("http")
	assert.False(t, sawHTTP, "the refresh ran as https")
}

// The app's Shutdown closes the cache that served it.
func TestShutdownClosesTheCache(t *testing.T) {
	m := NewCache(WithTTL(time.Minute))
	app := fiber.New()
	app.Use(m.Handler())
	app.Get("/p", func(c *fiber.Ctx) error { return c.SendString("p") })
	testkit.Do(t, app, "GET", "/p")
	assert.Equal(t, "hit", testkit.Do(t, app, "GET", "/p").Header.Get("X-Cache"))
	require.NoError(t, app.Shutdown())
	assert.True(t, m.c.Closed())
	assert.Empty(t, testkit.Do(t, app, "GET", "/p").Header.Get("X-Cache"), "a closed cache caches nothing")
}

// In the shared-cache mode a Set-Cookie response is stored only when the
// upstream says public, and CDN-Cache-Control never lifts Cache-Control's
// privacy.
func TestSharedModePrivacy(t *testing.T) {
	for _, tc := range []struct {
		name    string
		headers []func(c *fiber.Ctx)
		req     []string // request headers
		stored  bool
		detail  string // Cache-Status detail when not stored
	}{
		{"set-cookie", []func(c *fiber.Ctx){testkit.Header("Cache-Control", "max-age=60"), testkit.Header("Set-Cookie", "sid=1")}, nil, false, "cookies_for_cookieless_request"},
		{"set-cookie to a request with cookies", []func(c *fiber.Ctx){testkit.Header("Cache-Control", "max-age=60"), testkit.Header("Set-Cookie", "sid=1")}, []string{"Cookie: a=b"}, false, "cookies_for_cookieless_request"},
		{"set-cookie2", []func(c *fiber.Ctx){testkit.Header("Cache-Control", "max-age=60"), testkit.Header("Set-Cookie2", "sid=1")}, nil, false, "cookies_for_cookieless_request"},
		{"set-cookie public", []func(c *fiber.Ctx){testkit.Header("Cache-Control", "public, max-age=60"), testkit.Header("Set-Cookie", "theme=dark")}, nil, true, ""},
		{"cdn max-age over private", []func(c *fiber.Ctx){testkit.Header("Cache-Control", "private"), testkit.Header("CDN-Cache-Control", "max-age=60")}, nil, false, "private"},
		{"cdn max-age over no-store", []func(c *fiber.Ctx){testkit.Header("Cache-Control", "no-store"), testkit.Header("CDN-Cache-Control", "max-age=60")}, nil, false, "no_store"},
		{"cdn max-age", []func(c *fiber.Ctx){testkit.Header("Cache-Control", "max-age=1"), testkit.Header("CDN-Cache-Control", "max-age=60")}, nil, true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var k testkit.Counter
			app := fiber.New()
			app.Use(New(WithSharedCache()))
			app.Get("/p", k.Handler("p", tc.headers...))
			first := testkit.Do(t, app, "GET", "/p", tc.req...)
			testkit.Do(t, app, "GET", "/p", tc.req...)
			if tc.stored {
				assert.Equal(t, 1, k.Runs())
			} else {
				assert.Equal(t, 2, k.Runs())
				assert.Equal(t, "fibercache; fwd=uri-miss; detail="+tc.detail, first.Header.Get("Cache-Status"))
			}
		})
	}
}
