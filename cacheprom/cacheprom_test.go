package cacheprom_test

import (
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/fiber-caches/cache/cacheprom"
	"github.com/fiber-caches/cache/internal/core"
)

func newRegistered(t *testing.T, opts ...cacheprom.Option) (*cacheprom.Metrics, *prometheus.Registry) {
	t.Helper()
	m := cacheprom.New(opts...)
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(m); err != nil {
		t.Fatal(err)
	}
	return m, reg
}

func TestObserveEachEvent(t *testing.T) {
	m, reg := newRegistered(t)

	observations := []struct {
		ev core.Event
		r  core.Reason
		n  int
	}{
		{core.EventHit, core.ReasonNone, 3},
		{core.EventStale, core.ReasonNone, 1},
		{core.EventNotModified, core.ReasonNone, 4},
		{core.EventMiss, core.ReasonNone, 2},
		{core.EventRevalidated, core.ReasonNone, 1},
		{core.EventStored, core.ReasonNone, 2},
		{core.EventNotStored, core.ReasonNoStore, 2},
		{core.EventNotStored, core.ReasonPrivate, 1},
		{core.EventNotStored, core.ReasonNone, 1}, // no reason: "unknown"
		{core.EventBypass, core.ReasonMethod, 3},
		{core.EventBypass, core.ReasonNoStore, 1}, // a not-stored reason, counted all the same
		{core.EventBypass, core.Reason(250), 1},   // a reason this package does not know: "unknown"
		{core.EventInvalidation, core.ReasonNone, 5},
		{core.EventStorageError, core.ReasonNone, 1},
		{core.EventCoalesced, core.ReasonNone, 6},
		{core.Event(250), core.ReasonNone, 1}, // an event this package does not know: ignored
	}

	before := gather(t, reg)
	for _, absent := range []string{
		`fibercache_bypass_total{reason="no_store"}`,
		`fibercache_bypass_total{reason="unknown"}`,
		`fibercache_not_stored_total{reason="unknown"}`,
		`fibercache_not_stored_total{reason="method"}`,
	} {
		if _, ok := before[absent]; ok {
			t.Errorf("%s exported before it was observed", absent)
		}
	}
	// The reasons a cache steps aside for are bypasses.
	for _, r := range []core.Reason{core.ReasonSkip, core.ReasonNoRule, core.ReasonCachingOff, core.ReasonClosed} {
		if _, ok := before[`fibercache_bypass_total{reason="`+r.String()+`"}`]; !ok {
			t.Errorf("reason %q is not exported at zero in bypass_total", r)
		}
	}
	// Every reason is exported at zero from the start, in one family.
	for _, r := range core.Reasons() {
		_, bypass := before[`fibercache_bypass_total{reason="`+r.String()+`"}`]
		_, notStored := before[`fibercache_not_stored_total{reason="`+r.String()+`"}`]
		if bypass == notStored {
			t.Errorf("reason %q: exported at zero in bypass_total: %v, in not_stored_total: %v; want exactly one", r, bypass, notStored)
		}
	}

	for _, o := range observations {
		for range o.n {
			m.Observe(o.ev, o.r)
		}
	}

	checkSeries(t, gather(t, reg), map[string]float64{
		`fibercache_requests_total{result="hit"}`:           3,
		`fibercache_requests_total{result="stale"}`:         1,
		`fibercache_requests_total{result="not_modified"}`:  4,
		`fibercache_requests_total{result="miss"}`:          2,
		`fibercache_requests_total{result="bypass"}`:        5,
		`fibercache_revalidations_total`:                    1,
		`fibercache_stores_total`:                           2,
		`fibercache_not_stored_total{reason="no_store"}`:    2,
		`fibercache_not_stored_total{reason="private"}`:     1,
		`fibercache_not_stored_total{reason="unknown"}`:     1,
		`fibercache_not_stored_total{reason="status_code"}`: 0,
		`fibercache_bypass_total{reason="method"}`:          3,
		`fibercache_bypass_total{reason="no_store"}`:        1,
		`fibercache_bypass_total{reason="unknown"}`:         1,
		`fibercache_bypass_total{reason="no_rule"}`:         0,
		`fibercache_invalidations_total`:                    5,
		`fibercache_storage_errors_total`:                   1,
		`fibercache_coalesced_waits_total`:                  6,
	})

	// The exact exposition of the counters without a reason label.
	want := `
# HELP fibercache_requests_total Requests the cache middleware handled, by result: hit, stale, not_modified, miss or bypass.
# TYPE fibercache_requests_total counter
fibercache_requests_total{result="bypass"} 5
fibercache_requests_total{result="hit"} 3
fibercache_requests_total{result="miss"} 2
fibercache_requests_total{result="not_modified"} 4
fibercache_requests_total{result="stale"} 1
# HELP fibercache_stores_total Responses the cache stored.
# TYPE fibercache_stores_total counter
fibercache_stores_total 2
# HELP fibercache_revalidations_total Stale entries the handler confirmed with a 304 Not Modified.
# TYPE fibercache_revalidations_total counter
fibercache_revalidations_total 1
# HELP fibercache_invalidations_total Invalidations of a path or a route.
# TYPE fibercache_invalidations_total counter
fibercache_invalidations_total 5
# HELP fibercache_storage_errors_total Storage calls that failed or timed out.
# TYPE fibercache_storage_errors_total counter
fibercache_storage_errors_total 1
# HELP fibercache_coalesced_waits_total Requests that waited for an identical request's handler run instead of running it.
# TYPE fibercache_coalesced_waits_total counter
fibercache_coalesced_waits_total 6
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"fibercache_requests_total", "fibercache_stores_total", "fibercache_revalidations_total",
		"fibercache_invalidations_total", "fibercache_storage_errors_total", "fibercache_coalesced_waits_total",
	); err != nil {
		t.Error(err)
	}
}

func TestNamespaceAndConstLabels(t *testing.T) {
	m, reg := newRegistered(t,
		cacheprom.WithNamespace("shop"),
		cacheprom.WithConstLabels(prometheus.Labels{"app": "shop", "tier": "web"}),
		cacheprom.WithConstLabels(prometheus.Labels{"tier": "api"}),
	)
	m.Observe(core.EventHit, core.ReasonNone)
	m.Observe(core.EventNotStored, core.ReasonNoStore)
	m.WatchStore("pages", sizer(42))

	got := gather(t, reg)
	checkSeries(t, got, map[string]float64{
		`shop_requests_total{app="shop",result="hit",tier="api"}`:        1,
		`shop_not_stored_total{app="shop",reason="no_store",tier="api"}`: 1,
		`shop_stores_total{app="shop",tier="api"}`:                       0,
		`shop_store_bytes{app="shop",cache="pages",tier="api"}`:          42,
	})
	for name := range got {
		if !strings.HasPrefix(name, "shop_") {
			t.Errorf("%s: not in the shop namespace", name)
		}
	}
}

func TestTwoMetricsOneRegistry(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	a := cacheprom.New(cacheprom.WithConstLabels(prometheus.Labels{"tier": "a"}))
	b := cacheprom.New(cacheprom.WithConstLabels(prometheus.Labels{"tier": "b"}))
	reg.MustRegister(a, b)
	a.Observe(core.EventHit, core.ReasonNone)
	b.Observe(core.EventMiss, core.ReasonNone)
	checkSeries(t, gather(t, reg), map[string]float64{
		`fibercache_requests_total{result="hit",tier="a"}`:  1,
		`fibercache_requests_total{result="miss",tier="a"}`: 0,
		`fibercache_requests_total{result="hit",tier="b"}`:  0,
		`fibercache_requests_total{result="miss",tier="b"}`: 1,
	})
}

func TestNewPanicsOnBadOption(t *testing.T) {
	for name, opt := range map[string]cacheprom.Option{
		"label reason":  cacheprom.WithConstLabels(prometheus.Labels{"reason": "x"}),
		"label result":  cacheprom.WithConstLabels(prometheus.Labels{"result": "x"}),
		"label cache":   cacheprom.WithConstLabels(prometheus.Labels{"cache": "x"}),
		"label name":    cacheprom.WithConstLabels(prometheus.Labels{"__reserved": "x"}),
		"invalid UTF-8": cacheprom.WithNamespace("\xff"),
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				r := recover()
				if r == nil {
					t.Fatal("New did not panic")
				}
				if s, _ := r.(string); !strings.HasPrefix(s, "cacheprom: ") {
					t.Errorf("panic %v does not say it comes from cacheprom", r)
				}
			}()
			cacheprom.New(opt)
		})
	}
}

type sizer int64

func (s sizer) StoreBytes() int64 { return int64(s) }

type growing struct {
	mu sync.Mutex
	n  int64
}

func (g *growing) StoreBytes() int64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.n
}

func TestWatchStore(t *testing.T) {
	m, reg := newRegistered(t)
	if _, ok := gather(t, reg)[`fibercache_store_bytes{cache="pages"}`]; ok {
		t.Error("store_bytes exported before WatchStore")
	}

	g := &growing{n: 100}
	m.WatchStore("pages", g)
	m.WatchStore("api", sizer(7))
	checkSeries(t, gather(t, reg), map[string]float64{
		`fibercache_store_bytes{cache="pages"}`: 100,
		`fibercache_store_bytes{cache="api"}`:   7,
	})

	// Read at scrape time.
	g.mu.Lock()
	g.n = 2500
	g.mu.Unlock()
	checkSeries(t, gather(t, reg), map[string]float64{`fibercache_store_bytes{cache="pages"}`: 2500})

	// Watching a name again replaces; nil stops.
	m.WatchStore("api", sizer(8))
	m.WatchStore("pages", nil)
	got := gather(t, reg)
	checkSeries(t, got, map[string]float64{`fibercache_store_bytes{cache="api"}`: 8})
	if _, ok := got[`fibercache_store_bytes{cache="pages"}`]; ok {
		t.Error("store_bytes{cache=pages} still exported after WatchStore(pages, nil)")
	}
}

func TestLint(t *testing.T) {
	m := cacheprom.New()
	m.WatchStore("pages", sizer(1))
	problems, err := testutil.CollectAndLint(m)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
}

func TestObserveDoesNotAllocate(t *testing.T) {
	m := cacheprom.New(cacheprom.WithConstLabels(prometheus.Labels{"app": "shop"}))
	events, reasons := core.Events(), core.Reasons() // these allocate their slices: outside the measured calls
	allocs := testing.AllocsPerRun(1000, func() {
		for _, ev := range events {
			m.Observe(ev, core.ReasonNone)
		}
		for _, r := range reasons {
			m.Observe(core.EventNotStored, r)
			m.Observe(core.EventBypass, r)
		}
		m.Observe(core.Event(250), core.Reason(250))
		m.Observe(core.EventBypass, core.Reason(250))
	})
	if allocs != 0 {
		t.Errorf("Observe allocates: %v allocations per run, want 0", allocs)
	}
}

func TestObserveConcurrently(t *testing.T) {
	m, reg := newRegistered(t)
	const goroutines, each = 8, 1000
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			for range each {
				m.Observe(core.EventHit, core.ReasonNone)
				m.Observe(core.EventBypass, core.ReasonSkip)
			}
		})
	}
	// Scrapes run alongside.
	for range 5 {
		gather(t, reg)
	}
	wg.Wait()
	checkSeries(t, gather(t, reg), map[string]float64{
		`fibercache_requests_total{result="hit"}`:    goroutines * each,
		`fibercache_requests_total{result="bypass"}`: goroutines * each,
		`fibercache_bypass_total{reason="skip"}`:     goroutines * each,
	})
}

func BenchmarkObserve(b *testing.B) {
	m := cacheprom.New()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.Observe(core.EventHit, core.ReasonNone)
		}
	})
}
