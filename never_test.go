package cache_test

import (
	"errors"
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

const neverHeader = "max-age=0, no-cache, no-store, must-revalidate, private"

// neverAssertHeaders checks that resp says, exactly, "never cache me".
func neverAssertHeaders(t *testing.T, resp testkit.Result) {
	t.Helper()
	assert.Equal(t, []string{neverHeader}, resp.Header.Values(fiber.HeaderCacheControl))
	expires := resp.Header.Values(fiber.HeaderExpires)
	require.Len(t, expires, 1)
	at, err := http.ParseTime(expires[0])
	require.NoError(t, err)
	assert.False(t, at.After(time.Now()), "Expires %s is in the future", expires[0])
}

func TestNever_ExactHeaders(t *testing.T) {
	assert.Equal(t, neverHeader, cache.NeverCacheControl)
	assert.Equal(t, "Thu, 01 Jan 1970 00:00:00 GMT", cache.NeverExpires)

	app := fiber.New()
	app.Get("/x", cache.Never(), func(c *fiber.Ctx) error { return c.SendString("secret") })
	resp := controlGet(t, app, "/x")
	assert.Equal(t, fiber.StatusOK, resp.Status)
	neverAssertHeaders(t, resp)
	assert.Equal(t, []string{"Thu, 01 Jan 1970 00:00:00 GMT"}, resp.Header.Values(fiber.HeaderExpires))
}

func TestNever_OverridesHandler(t *testing.T) {
	app := fiber.New()
	app.Get("/x", cache.Never(), func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderCacheControl, "public, max-age=600")
		// Unrelated directives and extra lines are not kept either: the
		// header is always exactly the same.
		c.Response().Header.Add(fiber.HeaderCacheControl, "no-transform, immutable")
		c.Set(fiber.HeaderExpires, time.Now().Add(time.Hour).UTC().Format(http.TimeFormat))
		return c.SendString("secret")
	})
	neverAssertHeaders(t, controlGet(t, app, "/x"))
}

func TestNever_HandlerErrorPassedThroughStillNeverCached(t *testing.T) {
	sentinel := errors.New("boom")
	var got error
	app := fiber.New(fiber.Config{ErrorHandler: func(c *fiber.Ctx, err error) error {
		got = err
		return c.Status(fiber.StatusInternalServerError).SendString("oops")
	}})
	app.Get("/x", cache.Never(), func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderCacheControl, "public, max-age=600")
		return sentinel
	})
	resp := controlGet(t, app, "/x")
	assert.Same(t, sentinel, got)
	assert.Equal(t, fiber.StatusInternalServerError, resp.Status)
	neverAssertHeaders(t, resp)
}

func TestNever_WinsOverControl(t *testing.T) {
	app := fiber.New()
	// An app-wide Control runs its patch after Never's: it must not undo it.
	app.Use(cache.Control(cache.Public(), cache.MaxAge(time.Hour), cache.Immutable()))
	app.Get("/outer", cache.Never(), func(c *fiber.Ctx) error { return c.SendString("secret") })
	// A Control inside Never is overridden by Never anyway.
	app.Get("/inner", cache.Never(), cache.Control(cache.Public()), func(c *fiber.Ctx) error { return c.SendString("secret") })
	app.Get("/other", func(c *fiber.Ctx) error { return c.SendString("public") })

	neverAssertHeaders(t, controlGet(t, app, "/outer"))
	neverAssertHeaders(t, controlGet(t, app, "/inner"))
	assert.Equal(t, "public, max-age=3600, immutable", controlGet(t, app, "/other").Header.Get(fiber.HeaderCacheControl))
}

func TestNever_HeaderNormalizingDisabled(t *testing.T) {
	app := fiber.New(fiber.Config{DisableHeaderNormalizing: true})
	app.Get("/x", cache.Never(), func(c *fiber.Ctx) error {
		c.Response().Header.Add("cache-control", "public, max-age=600")
		c.Response().Header.Add("expires", time.Now().Add(time.Hour).UTC().Format(http.TimeFormat))
		return c.SendString("secret")
	})
	neverAssertHeaders(t, controlGet(t, app, "/x"))
}

func TestNever_StoresNothingWithoutNew(t *testing.T) {
	var runs atomic.Int32
	app := fiber.New()
	app.Get("/x", cache.Never(), func(c *fiber.Ctx) error {
		runs.Add(1)
		return c.SendString("secret")
	})
	for range 2 {
		neverAssertHeaders(t, controlGet(t, app, "/x"))
	}
	assert.Equal(t, int32(2), runs.Load())
}
