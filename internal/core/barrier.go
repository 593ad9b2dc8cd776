package core

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"
)

// The barrier: when may a live near record answer a request?
//
// A barrier round is one small command on the connection that carries a
// slot's tracked reads: a PING on a single node (where one connection
// carries everything), a GET of a key nobody writes, in the slot, on a
// Cluster (its answer then also proves that the node still owns the slot:
// a node that lost it answers MOVED, and rueidis follows that to the new
// owner). Redis queues an invalidation push on a connection while the
// write that causes it runs, and answers a command after it; rueidis
// applies the push (Delete) before it hands over the answer. So when a
// round returns, every invalidation of a key tracked on its connection, by
// a write that Redis had run when it ran the round, has killed its record.
// A round knows its connection (its store): a record answers only if its
// own connection carried the round, which rules out the records of a
// connection that was replaced (a reconnect, a failover, a moved slot) and
// whose pushes may have been lost. A Cluster round's connection is the one
// nearStore.Flight saw its key on (rueidis calls Flight on the connection
// that sends the read, again on the new one after a MOVED); a single
// node's is found the same way (identify) before and after the PING, and a
// round whose two differ (a reconnect in between) vouches for nothing.
//
// Strict (the default): a near hit waits for a round sent after the
// request arrived, on each slot its records live in (one on a single node;
// the path's and the namespace's on a Cluster), then checks that its
// records are still alive and belong to the round's connection. An
// invalidation acknowledged before the request arrived ran on Redis before
// the round did: its push was applied before the round returned. Rounds
// are group commits: one round in flight per slot, and the next one takes
// every request that arrives meanwhile, so a round costs one small command
// (two on a Cluster) however many requests wait for it.
//
// Relaxed (WithNearCacheLag(d)): a heartbeat sends a round every d/4 (on a
// Cluster, on every slot a request wanted lately, in one call); a record
// answers at once while the last round that returned on its slot went
// through its connection and was sent less than d ago. An invalidation
// acknowledged at t ran before every round sent after t, so it stops being
// served once such a round has returned; a hit at t+d needs a round sent
// after t that has returned. Past d without one, the near tier answers
// nothing (requests read Redis) and its records of the slot are dropped,
// until a round returns again.

// barrierSuffix ends every barrier key, identifySuffix the key identify
// reads; no record key ends so.
const (
	barrierSuffix  = ":near-barrier"
	identifySuffix = ":near-identify"
)

func isBarrierKey(key string) bool  { return strings.HasSuffix(key, barrierSuffix) }
func isIdentifyKey(key string) bool { return strings.HasSuffix(key, identifySuffix) }

// errNearInconclusive is a round whose connection is unknown or gone.
var errNearInconclusive = errors.New("fibercache: the near cache's barrier did not go through a live connection")

// barrierGroup sends the rounds of one slot (every key on a single node).
type barrierGroup struct {
	n    *nearBackend
	key  string // its barrier key, in its slot (Cluster)
	slot uint16

	mu   sync.Mutex
	next *nearRound // takes the requests that arrive while a round is in flight
	busy bool       // a round is in flight

	sent     atomic.Uint64             // rounds sent (the last one's seq)
	ok       atomic.Uint64             // seq of the last round that returned through a live connection
	flight   atomic.Pointer[nearStore] // the connection Flight saw the round's key on
	ident    atomic.Pointer[nearStore]
	identKey string
	conf     atomic.Pointer[nearConfirm] // relaxed: the last round that returned
	used     atomic.Int64                // relaxed, Cluster: when a request last wanted the slot (mono ns)
	lapsed   atomic.Bool                 // relaxed: the records of the slot were dropped for a late round
}

// nearRound is one barrier round.
type nearRound struct {
	seq   uint64
	sent  int64      // mono ns
	store *nearStore // the connection it went through, when it succeeded
	err   error
	done  chan struct{}
}

