package cache

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fiber-caches/cache/internal/testkit"
	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/session"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sessionApp is the most common Fiber setup: Fiber's own session
// middleware (a cookie session) and an app-wide cache. /dashboard reads
// the session; /login?user=... starts one.
func sessionApp(t *testing.T, runs *atomic.Int64, opts ...Option) *fiber.App {
	t.Helper()
	store := session.New()
	app := fiber.New()
	app.Use(NewCache(opts...).Handler())
	app.Post("/login", func(c *fiber.Ctx) error {
		sess, err := store.Get(c)
		if err != nil {
			return err
		}
		sess.Set("user", c.Query("user"))
		return sess.Save()
	})
	app.Get("/dashboard", func(c *fiber.Ctx) error {
		runs.Add(1)
		sess, err := store.Get(c)
		if err != nil {
			return err
		}
		if user, ok := sess.Get("user").(string); ok {
			return c.SendString("balance of " + user + ": 1000")
		}
		return c.SendString("please log in")
	})
	return app
}

// login starts a session for user and returns its cookie, "name=value".
func login(t *testing.T, app *fiber.App, user string) string {
	t.Helper()
	r := testkit.Do(t, app, "POST", "/login?user="+user)
	require.Equal(t, 200, r.Status)
	cookie := r.Header.Get("Set-Cookie")
	require.NotEmpty(t, cookie)
	v, _, _ := strings.Cut(cookie, ";")
	return v
}

// page returns what /dashboard answered: the page, and whether the
// handler ran for it.
func page(t *testing.T, app *fiber.App, runs *atomic.Int64, hdr ...string) (string, bool) {
	t.Helper()
	before := runs.Load()
	r := testkit.Do(t, app, "GET", "/dashboard", hdr...)
	require.Equal(t, 200, r.Status)
	return r.Body, runs.Load() > before
}

// A request that carries cookies is never answered with an entry stored
// for other cookies (app mode, every backend): alice's dashboard is not
// served to bob, nor to a visitor without cookies; each is served their
// own from the cache. Cookies that WithCookieIgnore names do not matter.
func TestCookies_SessionPagesAreNotShared(t *testing.T) {
	for _, b := range everyBackend() {
		t.Run(b.name, func(t *testing.T) {
			var runs atomic.Int64
			app := sessionApp(t, &runs, append(b.opts(t), WithTTL(time.Minute), WithCookieIgnore("_ga*", "consent"))...)
			alice, bob := login(t, app, "alice"), login(t, app, "bob")

			body, ran := page(t, app, &runs, "Cookie: "+alice)
			assert.Equal(t, "balance of alice: 1000", body)
			assert.True(t, ran)
			body, ran = page(t, app, &runs, "Cookie: "+bob)
			assert.Equal(t, "balance of bob: 1000", body, "bob is not served alice's page")
			assert.True(t, ran)
			body, _ = page(t, app, &runs)
			assert.Equal(t, "please log in", body, "nor is a visitor without cookies")

			body, ran = page(t, app, &runs, "Cookie: "+alice)
			assert.Equal(t, "balance of alice: 1000", body)
			assert.False(t, ran, "alice's own page is a hit")
			body, ran = page(t, app, &runs)
			assert.Equal(t, "please log in", body)
			assert.False(t, ran, "visitors without cookies share an entry")

			// Ignored cookies change nothing: alice with an analytics
			// cookie is alice, a visitor with only ignored ones a visitor.
			body, ran = page(t, app, &runs, "Cookie: _ga=GA1.2.3; "+alice+"; consent=yes")
			assert.Equal(t, "balance of alice: 1000", body)
			assert.False(t, ran)
			body, ran = page(t, app, &runs, "Cookie: _ga=GA1.2.3", "Cookie: consent=no")
			assert.Equal(t, "please log in", body)
			assert.False(t, ran)
			// Every Cookie line counts, whatever its place.
			body, _ = page(t, app, &runs, "Cookie: _ga=GA1.2.3", "Cookie: "+bob)
			assert.Equal(t, "balance of bob: 1000", body)
		})
	}
}

// Clients and CDNs are told: a response keyed by cookies says Vary:
// Cookie, on the miss and on hits, so that no shared cache in front of
// the app serves it to other users either.
func TestCookies_VaryCookieAdvertised(t *testing.T) {
	var runs atomic.Int64
	app := sessionApp(t, &runs, WithTTL(time.Minute))
	alice := login(t, app, "alice")
	for i := range 2 {
		r := testkit.Do(t, app, "GET", "/dashboard", "Cookie: "+alice)
		assert.Equal(t, []string{"Cookie"}, r.Header.Values("Vary"), "request %d", i)
	}
	assert.EqualValues(t, 1, runs.Load())
}

// A response that says it may be shared (public, s-maxage) is shared
// whatever the cookies; a handler that says Vary: Cookie is keyed by the
// whole Cookie header, as RFC 9111 asks, ignored cookies included.
func TestCookies_ResponseDecides(t *testing.T) {
	for _, tc := range []struct {
		name, cc, vary string
		shared         bool
	}{
		{"public", "public", "", true},
		{"s-maxage", "s-maxage=60", "", true},
		{"no directive", "", "", false},
		{"max-age", "max-age=60", "", false},
		{"explicit vary", "public", "Cookie", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var runs testkit.Counter
			app := fiber.New()
			app.Use(NewCache(WithTTL(time.Minute), WithCookieIgnore("_ga")).Handler())
			app.Get("/p", runs.Handler("p", func(c *fiber.Ctx) {
				if tc.cc != "" {
					c.Set("Cache-Control", tc.cc)
				}
				if tc.vary != "" {
					c.Set("Vary", tc.vary)
				}
			}))
			testkit.Do(t, app, "GET", "/p", "Cookie: sid=alice")
			testkit.Do(t, app, "GET", "/p", "Cookie: sid=bob")
			testkit.Do(t, app, "GET", "/p")
			want := 3
			if tc.shared {
				want = 1
			}
			assert.Equal(t, want, runs.Runs())
			testkit.Do(t, app, "GET", "/p", "Cookie: sid=alice; _ga=1")
			if tc.vary != "" {
				want++ // Vary: Cookie keys the header as sent
			}
			assert.Equal(t, want, runs.Runs())
		})
	}
}

// WithCookieIgnore("*") brings back sharing whatever the cookies, for
// apps that mark their per-user pages private; the shared-cache mode
// follows RFC 9111: cookies are keyed only when a response varies on them.
func TestCookies_SharedWhenTold(t *testing.T) {
	for name, opts := range map[string][]Option{
		"ignore everything": {WithTTL(time.Minute), WithCookieIgnore("*")},
		"shared-cache mode": {WithSharedCache()},
	} {
		t.Run(name, func(t *testing.T) {
			var runs testkit.Counter
			app := fiber.New()
			app.Use(NewCache(opts...).Handler())
			app.Get("/p", runs.Handler("p", testkit.Header("Cache-Control", "max-age=60")))
			testkit.Do(t, app, "GET", "/p", "Cookie: sid=alice")
			r := testkit.Do(t, app, "GET", "/p", "Cookie: sid=bob")
			assert.Equal(t, 1, runs.Runs())
			assert.Empty(t, r.Header.Values("Vary"))
		})
	}
}

func TestCookies_BadPattern(t *testing.T) {
	assert.PanicsWithValue(t, "fibercache: WithCookieIgnore: an empty pattern matches nothing; remove it", func() { New(WithCookieIgnore("")) })
}
