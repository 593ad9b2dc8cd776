package core

// An Event is something the cache did with one request, for metrics.
type Event uint8

// The events an Observer is told of.
const (
	EventHit          Event = iota // answered from the store, fresh
	EventStale                     // answered from the store, stale (stale-while-revalidate, stale-if-error)
	EventNotModified               // answered 304 Not Modified from the store
	EventMiss                      // looked up, nothing usable: the handler ran
	EventRevalidated               // a stale entry the handler confirmed with a 304
	EventStored                    // a response was stored
	EventNotStored                 // a response was not stored; the Reason says why
	EventBypass                    // not looked up at all; the Reason says why
	EventInvalidation              // a path, or a whole route, was invalidated
	EventStorageError              // a storage call failed or timed out
	EventCoalesced                 // a request waited for an identical one's handler run
	numEvents
)

var eventNames = [numEvents]string{
	EventHit:          "hit",
	EventStale:        "stale",
	EventNotModified:  "not_modified",
	EventMiss:         "miss",
	EventRevalidated:  "revalidated",
	EventStored:       "stored",
	EventNotStored:    "not_stored",
	EventBypass:       "bypass",
	EventInvalidation: "invalidation",
	EventStorageError: "storage_error",
	EventCoalesced:    "coalesced",
}

// String returns the event's stable name, such as "hit".
func (e Event) String() string {
	if e < numEvents {
		return eventNames[e]
	}
	return "unknown"
}

// Events returns every event, for metrics that want to declare their labels
// up front.
func Events() []Event {
	es := make([]Event, 0, numEvents)
	for e := Event(0); e < numEvents; e++ {
		es = append(es, e)
	}
	return es
}

// An Observer is told of every Event, with the Reason for EventNotStored and
// EventBypass (ReasonNone otherwise). Observe is called on the request's
// goroutine, on the hit path too: it must be fast, must not block, and must
// be safe for concurrent use. The cacheprom package adapts it to
// Prometheus.
type Observer interface {
	Observe(ev Event, r Reason)
}

// observe tells the configured observer, if any. Without WithObserver it
// costs a nil check.
func (m *Cache) observe(ev Event, r Reason) {
	if m.obs != nil {
		m.obs.Observe(ev, r)
	}
}
