package cache

import (
	"bytes"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fiber-caches/cache/internal/entry"
	"github.com/valyala/fasthttp"
)

// flights coalesces identical cacheable requests that miss at the same
// time: the first (the leader) runs the handler, the others wait for it
// (at most WithCoalesceWait) and are served what it stored. When the
// leader stores nothing, each follower runs its own handler.
//
// A flight takes followers only until the leader's handler returns: a
// request that arrives later looks in the store itself. So a follower
// always arrived before the leader's store, and the leader hands it the
// entry only if that store found the path's generation and the epoch
// unchanged, that is if no invalidation landed before it; an invalidation
// acknowledged before a follower arrived therefore never lets it be
// served older data.
//
// A request that missed just before a leader stored, and reaches join
// just after that flight ended, would run the handler again; so the
// flights remember, per slot, how many landed, and a new leader whose
// slot saw a landing since its lookup looks in the store once more (as
// groupcache's load does).
type flights struct {
	mu     sync.Mutex
	calls  map[uint64]*flight
	seed   maphash.Seed
	once   sync.Once
	landed [256]atomic.Uint64
}

// flight is one leader's run of the handler.
type flight struct {
	key    []byte
	done   chan struct{}
	closed bool // no more followers (guarded by flights.mu)
	// Set by the leader before done is closed.
	e      *entry.Entry
	names  []string // the request headers e varies on
	values [][]byte // the leader's values of those headers
}

func (fs *flights) init() {
	fs.once.Do(func() {
		fs.seed = maphash.MakeSeed()
		fs.calls = make(map[uint64]*flight)
	})
}

// seen returns the slot of a path (by its hash) and how many flights
// landed in it so far.
func (fs *flights) seen(pathHash uint64) (int, uint64) {
	slot := int(pathHash & 255)
	return slot, fs.landed[slot].Load()
}

// landedSince reports whether a flight landed in slot since seen.
func (fs *flights) landedSince(slot int, seen uint64) bool { return fs.landed[slot].Load() != seen }

// join returns the flight for key and whether the caller leads it. With
// wait, a flight for key whose handler returned but whose store has not
// landed yet is returned as landing instead (and no flight): the caller
// waits for it to land and looks in the store again; it is not handed the
// entry, having arrived after the leader's handler returned.
func (fs *flights) join(key []byte, wait bool) (f *flight, leader bool, landing *flight) {
	fs.init()
	h := maphash.Bytes(fs.seed, key)
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if f, ok := fs.calls[h]; ok {
		same := bytes.Equal(f.key, key)
		switch {
		case same && !f.closed:
			return f, false, nil
		case same && wait:
			return nil, false, f
		case !f.closed:
			// Another key with the same hash: run alone, uncoalesced.
			return &flight{done: make(chan struct{})}, true, nil
		}
	}
	f = &flight{key: bytes.Clone(key), done: make(chan struct{})}
	fs.calls[h] = f
	return f, true, nil
}

// landed waits for f to land, at most d.
func (f *flight) landed(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-f.done:
	case <-t.C:
	}
}

// close takes no more followers for f: its handler returned.
func (fs *flights) close(f *flight) {
	if f.key == nil {
		return
	}
	fs.mu.Lock()
	f.closed = true
	fs.mu.Unlock()
}

// land ends the leader's flight, publishing e (nil: nothing to hand on) to
// the followers, with the leader's values of the headers e varies on
// (ignore: WithCookieIgnore's patterns).
func (fs *flights) land(f *flight, slot int, e *entry.Entry, names []string, h *fasthttp.RequestHeader, raw bool, ignore []string) {
	if e != nil {
		f.e, f.names = e, names
		for _, name := range names {
			f.values = append(f.values, appendVaryValue(nil, h, name, raw, ignore))
		}
	}
	if f.key != nil {
		h := maphash.Bytes(fs.seed, f.key)
		fs.mu.Lock()
		if fs.calls[h] == f {
			delete(fs.calls, h)
		}
		fs.mu.Unlock()
		fs.landed[slot].Add(1)
	}
	close(f.done)
}

// wait waits for the leader, at most d, and returns its entry if it
// answers a request with header h, or nil.
func (f *flight) wait(d time.Duration, h *fasthttp.RequestHeader, head, raw bool, ignore []string) *entry.Entry {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-f.done:
	case <-t.C:
		return nil
	}
	if f.e == nil || (f.e.Head() && !head) {
		return nil
	}
	var buf []byte
	for i, name := range f.names {
		buf = appendVaryValue(buf[:0], h, name, raw, ignore)
		if !bytes.Equal(buf, f.values[i]) {
			return nil
		}
	}
	return f.e
}