// nearConfirm is the last round that returned on a slot (relaxed mode).
type nearConfirm struct {
	store *nearStore
	sent  int64 // mono ns
}

// join returns the round that will be sent next on g, starting it if
// none is in flight. Every round a request joins is sent after it joined.
// A round that starts a chain goes out on the goroutine of the request
// that joins it when inline is set (nobody else waits for it yet): no
// goroutine, no hand-off; the rounds joined meanwhile go on in one of
// their own.
func (g *barrierGroup) join(inline bool) *nearRound {
	g.mu.Lock()
	r := g.next
	if r == nil {
		r = &nearRound{done: make(chan struct{})}
		g.next = r
	}
	start := !g.busy
	if start {
		g.busy, g.next = true, nil
	}
	g.mu.Unlock()
	switch {
	case start && inline:
		if next, stalled := g.step(r, nil); next != nil {
			go g.run(next, stalled)
		}
	case start:
		go g.run(r, nil)
	}
	return r
}

// run sends r, then the rounds that requests joined meanwhile, until none
// is waiting.
func (g *barrierGroup) run(r *nearRound, stalled error) {
	for r != nil {
		r, stalled = g.step(r, stalled)
	}
}

// step sends r, and returns the round requests joined meanwhile (nil: none,
// and g is idle). A round that timed out fails the next one too, unsent
// (stalled): its requests waited for a stalled Redis already, and a
// request waits for at most one storage timeout.
func (g *barrierGroup) step(r *nearRound, stalled error) (*nearRound, error) {
	if stalled == nil {
		g.send(r)
	} else {
		r.err, stalled = stalled, nil
	}
	if errors.Is(r.err, context.DeadlineExceeded) {
		stalled = r.err
	}
	close(r.done)
	g.mu.Lock()
	next := g.next
	g.next = nil
	if next == nil {
		g.busy = false
	}
	g.mu.Unlock()
	return next, stalled
}

// send sends one round on g and records how it went.
func (g *barrierGroup) send(r *nearRound) {
	n := g.n
	ctx, cancel := context.WithTimeout(context.Background(), n.timeout)
	defer cancel()
	r.seq = g.sent.Add(1)
	r.sent = n.mono()
	var (
		s   *nearStore
		err error
	)
	if n.cluster {
		g.flight.Store(nil)
		err = n.client.DoCache(ctx, n.client.B().Get().Key(g.key).Cache().ToStaticTTL(), time.Minute).Error()
		s = g.flight.Load()
	} else {
		s = g.identify(ctx)
		err = n.client.Do(ctx, n.client.B().Ping().Build()).Error()
		if g.identify(ctx) != s {
			s = nil // another connection now: which one answered is unknown
		}
	}
	r.store, r.err = g.settle(r.seq, r.sent, s, err)
}

// identify returns the store of the connection a command sent now on a
// single node goes through, sending nothing: rueidis calls Flight on that
// connection's store, which answers at once (identified).
func (g *barrierGroup) identify(ctx context.Context) *nearStore {
	g.flight.Store(nil)
	_ = g.n.client.DoCache(ctx, g.n.client.B().Get().Key(g.n.identifyKey).Cache(), time.Minute)
	return g.flight.Load()
}

// identified is what Flight answers for identify's key: a read that ends
// at once, unsent, with an error rueidis neither retries nor counts as the
// connection's.
type identified struct{}

func (identified) Wait(context.Context) (rueidis.RedisMessage, error) {
	return rueidis.RedisMessage{}, rueidis.ErrDoCacheAborted
}

// settle records the outcome of the round seq, sent at sent: the store of
// the connection it went through, s, when it returned through a live one.
func (g *barrierGroup) settle(seq uint64, sent int64, s *nearStore, err error) (*nearStore, error) {
	if err != nil && !rueidis.IsRedisNil(err) {
		g.n.failed(err)
		return nil, err
	}
	if s == nil || s.closed.Load() {
		return nil, errNearInconclusive
	}
	g.ok.Store(seq)
	if g.n.lag > 0 {
		g.conf.Store(&nearConfirm{store: s, sent: sent})
		g.lapsed.Store(false)
	}
	return s, nil
}

