package cache_test

// Not generated: what is Fiber v3's own. The rest of the suite is the
// Fiber v2 module's, rewritten by v3gen.

import (
	"testing"
	"time"

	"github.com/gofiber/fiber/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	cache "github.com/fiber-caches/cache/fiberv3"
	"github.com/fiber-caches/cache/fiberv3/internal/testkit"
)

// The host a handler invalidates on is the one Fiber v3 gives it under the
// app's proxy trust: the Host header by default (v3 trusts no proxy),
// X-Forwarded-Host when the app trusts the proxy.
func TestV3_InvalidationFollowsTheAppsProxyTrust(t *testing.T) {
	for _, tc := range []struct {
		name    string
		app     *fiber.App
		evicted bool // example.com/p is invalidated
	}{
		{"v3 default: no proxy trusted", fiber.New(), true},
		{"TrustProxy", fiber.New(fiber.Config{TrustProxy: true, TrustProxyConfig: fiber.TrustProxyConfig{Proxies: []string{"0.0.0.0/0"}}}), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			app := tc.app
			app.Use(cache.New(cache.WithTTL(time.Hour)))
			var k testkit.Counter
			app.Get("/p", k.Handler("p"))
			app.Post("/invalidate", func(c fiber.Ctx) error {
				h, err := cache.Helper(c)
				if err != nil {
					return err
				}
				if err := h.InvalidateURL("/p"); err != nil {
					return err
				}
				return c.SendStatus(fiber.StatusNoContent)
			})
			testkit.Do(t, app, "GET", "http://example.com/p")
			require.Equal(t, "hit", testkit.Do(t, app, "GET", "http://example.com/p").Header.Get("X-Cache"))
			require.Equal(t, fiber.StatusNoContent, testkit.Do(t, app, "POST", "http://example.com/invalidate", "X-Forwarded-Host: other.example").Status)
			r := testkit.Do(t, app, "GET", "http://example.com/p")
			if tc.evicted {
				assert.Equal(t, "miss", r.Header.Get("X-Cache"), "invalidated on the Host header's site")
			} else {
				assert.Equal(t, "hit", r.Header.Get("X-Cache"), "invalidated on X-Forwarded-Host's site, not this one")
			}
		})
	}
}

// The host keeps its port, as under Fiber v2 (v3's c.Hostname drops it;
// the adapter reads c.Host): a write on example.com:8080 leaves
// example.com's entries alone.
func TestV3_HostKeepsThePort(t *testing.T) {
	app := fiber.New()
	app.Use(cache.New(cache.WithTTL(time.Hour)))
	var k testkit.Counter
	app.Get("/p", k.Handler("p"))
	app.Put("/p", k.Handler("put"))
	for _, u := range []string{"http://example.com/p", "http://example.com:8080/p"} {
		require.Equal(t, "miss", testkit.Do(t, app, "GET", u).Header.Get("X-Cache"), "%s: an entry of its own", u)
		require.Equal(t, "hit", testkit.Do(t, app, "GET", u).Header.Get("X-Cache"), u)
	}
	require.Equal(t, 200, testkit.Do(t, app, "PUT", "http://example.com:8080/p").Status)
	assert.Equal(t, "hit", testkit.Do(t, app, "GET", "http://example.com/p").Header.Get("X-Cache"), "another site's write")
	assert.Equal(t, "miss", testkit.Do(t, app, "GET", "http://example.com:8080/p").Header.Get("X-Cache"))
}

// An error of the cache's (two caches looking one request up) reaches
// Fiber v3's default error handler as a plain 500: no detail is sent.
func TestV3_ErrorsAreAPlain500(t *testing.T) {
	app := fiber.New()
	app.Use(cache.New())
	app.Get("/twice", cache.New(), func(c fiber.Ctx) error { return c.SendString("x") })
	r := testkit.Do(t, app, "GET", "/twice")
	assert.Equal(t, fiber.StatusInternalServerError, r.Status)
	assert.Equal(t, "Internal Server Error", r.Body, "Fiber v3's error handler sends the status text alone")
}
