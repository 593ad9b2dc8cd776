package cacheprom_test

import (
	"log"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/fiber-caches/cache/cacheprom"
)

// The cache's metrics, with the app's label, served to Prometheus on a
// port of their own. The cache side is two lines in the app, the same with
// the Fiber v2 middleware (github.com/fiber-caches/cache) and the Fiber v3
// one (github.com/fiber-caches/cache/fiberv3):
//
//	c := cache.NewCache(cache.WithTTL(time.Minute), cache.WithObserver(m))
//	app.Use(c.Handler())
//	m.WatchStore("pages", c) // fibercache_store_bytes{app="shop",cache="pages"}
//
// To serve /metrics on the app's own port instead, see the package doc.
func Example() {
	reg := prometheus.NewRegistry()
	m := cacheprom.New(cacheprom.WithConstLabels(prometheus.Labels{"app": "shop"}))
	reg.MustRegister(m)

	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	log.Fatal(http.ListenAndServe("127.0.0.1:9090", mux))
}
