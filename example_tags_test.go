package cache_test

import (
	"fmt"
	"io"
	"net/http/httptest"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/keyauth"

	"github.com/fiber-caches/cache"
)

// A product, the lists it appears in and the search page all carry the
// product's tag; one InvalidateTags call drops them all, on every
// instance, whatever their number.
func ExampleTag() {
	m := cache.NewCache()
	defer m.Close()
	app := fiber.New()
	app.Use(m.Handler())
	app.Get("/products/:id", func(c *fiber.Ctx) error {
		cache.Tag(c, "product:"+c.Params("id"))
		return c.SendString("product " + c.Params("id"))
	})
	app.Get("/lists/bestsellers", func(c *fiber.Ctx) error {
		cache.Tag(c, "product:42", "product:7", "list:bestsellers")
		return c.SendString("42, 7")
	})
	app.Get("/search", func(c *fiber.Ctx) error {
		// Tags may come from a header too (space-separated), as a proxied
		// upstream would send them; the header is not passed on.
		c.Set("Surrogate-Key", "product:42 search")
		return c.SendString("results")
	})

	get := func(path string) string {
		resp, err := app.Test(httptest.NewRequest(fiber.MethodGet, path, nil), -1)
		if err != nil {
			panic(err)
		}
		_ = resp.Body.Close()
		return resp.Header.Get("X-Cache")
	}
	for _, p := range []string{"/products/42", "/products/7", "/lists/bestsellers", "/search"} {
		get(p)
	}
	// Product 42 changed.
	if err := m.InvalidateTags("product:42"); err != nil {
		panic(err)
	}
	for _, p := range []string{"/products/42", "/products/7", "/lists/bestsellers", "/search"} {
		fmt.Printf("%s: %s\n", p, get(p))
	}
	// Output:
	// /products/42: miss
	// /products/7: hit
	// /lists/bestsellers: miss
	// /search: miss
}

// A purge endpoint for a CMS webhook or a deploy script, behind the app's
// own authentication (here an API key).
func ExampleCache_PurgeHandler() {
	m := cache.NewCache()
	defer m.Close()
	app := fiber.New()
	app.Post("/_cache/purge", keyauth.New(keyauth.Config{
		Validator: func(_ *fiber.Ctx, key string) (bool, error) { return key == "s3cret", nil },
	}), m.PurgeHandler())
	app.Use(m.Handler())
	app.Get("/products/:id", func(c *fiber.Ctx) error {
		cache.Tag(c, "product:"+c.Params("id"))
		return c.SendString("product")
	})

	purge := func(key, body string) {
		req := httptest.NewRequest(fiber.MethodPost, "/_cache/purge", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := app.Test(req, -1)
		if err != nil {
			panic(err)
		}
		b, _ := io.ReadAll(resp.Body)
		fmt.Println(resp.StatusCode, strings.TrimSpace(string(b)))
	}
	purge("guess", `{"all": true}`)
	purge("s3cret", `{"tags": ["product:42"], "urls": ["/products/7"]}`)
	// Output:
	// 401 Invalid or expired API Key
	// 200 {"tags":1,"urls":1,"all":false,"soft":false}
}
