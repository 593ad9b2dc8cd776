//go:build !race

package cache_test

// Not generated: a hit on a Fiber v3 app as fiber.New() makes it (no
// proxy trusted) allocates nothing either. See alloc_test.go.

import (
	"testing"
	"time"

	"github.com/gofiber/fiber/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/valyala/fasthttp"

	cache "github.com/fiber-caches/cache/fiberv3"
)

func TestV3_DefaultAppHitAllocatesNothing(t *testing.T) {
	app := fiber.New()
	app.Use(cache.New(cache.WithTTL(time.Hour)))
	app.Get("/p", func(c fiber.Ctx) error { return c.SendString("p") })
	serve := app.Handler()
	var req fasthttp.Request
	req.Header.SetMethod(fiber.MethodGet)
	req.SetRequestURI("/p?q=1")
	req.Header.SetHost("example.com")
	req.Header.Set("X-Forwarded-Host", "other.example") // not trusted: read, not used as the host
	ctx := new(fasthttp.RequestCtx)
	ctx.Init(&req, nil, nil)
	run := func() {
		ctx.Response.Reset()
		ctx.ResetUserValues()
		serve(ctx)
	}
	run()
	run()
	require.Equal(t, "hit", string(ctx.Response.Header.Peek("X-Cache")))
	assert.Zero(t, testing.AllocsPerRun(200, run), "allocations per hit")
}
