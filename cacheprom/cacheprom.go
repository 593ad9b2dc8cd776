package cacheprom

import (
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fiber-caches/cache/internal/core"
)

// A StoreSizer reports the bytes a cache's in-process store holds.
// A *cache.Cache is one, of the Fiber v2 and the Fiber v3 middleware alike.
type StoreSizer interface {
	StoreBytes() int64
}

// Metrics counts a cache's events for Prometheus. It is a cache.Observer
// (see cache.WithObserver) and a prometheus.Collector (register it with a
// prometheus.Registerer). Build it with New; it is safe for concurrent use.
type Metrics struct {
	// Observe's state: one counter per cache.Event and, for the events
	// that carry one, per cache.Reason, indexed by the enum.
	events    []slot // by cache.Event
	notStored []slot // by cache.Reason; [cache.ReasonNone] counts "unknown"
	bypass    []slot // by cache.Reason; [cache.ReasonNone] counts "unknown"

	// Collect's: what each counter is exported as.
	eventSeries   []series // by cache.Event; desc nil: not exported on its own
	reasonNames   []string // by cache.Reason
	notStoredZero []bool   // by cache.Reason: exported while still zero
	bypassZero    []bool   // by cache.Reason: exported while still zero
	notStoredDesc *prometheus.Desc
	bypassDesc    *prometheus.Desc
	storeBytes    *prometheus.Desc
	descs         []*prometheus.Desc
	created       time.Time

	mu     sync.Mutex
	stores map[string]StoreSizer
}

// slot is one counter, alone on its cache line so that counters bumped by
// different cores do not contend.
type slot struct {
	n atomic.Uint64
	_ [56]byte
}

type series struct {
	desc   *prometheus.Desc
	labels []string
}

// bypassReasons are the reasons the cache gives with cache.EventBypass; the
// others come with cache.EventNotStored. Only the zero series exported up
// front depend on this: a reason observed with the other event is still
// counted, and exported from then on.
var bypassReasons = []core.Reason{
	core.ReasonMethod,
	core.ReasonNoRule,
	core.ReasonSkip,
	core.ReasonPendingInvalidation,
	core.ReasonStoragePaused,
	core.ReasonRequestNoStore,
	core.ReasonAbsoluteForm,
	core.ReasonCachingOff,
	core.ReasonClosed,
}

// unknownReason labels an event that came without a reason, or with one
// this package does not know.
const unknownReason = "unknown"

// New returns Metrics with every counter at zero. It panics if an option is
// invalid (a malformed namespace or label, or a constant label named
// result, reason or cache), saying which.
func New(opts ...Option) *Metrics {
	cfg := config{namespace: DefaultNamespace}
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	for _, name := range []string{"result", "reason", "cache"} {
		if _, ok := cfg.constLabels[name]; ok {
			panic(fmt.Sprintf("cacheprom: constant label %q clashes with the metrics' own %q label", name, name))
		}
	}

	m := &Metrics{created: time.Now(), stores: make(map[string]StoreSizer)}
	desc := func(name, help string, labels ...string) *prometheus.Desc {
		d := prometheus.NewDesc(prometheus.BuildFQName(cfg.namespace, "", name), help, labels, cfg.constLabels)
		if err := d.Err(); err != nil {
			panic("cacheprom: " + err.Error())
		}
		m.descs = append(m.descs, d)
		return d
	}
	requests := desc("requests_total",
		"Requests the cache middleware handled, by result: hit, stale, not_modified, miss or bypass.", "result")
	m.bypassDesc = desc("bypass_total",
		"Requests the cache middleware neither looked up nor stored, by reason.", "reason")
	m.notStoredDesc = desc("not_stored_total",
		"Responses the cache did not store, by reason.", "reason")
	single := map[core.Event]*prometheus.Desc{
		core.EventStored:       desc("stores_total", "Responses the cache stored."),
		core.EventRevalidated:  desc("revalidations_total", "Stale entries the handler confirmed with a 304 Not Modified."),
		core.EventInvalidation: desc("invalidations_total", "Invalidations of a path or a route."),
		core.EventStorageError: desc("storage_errors_total", "Storage calls that failed or timed out."),
		core.EventCoalesced:    desc("coalesced_waits_total", "Requests that waited for an identical request's handler run instead of running it."),
	}
	m.storeBytes = desc("store_bytes", "Bytes held by the in-process store of a cache, by the name WatchStore was given.", "cache")

	nEvents := 0
	for _, e := range core.Events() {
		nEvents = max(nEvents, int(e)+1)
	}
	m.events = make([]slot, nEvents)
	m.eventSeries = make([]series, nEvents)
	for _, e := range core.Events() {
		switch e {
		case core.EventHit, core.EventStale, core.EventNotModified, core.EventMiss, core.EventBypass:
			m.eventSeries[e] = series{requests, []string{e.String()}}
		default:
			if d := single[e]; d != nil {
				m.eventSeries[e] = series{desc: d}
			}
			// cache.EventNotStored is exported by reason only.
		}
	}

	nReasons := int(core.ReasonNone) + 1
	for _, r := range core.Reasons() {
		nReasons = max(nReasons, int(r)+1)
	}
	m.notStored = make([]slot, nReasons)
	m.bypass = make([]slot, nReasons)
	m.reasonNames = make([]string, nReasons)
	m.notStoredZero = make([]bool, nReasons)
	m.bypassZero = make([]bool, nReasons)
	for i := range m.reasonNames {
		m.reasonNames[i] = unknownReason
	}
	for _, r := range core.Reasons() {
		if name := r.String(); name != "" {
			m.reasonNames[r] = name
		}
		m.notStoredZero[r] = true
	}
	for _, r := range bypassReasons {
		if int(r) < nReasons {
			m.bypassZero[r], m.notStoredZero[r] = true, false
		}
	}
	return m
}

