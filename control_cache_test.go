package cache_test

import (
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fiber-caches/cache"
	"github.com/fiber-caches/cache/internal/testkit"
)

// controlCacheApp returns an app with an app-wide cache.New (TTL two
// minutes) and a counter of handler runs; route registers the routes.
func controlCacheApp(route func(app *fiber.App, h fiber.Handler)) (*fiber.App, *atomic.Int32) {
	var runs atomic.Int32
	app := fiber.New()
	app.Use(cache.New(cache.WithTTL(2 * time.Minute)))
	route(app, func(c *fiber.Ctx) error {
		runs.Add(1)
		return c.SendString("body")
	})
	return app, &runs
}

// controlTwice sends GET /x twice and returns both responses.
func controlTwice(t *testing.T, app *fiber.App) (first, second testkit.Result) {
	t.Helper()
	first = controlGet(t, app, "/x")
	require.Equal(t, fiber.StatusOK, first.Status)
	second = controlGet(t, app, "/x")
	require.Equal(t, fiber.StatusOK, second.Status)
	return first, second
}

func TestControlCache_MaxAgeBelowTTLIsAdvertisedAndStored(t *testing.T) {
	app, runs := controlCacheApp(func(app *fiber.App, h fiber.Handler) {
		app.Get("/x", cache.Control(cache.MaxAge(30*time.Second)), h)
	})
	first, second := controlTwice(t, app)

	assert.Equal(t, "miss", first.Header.Get("X-Cache"))
	assert.Equal(t, []string{"max-age=30"}, first.Header.Values(fiber.HeaderCacheControl))
	expires, err := http.ParseTime(first.Header.Get(fiber.HeaderExpires))
	require.NoError(t, err)
	assert.WithinDuration(t, time.Now().Add(30*time.Second), expires, 5*time.Second)

	assert.Equal(t, "hit", second.Header.Get("X-Cache"))
	assert.Contains(t, second.Header.Get(fiber.HeaderCacheControl), "max-age=30")
	assert.Equal(t, int32(1), runs.Load(), "the second request must be served from the cache")
}

func TestControlCache_HandlerDirectivesKeptThroughTheCache(t *testing.T) {
	var runs atomic.Int32
	app := fiber.New()
	app.Use(cache.New(cache.WithTTL(2 * time.Minute)))
	app.Get("/x", cache.Control(cache.MaxAge(30*time.Second), cache.Drop("must-revalidate")), func(c *fiber.Ctx) error {
		runs.Add(1)
		c.Set(fiber.HeaderCacheControl, "public, max-age=600, must-revalidate, no-transform")
		return c.SendString("body")
	})
	first, second := controlTwice(t, app)
	assert.Equal(t, []string{"public, max-age=30, no-transform"}, first.Header.Values(fiber.HeaderCacheControl))
	assert.Equal(t, "hit", second.Header.Get("X-Cache"))
	assert.Equal(t, []string{"public, max-age=30, no-transform"}, second.Header.Values(fiber.HeaderCacheControl))
	assert.Equal(t, int32(1), runs.Load())
}

func TestControlCache_PrivateIsNotStored(t *testing.T) {
	app, runs := controlCacheApp(func(app *fiber.App, h fiber.Handler) {
		app.Get("/x", cache.Control(cache.Private(), cache.MaxAge(time.Minute)), h)
	})
	first, second := controlTwice(t, app)
	for _, resp := range []testkit.Result{first, second} {
		assert.Equal(t, []string{"private, max-age=60"}, resp.Header.Values(fiber.HeaderCacheControl))
		assert.NotEqual(t, "hit", resp.Header.Get("X-Cache"))
	}
	assert.Equal(t, int32(2), runs.Load(), "a private response must not be served from the cache")
}

func TestControlCache_PrivateReplacingHandlersPublicIsNotStored(t *testing.T) {
	var runs atomic.Int32
	app := fiber.New()
	app.Use(cache.New(cache.WithTTL(2 * time.Minute)))
	app.Get("/x", cache.Control(cache.Private()), func(c *fiber.Ctx) error {
		runs.Add(1)
		c.Set(fiber.HeaderCacheControl, "public, max-age=600")
		return c.SendString("per-user")
	})
	first, second := controlTwice(t, app)
	assert.Equal(t, []string{"private, max-age=600"}, first.Header.Values(fiber.HeaderCacheControl))
	assert.NotEqual(t, "hit", second.Header.Get("X-Cache"))
	assert.Equal(t, int32(2), runs.Load())
}

