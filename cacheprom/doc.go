// Package cacheprom exports the cache middleware's events as Prometheus
// metrics.
//
// It is a module of its own, so that the cache's modules require no
// Prometheus:
//
//	go get github.com/fiber-caches/cache/cacheprom
//
// It depends on the cache's engine, not on a Fiber adapter, and adds no
// Fiber to a module graph: cache.Observer, cache.Event and cache.Reason are
// the engine's types under the names of each adapter, so one Metrics
// observes the caches of the Fiber v2 middleware
// (github.com/fiber-caches/cache) and of the Fiber v3 one
// (github.com/fiber-caches/cache/fiberv3) alike. Its method signatures
// name the engine's package, internal/core, whose types are those.
//
// New returns a *Metrics, which is both a cache.Observer (pass it to
// cache.WithObserver) and a prometheus.Collector (register it with a
// prometheus.Registerer). With Fiber v2:
//
//	reg := prometheus.NewRegistry()
//	m := cacheprom.New(cacheprom.WithConstLabels(prometheus.Labels{"app": "shop"}))
//	reg.MustRegister(m)
//
//	app := fiber.New()
//	app.Get("/metrics", adaptor.HTTPHandler(promhttp.HandlerFor(reg, promhttp.HandlerOpts{})))
//	c := cache.NewCache(cache.WithTTL(time.Minute), cache.WithObserver(m))
//	app.Use(c.Handler())
//	m.WatchStore("pages", c)
//
// Register the /metrics route before the cache middleware, as above, so
// that scrapes are neither cached nor counted.
//
// # Exported API
//
//   - New(opts ...Option) *Metrics, with the options WithNamespace and
//     WithConstLabels.
//   - (*Metrics).Observe, the cache.Observer method: one or two atomic
//     additions into counters resolved when New ran; it neither allocates
//     nor blocks.
//   - (*Metrics).Describe and (*Metrics).Collect, the prometheus.Collector
//     methods.
//   - (*Metrics).WatchStore(name, s), which adds a store_bytes gauge for a
//     cache; StoreSizer is the interface s satisfies.
//
// # Metrics
//
// With the default namespace, "fibercache" (see WithNamespace), and the
// constant labels of WithConstLabels on every series:
//
//	fibercache_requests_total{result}      counter  requests the middleware saw, by result:
//	                                                hit, stale, not_modified, miss or bypass
//	fibercache_bypass_total{reason}        counter  bypasses (result="bypass"), by reason
//	fibercache_not_stored_total{reason}    counter  responses not stored, by reason
//	fibercache_stores_total                counter  responses stored
//	fibercache_revalidations_total         counter  stale entries the handler confirmed with a 304
//	fibercache_invalidations_total         counter  invalidations of a path or a route
//	fibercache_storage_errors_total        counter  storage calls that failed or timed out
//	fibercache_coalesced_waits_total       counter  requests that waited for an identical
//	                                                request's handler run
//	fibercache_store_bytes{cache}          gauge    bytes held by the in-process store of each
//	                                                cache passed to WatchStore
//
// The result label of requests_total is the cache.Event's name: "hit" (a
// fresh stored response), "stale" (a stale one, under stale-while-revalidate
// or stale-if-error), "not_modified" (a 304 answered from the store), "miss"
// (the handler ran) and "bypass" (the request was not looked up at all).
// Each request has one result, so the results add up to the requests the
// middleware handled, and sum(fibercache_bypass_total) equals
// fibercache_requests_total{result="bypass"}.
//
// The reason label is the cache.Reason's name, such as "method" or
// "no_rule" for a bypass and "no_store", "private" or "status_code" for a
// response not stored. Each reason is exported from the start, at zero, in
// the metric the cache documents it for (cache.ReasonMethod through
// cache.ReasonAbsoluteForm for bypass_total, the others for
// not_stored_total), so that rate and increase see its first occurrence; a
// reason observed with the other event is counted too, and appears once it
// has happened. The reason "unknown" counts events that came without a
// reason, or with one cache.Reasons does not list.
//
// # Hit ratio
//
// The share of looked-up requests answered from the store, over five
// minutes:
//
//	  sum(rate(fibercache_requests_total{result=~"hit|stale|not_modified"}[5m]))
//	/
//	  sum(rate(fibercache_requests_total{result!="bypass"}[5m]))
//
// Add "by (app)", or whichever constant label tells caches apart, to both
// sums for one ratio per cache. Dropping the {result!="bypass"} matcher
// from the divisor counts bypassed requests as misses.
//
// # Store size
//
// The in-process store's size is read when Prometheus scrapes, with no
// goroutine of its own: pass each cache built with cache.NewCache to
// WatchStore under a name, which becomes the cache label. A cache using
// cache.WithStorage holds nothing in process and reports 0; measure that
// storage with its own exporter.
//
// # Several caches
//
// One Metrics may observe several caches, whose counts then add up. To
// tell them apart, build one Metrics per cache with a constant label that
// differs, such as WithConstLabels(prometheus.Labels{"tier": "api"})
// (any label name but result, reason and cache), and register each with
// the same registry.
package cacheprom
