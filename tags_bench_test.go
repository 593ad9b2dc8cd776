package cache

import (
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"
)

// tagHitServer serves GET /p from the in-process store, its response
// tagged with tags (its route's tag always), through a reused request
// context as fasthttp's server reuses it.
func tagHitServer(tb testing.TB, tags ...string) func() {
	tb.Helper()
	m := NewCache(WithTTL(time.Hour))
	tb.Cleanup(func() { _ = m.Close() })
	app := fiber.New()
	app.Use(m.Handler())
	app.Get("/p", func(c *fiber.Ctx) error {
		Tag(c, tags...)
		return c.SendString("page")
	})
	serve := app.Handler()
	var req fasthttp.Request
	req.Header.SetMethod(fiber.MethodGet)
	req.SetRequestURI("/p")
	req.Header.SetHost("example.com")
	ctx := new(fasthttp.RequestCtx)
	ctx.Init(&req, nil, nil)
	run := func() {
		ctx.Response.Reset()
		ctx.ResetUserValues()
		serve(ctx)
	}
	run()
	run()
	if got := string(ctx.Response.Header.Peek("X-Cache")); got != "hit" {
		tb.Fatalf("X-Cache: %q, want hit", got)
	}
	return run
}

// BenchmarkHitTags: what tags cost a hit in process, against a response
// tagged by its route only (the cheapest: every response carries its
// route's tag).
//
//	go test -run '^$' -bench HitTags -benchmem -count 6 .
func BenchmarkHitTags(b *testing.B) {
	for _, c := range []struct {
		name string
		tags []string
	}{
		{"route-only", nil},
		{"4-tags", []string{"product:42", "category:shoes", "list:bestsellers", "search"}},
	} {
		b.Run(c.name, func(b *testing.B) {
			run := tagHitServer(b, c.tags...)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				run()
			}
		})
	}
}
