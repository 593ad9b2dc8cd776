package bench

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/fiber-caches/cache"
	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"
)

// TestCookieMixHitRate measures what keying by cookies (app mode's
// default) costs in hit rate on a mix of traffic, against sharing whatever
// the cookies (WithCookieIgnore("*"), the behaviour before v0.2.0):
//
//	go test ./bench -run TestCookieMixHitRate -v
//
// 20,000 GETs of 50 pages (Zipf-distributed popularity) that say nothing
// of sharing (no public, as most handlers), from a fixed random stream:
// 40% without cookies (first visits, bots, privacy browsers), 45% with
// analytics cookies only (_ga=<one of 3,000 visitors>, consent=yes), 15%
// logged in (session=<one of 200 users> and their _ga). The numbers are
// in docs/keys-and-vary.md. The test checks only their order: ignoring
// analytics cookies recovers the anonymous traffic, and no setting keys
// less than sharing everything.
func TestCookieMixHitRate(t *testing.T) {
	rates := map[string]float64{}
	for _, c := range []struct {
		name string
		opts []cache.Option
	}{
		{"shared whatever the cookies (WithCookieIgnore(\"*\"))", []cache.Option{cache.WithCookieIgnore("*")}},
		{"keyed by every cookie (default)", nil},
		{"keyed by cookies but _ga* and consent", []cache.Option{cache.WithCookieIgnore("_ga*", "consent")}},
	} {
		rates[c.name] = cookieMix(t, c.opts...)
		t.Logf("%-55s hit rate %5.1f%%", c.name, 100*rates[c.name])
	}
	all, def, ignore := rates["shared whatever the cookies (WithCookieIgnore(\"*\"))"], rates["keyed by every cookie (default)"], rates["keyed by cookies but _ga* and consent"]
	if !(all >= ignore && ignore > def) {
		t.Fatalf("hit rates out of order: shared %.3f, ignoring analytics %.3f, default %.3f", all, ignore, def)
	}
}

// cookieMix serves the traffic described above through a cache built with
// opts, and returns the share of hits.
func cookieMix(t *testing.T, opts ...cache.Option) float64 {
	t.Helper()
	m := cache.NewCache(append([]cache.Option{cache.WithTTL(time.Hour), cache.WithCacheStatus(false)}, opts...)...)
	defer m.Close()
	app := fiber.New()
	app.Use(m.Handler())
	app.Get("/page/:n", func(c *fiber.Ctx) error { return c.SendString("page " + c.Params("n")) })
	serve := app.Handler()

	rng := rand.New(rand.NewPCG(1, 2))
	zipf := rand.NewZipf(rng, 1.1, 1, 49)
	const n = 20000
	hits := 0
	ctx := new(fasthttp.RequestCtx)
	ctx.Init2(benchConn{}, nil, false)
	for range n {
		ctx.Request.Reset()
		ctx.Response.Reset()
		ctx.ResetUserValues()
		ctx.Request.Header.SetMethod(fiber.MethodGet)
		ctx.Request.SetRequestURI(fmt.Sprintf("/page/%d", zipf.Uint64()))
		ctx.Request.Header.SetHost("example.com")
		switch p := rng.Float64(); {
		case p < 0.40:
		case p < 0.85:
			ctx.Request.Header.SetCookie("_ga", fmt.Sprintf("GA1.2.%d", rng.IntN(3000)))
			ctx.Request.Header.SetCookie("consent", "yes")
		default:
			u := rng.IntN(200)
			ctx.Request.Header.SetCookie("_ga", fmt.Sprintf("GA1.2.%d", 5000+u))
			ctx.Request.Header.SetCookie("session", fmt.Sprintf("s%d", u))
		}
		serve(ctx)
		if ctx.Response.StatusCode() != 200 {
			t.Fatalf("status %d", ctx.Response.StatusCode())
		}
		if string(ctx.Response.Header.Peek("X-Cache")) == "hit" {
			hits++
		}
	}
	return float64(hits) / n
}
