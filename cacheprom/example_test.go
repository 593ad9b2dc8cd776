package cacheprom_test

import (
	"log"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	cache "github.com/fiber-caches/cache"
	"github.com/fiber-caches/cache/cacheprom"
)

// The cache's metrics, with the app's label, on the app's own /metrics.
func Example() {
	reg := prometheus.NewRegistry()
	m := cacheprom.New(cacheprom.WithConstLabels(prometheus.Labels{"app": "shop"}))
	reg.MustRegister(m)

	app := fiber.New()
	// Registered before the cache middleware, so that scrapes are neither
	// cached nor counted.
	app.Get("/metrics", adaptor.HTTPHandler(promhttp.HandlerFor(reg, promhttp.HandlerOpts{})))

	c := cache.NewCache(cache.WithTTL(time.Minute), cache.WithObserver(m))
	app.Use(c.Handler())
	// fibercache_store_bytes{app="shop",cache="pages"}: the bytes the
	// in-process store holds, read at each scrape.
	m.WatchStore("pages", c)

	app.Get("/products", func(c *fiber.Ctx) error {
		return c.SendString("products")
	})
	log.Fatal(app.Listen(":8080"))
}