func TestControlCache_NoStoreIsNotStored(t *testing.T) {
	app, runs := controlCacheApp(func(app *fiber.App, h fiber.Handler) {
		app.Get("/x", cache.Control(cache.NoStore()), h)
	})
	first, second := controlTwice(t, app)
	for _, resp := range []testkit.Result{first, second} {
		assert.Equal(t, []string{"no-store"}, resp.Header.Values(fiber.HeaderCacheControl))
		assert.NotEqual(t, "hit", resp.Header.Get("X-Cache"))
	}
	assert.Equal(t, int32(2), runs.Load(), "a no-store response must not be served from the cache")
}

func TestControlCache_NoCacheIsNotStored(t *testing.T) {
	// cache.New does not revalidate, so a no-cache response is not served
	// from the cache at all.
	app, runs := controlCacheApp(func(app *fiber.App, h fiber.Handler) {
		app.Get("/x", cache.Control(cache.NoCache()), h)
	})
	first, second := controlTwice(t, app)
	for _, resp := range []testkit.Result{first, second} {
		assert.Equal(t, []string{"no-cache"}, resp.Header.Values(fiber.HeaderCacheControl))
		assert.NotEqual(t, "hit", resp.Header.Get("X-Cache"))
	}
	assert.Equal(t, int32(2), runs.Load(), "a no-cache response must not be served from the cache")
}

func TestControlCache_DropNoStoreMakesItCacheable(t *testing.T) {
	var runs atomic.Int32
	app := fiber.New()
	app.Use(cache.New(cache.WithTTL(2 * time.Minute)))
	app.Get("/x", cache.Control(cache.Drop("no-store"), cache.Public()), func(c *fiber.Ctx) error {
		runs.Add(1)
		c.Set(fiber.HeaderCacheControl, "no-store, private")
		return c.SendString("body")
	})
	first, second := controlTwice(t, app)
	assert.Equal(t, "miss", first.Header.Get("X-Cache"))
	assert.Equal(t, []string{"public, max-age=120"}, first.Header.Values(fiber.HeaderCacheControl))
	assert.Equal(t, "hit", second.Header.Get("X-Cache"))
	assert.Equal(t, int32(1), runs.Load())
}

func TestControlCache_NeverIsNotStored(t *testing.T) {
	app, runs := controlCacheApp(func(app *fiber.App, h fiber.Handler) {
		app.Get("/x", cache.Never(), h)
	})
	first, second := controlTwice(t, app)
	for _, resp := range []testkit.Result{first, second} {
		neverAssertHeaders(t, resp)
		assert.NotEqual(t, "hit", resp.Header.Get("X-Cache"))
	}
	assert.Equal(t, int32(2), runs.Load(), "a Never response must not be served from the cache")
}

func TestControlCache_ControlInFrontOfNewPatchesHitsToo(t *testing.T) {
	var runs atomic.Int32
	app := fiber.New()
	// In front of New, Control changes what clients see, on hits as well;
	// New has already made its decision.
	app.Use(cache.Control(cache.NoTransform()))
	app.Use(cache.New(cache.WithTTL(2 * time.Minute)))
	app.Get("/x", func(c *fiber.Ctx) error {
		runs.Add(1)
		return c.SendString("body")
	})
	first, second := controlTwice(t, app)
	assert.Equal(t, "miss", first.Header.Get("X-Cache"))
	assert.Equal(t, []string{"max-age=120, no-transform"}, first.Header.Values(fiber.HeaderCacheControl))
	assert.Equal(t, "hit", second.Header.Get("X-Cache"))
	assert.Equal(t, []string{"max-age=120, no-transform"}, second.Header.Values(fiber.HeaderCacheControl))
	assert.Equal(t, int32(1), runs.Load())
}
