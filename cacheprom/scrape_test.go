package cacheprom_test

import (
	"errors"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	cache "github.com/fiber-caches/cache"
	"github.com/fiber-caches/cache/cacheprom"
)

// TestScrape runs the cache in a Fiber app on a loopback listener, sends it
// a miss, a hit, a conditional request its stored ETag answers and a
// no-store response, and reads the counters off the app's /metrics.
func TestScrape(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := cacheprom.New(cacheprom.WithConstLabels(prometheus.Labels{"app": "shop"}))
	reg.MustRegister(m)

	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	// Before the cache middleware: scrapes are neither cached nor counted.
	app.Get("/metrics", adaptor.HTTPHandler(promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.HTTPErrorOnError})))
	c := cache.NewCache(cache.WithTTL(time.Minute), cache.WithObserver(m))
	app.Use(c.Handler())
	var pageRuns atomic.Int32
	app.Get("/page", func(c *fiber.Ctx) error {
		pageRuns.Add(1)
		c.Set(fiber.HeaderETag, `"v1"`)
		return c.SendString("page")
	})
	app.Get("/nostore", func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderCacheControl, "no-store")
		return c.SendString("secret")
	})
	m.WatchStore("pages", c)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- app.Listener(ln) }()
	t.Cleanup(func() {
		if err := app.ShutdownWithTimeout(5 * time.Second); err != nil {
			t.Error(err)
		}
		if err := <-served; err != nil && !errors.Is(err, net.ErrClosed) {
			t.Error(err)
		}
	})
	base := "http://" + ln.Addr().String()
	client := &http.Client{Timeout: 10 * time.Second}
	get := func(path string, header ...string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, base+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, string(body)
	}

	if status, body := get("/page"); status != http.StatusOK || body != "page" {
		t.Errorf("first GET /page: %d %q, want 200 \"page\"", status, body)
	}
	if status, body := get("/page"); status != http.StatusOK || body != "page" {
		t.Errorf("second GET /page: %d %q, want 200 \"page\"", status, body)
	}
	if status, body := get("/page", fiber.HeaderIfNoneMatch, `"v1"`); status != http.StatusNotModified || body != "" {
		t.Errorf("GET /page with If-None-Match of its ETag: %d %q, want 304 and no body", status, body)
	}
	if status, body := get("/nostore"); status != http.StatusOK || body != "secret" {
		t.Errorf("GET /nostore: %d %q, want 200 \"secret\"", status, body)
	}
	if n := pageRuns.Load(); n != 1 {
		t.Errorf("the /page handler ran %d times, want 1", n)
	}

	status, text := get("/metrics")
	if status != http.StatusOK {
		t.Fatalf("GET /metrics: %d: %s", status, text)
	}
	got := parseExposition(t, stringsReader(text))
	checkSeries(t, got, map[string]float64{
		`fibercache_requests_total{app="shop",result="miss"}`:         2, // /page, /nostore
		`fibercache_requests_total{app="shop",result="hit"}`:          1,
		`fibercache_requests_total{app="shop",result="not_modified"}`: 1,
		`fibercache_requests_total{app="shop",result="stale"}`:        0,
		`fibercache_requests_total{app="shop",result="bypass"}`:       0, // /metrics is served before the cache
		`fibercache_stores_total{app="shop"}`:                         1,
		`fibercache_not_stored_total{app="shop",reason="no_store"}`:   1,
	})
	if b := got[`fibercache_store_bytes{app="shop",cache="pages"}`]; b <= 0 {
		t.Errorf(`fibercache_store_bytes{app="shop",cache="pages"} = %v after storing /page, want > 0`, b)
	}
}