// Observe counts ev, and r for cache.EventNotStored and cache.EventBypass.
// It implements cache.Observer: an array index and an atomic addition or
// two, with no allocation and no lock. Events and reasons unknown to this
// package are ignored and counted as "unknown" respectively.
func (m *Metrics) Observe(ev core.Event, r core.Reason) {
	if int(ev) < len(m.events) {
		m.events[ev].n.Add(1)
	}
	switch ev {
	case core.EventNotStored:
		reasonSlot(m.notStored, r).n.Add(1)
	case core.EventBypass:
		reasonSlot(m.bypass, r).n.Add(1)
	}
}

func reasonSlot(s []slot, r core.Reason) *slot {
	if int(r) < len(s) {
		return &s[r]
	}
	return &s[core.ReasonNone]
}

// WatchStore exports s.StoreBytes(), read at each scrape, as the store_bytes
// gauge with the label cache=name. Watching a name again replaces the
// earlier s; a nil s stops watching the name.
func (m *Metrics) WatchStore(name string, s StoreSizer) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s == nil {
		delete(m.stores, name)
		return
	}
	m.stores[name] = s
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range m.descs {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	for e := range m.eventSeries {
		if s := &m.eventSeries[e]; s.desc != nil {
			m.counter(ch, s.desc, m.events[e].n.Load(), s.labels...)
		}
	}
	m.collectReasons(ch, m.notStoredDesc, m.notStored, m.notStoredZero)
	m.collectReasons(ch, m.bypassDesc, m.bypass, m.bypassZero)

	type watched struct {
		name string
		s    StoreSizer
	}
	m.mu.Lock()
	stores := make([]watched, 0, len(m.stores))
	for name, s := range m.stores {
		stores = append(stores, watched{name, s})
	}
	m.mu.Unlock()
	sort.Slice(stores, func(i, j int) bool { return stores[i].name < stores[j].name })
	for _, w := range stores {
		ch <- prometheus.MustNewConstMetric(m.storeBytes, prometheus.GaugeValue, float64(w.s.StoreBytes()), w.name)
	}
}

func (m *Metrics) collectReasons(ch chan<- prometheus.Metric, d *prometheus.Desc, s []slot, zero []bool) {
	for r := range s {
		if n := s[r].n.Load(); n > 0 || zero[r] {
			m.counter(ch, d, n, m.reasonNames[r])
		}
	}
}

func (m *Metrics) counter(ch chan<- prometheus.Metric, d *prometheus.Desc, n uint64, labels ...string) {
	ch <- prometheus.MustNewConstMetricWithCreatedTimestamp(d, prometheus.CounterValue, float64(n), m.created, labels...)
}

var (
	_ core.Observer        = (*Metrics)(nil)
	_ prometheus.Collector = (*Metrics)(nil)
	_ StoreSizer           = (*core.Cache)(nil)
)
