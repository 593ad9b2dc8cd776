package cacheprom_test

import (
	"errors"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"

	"github.com/fiber-caches/cache/cacheprom"
	"github.com/fiber-caches/cache/internal/core"
)

// TestScrape runs the cache engine in a plain fasthttp server on a
// loopback listener (no Fiber: this module does not depend on either),
// sends it a miss, a hit, a conditional request its stored ETag answers
// and a no-store response, and reads the counters off the server's
// /metrics.
func TestScrape(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := cacheprom.New(cacheprom.WithConstLabels(prometheus.Labels{"app": "shop"}))
	reg.MustRegister(m)

	c := core.NewCache(plainFramework{}, core.WithTTL(time.Minute), core.WithObserver(m))
	t.Cleanup(func() { c.Close() })
	m.WatchStore("pages", c)
	var pageRuns atomic.Int32
	app := &plainApp{
		// Before the cache: scrapes are neither cached nor counted.
		metrics: fasthttpadaptor.NewFastHTTPHandler(promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.HTTPErrorOnError})),
		cache:   c.Serve,
		routes: map[string]func(c *plainCtx) error{
			"/page": func(c *plainCtx) error {
				pageRuns.Add(1)
				c.rc.Response.Header.Set("ETag", `"v1"`)
				c.rc.SetBodyString("page")
				return nil
			},
			"/nostore": func(c *plainCtx) error {
				c.rc.Response.Header.Set("Cache-Control", "no-store")
				c.rc.SetBodyString("secret")
				return nil
			},
		},
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: app.Handler()}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	t.Cleanup(func() {
		if err := srv.Shutdown(); err != nil {
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
	if status, body := get("/page", "If-None-Match", `"v1"`); status != http.StatusNotModified || body != "" {
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
