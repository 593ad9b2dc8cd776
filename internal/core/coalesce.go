package core

import (
	"bytes"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fiber-caches/cache/internal/core/entry"
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
//
// A key whose response could not be stored is remembered for a while
// (notStorableFor, Varnish's hit-for-miss): its requests do not wait for
// one another, each runs the handler at once, since no follower could be
// handed the leader's response. A response that is stored forgets it.
type flights struct {
	mu     sync.Mutex
	calls  map[uint64]*flight
	seed   maphash.Seed
	once   sync.Once
	landed [256]atomic.Uint64
	// nostore maps the hash of a key whose response could not be stored
	// to when that stops mattering (the cache's clock, Unix ns); at most
	// maxNotStorable keys.
	nostore map[uint64]int64
}

// Hit-for-miss.
const (
	// notStorableFor is how long a key whose response could not be stored
	// sends requests straight to the handler, in a process and, through
	// the fleet's lease (lease.go), in every instance.
	notStorableFor = 2 * time.Second
	// maxNotStorable bounds the keys remembered as not storable.
	maxNotStorable = 4096
)

// flight is one leader's run of the handler.
type flight struct {
	key    []byte
	hash   uint64 // of key, with the flights' seed
	done   chan struct{}
	closed bool // no more followers (guarded by flights.mu)
	// Set by the leader before done is closed.
	failed bool // it ended without an entry, nor a response that could not be stored
	e      *entry.Entry
	names  []string // the request headers e varies on
	values [][]byte // the leader's values of those headers
}

func (fs *flights) init() {
	fs.once.Do(func() {
		fs.seed = maphash.MakeSeed()
		fs.calls = make(map[uint64]*flight)
		fs.nostore = make(map[uint64]int64)
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
// entry, having arrived after the leader's handler returned. A key whose
// response could not be stored lately (at now) runs alone: a flight of
// its own that nobody joins (alone reports it).
func (fs *flights) join(key []byte, wait bool, now int64) (f *flight, leader bool, landing *flight) {
	fs.init()
	h := maphash.Bytes(fs.seed, key)
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if until, ok := fs.nostore[h]; ok {
		if now < until {
			return &flight{hash: h, done: make(chan struct{})}, true, nil
		}
		delete(fs.nostore, h)
	}
	if f, ok := fs.calls[h]; ok {
		same := bytes.Equal(f.key, key)
		switch {
		case same && !f.closed:
			return f, false, nil
		case same && wait:
			return nil, false, f
		case !f.closed:
			// Another key with the same hash: run alone, uncoalesced.
			return &flight{hash: h, done: make(chan struct{})}, true, nil
		}
	}
	f = &flight{key: bytes.Clone(key), hash: h, done: make(chan struct{})}
	fs.calls[h] = f
	return f, true, nil
}

// alone reports whether f runs alone, taking no followers.
func (f *flight) alone() bool { return f.key == nil }

// markNotStorable remembers, for notStorableFor from now, that f's key
// had a response that could not be stored: its requests run alone
// meanwhile.
func (fs *flights) markNotStorable(f *flight, now int64) {
	fs.init()
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if _, ok := fs.nostore[f.hash]; !ok && len(fs.nostore) >= maxNotStorable {
		for h, until := range fs.nostore {
			if until <= now {
				delete(fs.nostore, h)
			}
		}
		if len(fs.nostore) >= maxNotStorable {
			clear(fs.nostore) // forgetting costs a wait, never a wrong answer
		}
	}
	fs.nostore[f.hash] = now + int64(notStorableFor)
}

// clearNotStorable forgets that f's key had a response that could not be
// stored: one was stored.
func (fs *flights) clearNotStorable(f *flight) {
	fs.init()
	fs.mu.Lock()
	delete(fs.nostore, f.hash)
	fs.mu.Unlock()
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
// answers a request with header h, or nil; failed reports a leader that
// failed (f.failed).
func (f *flight) wait(d time.Duration, h *fasthttp.RequestHeader, head, raw bool, ignore []string) (e *entry.Entry, failed bool) {
	if d <= 0 {
		return nil, false
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-f.done:
	case <-t.C:
		return nil, false
	}
	if f.e == nil || (f.e.Head() && !head) {
		return nil, f.failed
	}
	var buf []byte
	for i, name := range f.names {
		buf = appendVaryValue(buf[:0], h, name, raw, ignore)
		if !bytes.Equal(buf, f.values[i]) {
			return nil, false
		}
	}
	return f.e, false
}

// notStorable reports whether a response not stored for why (with status)
// makes its key a hit-for-miss for a while: its requests then go straight
// to the handler instead of waiting for another's run, whose response
// they could not be given. Failures (an error, a 5xx) are not: requests
// keep waiting for one run at a time, which spares a failing origin.
func notStorable(why Reason, status int) bool {
	if status >= 500 {
		return false
	}
	switch why {
	case ReasonStatus, ReasonNoRule, ReasonRuleSkip, ReasonStreamedBody, ReasonBodyTooLarge, ReasonVaryStar,
		ReasonTooManyHeaders, ReasonSetCookie, ReasonNoStore, ReasonPrivate, ReasonNoCache, ReasonAuthorization,
		ReasonExpired, ReasonNoFreshness, ReasonMustUnderstand, ReasonInvalidTags:
		return true
	}
	return false
}