// confirmed reports whether, in relaxed mode, r may answer at mono: the
// last round that returned on its slot went through its connection and was
// sent less than the lag ago.
func (g *barrierGroup) confirmed(r *nearRecord, mono int64) bool {
	c := g.conf.Load()
	return c != nil && c.store == r.owner && mono-c.sent < int64(g.n.lag)
}

// heartbeat sends the relaxed mode's rounds, every lag/4 and when asked
// (beatNow: a write of this instance's waits for one), on a Cluster on
// every slot a request wanted lately, in one call, until stop; and drops
// the records of a slot whose last round is older than the lag.
func (n *nearBackend) heartbeat() {
	defer n.wg.Done()
	period := max(n.lag/4, time.Millisecond)
	t := time.NewTicker(period)
	defer t.Stop()
	var groups []*barrierGroup
	for {
		groups = n.activeGroups(groups[:0], int64(4*n.lag))
		switch {
		case !n.cluster:
			groups[0].send(&nearRound{})
		case len(groups) > 0:
			n.beat(groups)
		}
		mono := n.mono()
		for _, g := range groups {
			if c := g.conf.Load(); (c == nil || mono-c.sent >= int64(n.lag)) && !g.lapsed.Swap(true) {
				n.lapse(g)
			}
		}
		select {
		case <-n.stop:
			return
		case <-t.C:
		case <-n.beatNow:
		}
	}
}

// beat sends one round on each of groups of a Cluster, in one call (one
// round trip per node).
func (n *nearBackend) beat(groups []*barrierGroup) {
	ctx, cancel := context.WithTimeout(context.Background(), min(n.timeout, n.lag))
	defer cancel()
	cmds := make([]rueidis.CacheableTTL, len(groups))
	seqs := make([]uint64, len(groups))
	for i, g := range groups {
		seqs[i] = g.sent.Add(1)
		g.flight.Store(nil)
		cmds[i] = rueidis.CT(n.client.B().Get().Key(g.key).Cache().ToStaticTTL(), time.Minute)
	}
	sent := n.mono()
	for i, res := range n.client.DoMultiCache(ctx, cmds...) {
		_, _ = groups[i].settle(seqs[i], sent, groups[i].flight.Load(), res.Error())
	}
}

// lapse drops the records of g's slot: no round has vouched for them
// within the lag.
func (n *nearBackend) lapse(g *barrierGroup) {
	if !n.cluster {
		n.m.clear(nil)
		return
	}
	slot := g.slot
	n.m.clear(func(r *nearRecord) bool { return r.slot == slot })
}

// activeGroups appends the groups the heartbeat keeps confirmed: the one
// group of a single node; on a Cluster, those a request wanted within
// window (mono ns).
func (n *nearBackend) activeGroups(dst []*barrierGroup, window int64) []*barrierGroup {
	if !n.cluster {
		return append(dst, n.group(0))
	}
	mono := n.mono()
	for i := range n.groups {
		if g := n.groups[i].Load(); g != nil && mono-g.used.Load() < window {
			dst = append(dst, g)
		}
	}
	return dst
}

// group returns the barrier group of slot, making it on first use.
func (n *nearBackend) group(slot uint16) *barrierGroup {
	p := &n.groups[slot]
	if g := p.Load(); g != nil {
		return g
	}
	p.CompareAndSwap(nil, &barrierGroup{n: n, key: n.barrierKey(slot), slot: slot})
	return p.Load()
}

// barrierFlight records that the round of key (or identify, on a single
// node) goes through s.
func (n *nearBackend) barrierFlight(key string, s *nearStore) {
	n.group(n.slotOf(key)).flight.Store(s)
}
