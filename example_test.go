package cache_test

import (
	"fmt"
	"net/http/httptest"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"github.com/fiber-caches/cache"
)

func ExampleControl() {
	app := fiber.New()

	// The handler allows ten minutes and transformations are off; Control
	// lowers max-age to one minute, adds stale-while-revalidate and drops
	// must-revalidate, keeping the handler's order.
	app.Get("/news",
		cache.Control(
			cache.MaxAge(time.Minute),
			cache.StaleWhileRevalidate(30*time.Second),
			cache.Drop("must-revalidate"),
		),
		func(c *fiber.Ctx) error {
			c.Set(fiber.HeaderCacheControl, "public, max-age=600, must-revalidate, no-transform")
			return c.SendString("news")
		})

	// Per-user data: only the browser may keep it.
	app.Get("/me", cache.Control(cache.Private(), cache.MaxAge(time.Minute)), func(c *fiber.Ctx) error {
		return c.SendString("me")
	})

	for _, path := range []string{"/news", "/me"} {
		resp, err := app.Test(httptest.NewRequest(fiber.MethodGet, path, nil), -1)
		if err != nil {
			panic(err)
		}
		_ = resp.Body.Close()
		fmt.Printf("%s: Cache-Control: %s\n", path, resp.Header.Get(fiber.HeaderCacheControl))
	}
	// Output:
	// /news: Cache-Control: public, max-age=60, no-transform, stale-while-revalidate=30
	// /me: Cache-Control: private, max-age=60
}

func ExampleNever() {
	app := fiber.New()
	app.Get("/account", cache.Never(), func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderCacheControl, "public, max-age=600") // overridden
		return c.SendString("account")
	})

	resp, err := app.Test(httptest.NewRequest(fiber.MethodGet, "/account", nil), -1)
	if err != nil {
		panic(err)
	}
	_ = resp.Body.Close()
	fmt.Println("Cache-Control:", resp.Header.Get(fiber.HeaderCacheControl))
	fmt.Println("Expires:", resp.Header.Get(fiber.HeaderExpires))
	// Output:
	// Cache-Control: max-age=0, no-cache, no-store, must-revalidate, private
	// Expires: Thu, 01 Jan 1970 00:00:00 GMT
}

func ExamplePatchCacheControl() {
	var h fasthttp.ResponseHeader
	h.Set(fiber.HeaderCacheControl, `Public, no-cache="Set-Cookie, X-User", max-age=3600`)

	cache.PatchCacheControl(&h, cache.Private(), cache.MaxAge(5*time.Minute))

	fmt.Println(string(h.Peek(fiber.HeaderCacheControl)))
	// Output:
	// private, no-cache="Set-Cookie, X-User", max-age=300
}
