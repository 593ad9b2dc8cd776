package cache

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"
)

// The barrier: when may a live near record answer a request?
//
// A barrier round is one small tracked read of a key nobody writes (a GET
// of a barrier key, which rueidis sends as CLIENT CACHING YES then GET) on
// the connection that carries a slot's tracked reads. Redis queues an
// invalidation push on that connection while the write that causes it
// runs, and answers the round after it; rueidis applies the push (Delete)
// before it hands over the answer. So when a round returns, every
// invalidation of a key tracked on that connection, by a write that Redis
// had run when it ran the round, has killed its record. nearStore.Flight
// sees the round's key on the very connection that sends it, so a round
// knows its connection (its store): a record answers only if its own
// connection carried the round, which rules out records of a connection
// that was replaced (a reconnect, a failover, a moved slot) and whose
// pushes may have been lost.
//
// Strict (the default): a near hit waits for a round sent after the
// request arrived, on each slot its records live in (one on a single node;
// the path's and the namespace's on a Cluster), then checks that its
// records are still alive and belong to the round's connection. An
// invalidation acknowledged before the request arrived ran on Redis before
// the round did: its push was applied before the round returned. Rounds
// are group commits: one round in flight per slot, and the next one takes
// every request that arrives meanwhile, so a round costs two small
// commands however many requests wait for it.
//
// Relaxed (WithNearCacheLag(d)): a heartbeat sends a round every d/4 on
// every slot in use; a record answers at once while the last round that
// returned on its slot went through its connection and was sent less than
// d ago. An invalidation acknowledged at t ran before every round sent
// after t, so it stops being served once such a round has returned, at the
// latest d after t: past that, no round sent after t-d has returned, and
// the near tier answers nothing (it reads Redis) and drops its records,
// until a round returns again.

// barrierSuffix ends every barrier key; no record key ends so.
const barrierSuffix = ":near-barrier"

func isBarrierKey(key string) bool {
	return len(key) >= len(barrierSuffix) && key[len(key)-len(barrierSuffix):] == barrierSuffix
}

// nearRoundTimeout bounds one round; a request waits for it no longer than
// its own storage timeout.
const nearRoundTimeout = time.Second

// errNearInconclusive is a round whose connection is unknown or gone.
var errNearInconclusive = errors.New("fibercache: the near cache's barrier did not go through a live connection")

// barrierGroup sends the rounds of one slot (every key on a single node).
type barrierGroup struct {
	n    *nearBackend
	key  string // its barrier key, in its slot
	slot uint16

	mu   sync.Mutex
	next *nearRound // takes the requests that arrive while a round is in flight
	busy bool       // a round is in flight

	sent   atomic.Uint64               // rounds sent (the last one's seq)
	ok     atomic.Uint64               // seq of the last round that returned through a live connection
	flight atomic.Pointer[nearStore]   // the connection Flight saw the round's key on
	conf   atomic.Pointer[nearConfirm] // relaxed: the last round that returned
	used   atomic.Int64                // relaxed, Cluster: when a request last wanted the slot (mono ns)
	lapsed atomic.Bool                 // relaxed: the records of the slot were dropped for a late round
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
func (g *barrierGroup) join() *nearRound {
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
	if start {
		go g.run(r)
	}
	return r
}

// run sends r, then the rounds that requests joined meanwhile, until none
// is waiting.
func (g *barrierGroup) run(r *nearRound) {
	for r != nil {
		g.send(r)
		close(r.done)
		g.mu.Lock()
		r, g.next = g.next, nil
		if r == nil {
			g.busy = false
		}
		g.mu.Unlock()
	}
}

// send sends one round on g and records how it went.
func (g *barrierGroup) send(r *nearRound) {
	n := g.n
	ctx, cancel := context.WithTimeout(context.Background(), nearRoundTimeout)
	defer cancel()
	r.seq = g.sent.Add(1)
	g.flight.Store(nil)
	r.sent = n.mono()
	err := n.client.DoCache(ctx, n.client.B().Get().Key(g.key).Cache().ToStaticTTL(), time.Minute).Error()
	r.store, r.err = g.settle(r.seq, r.sent, err)
}

// settle records a round's outcome: the connection it went through when it
// returned through a live one.
func (g *barrierGroup) settle(seq uint64, sent int64, err error) (*nearStore, error) {
	if err != nil && !rueidis.IsRedisNil(err) {
		g.n.failed(err)
		return nil, err
	}
	s := g.flight.Load()
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

// kick starts a round on g if none is in flight (strict mode: a round
// that ends what nearMap.drop suppresses).
func (g *barrierGroup) kick() {
	if g.n.lag == 0 {
		g.join()
	}
}

// wait waits for r, at most until ctx ends.
func (r *nearRound) wait(ctx context.Context) error {
	select {
	case <-r.done:
		return r.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// confirmed reports whether, in relaxed mode, r may answer at mono: the
// last round that returned on its slot went through its connection and was
// sent less than the lag ago.
func (g *barrierGroup) confirmed(r *nearRecord, mono int64) bool {
	c := g.conf.Load()
	return c != nil && c.store == r.owner && mono-c.sent < int64(g.n.lag)
}

// heartbeat sends the relaxed mode's rounds, every lag/4, on every slot a
// request wanted lately, in one call, until stop; and drops the records of
// a slot whose last round is older than the lag.
func (n *nearBackend) heartbeat() {
	defer n.wg.Done()
	period := max(n.lag/4, time.Millisecond)
	t := time.NewTicker(period)
	defer t.Stop()
	var groups []*barrierGroup
	for {
		groups = n.activeGroups(groups[:0], int64(4*n.lag))
		if len(groups) > 0 {
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
		}
	}
}

// beat sends one round on each of groups, in one call (one round trip per
// node).
func (n *nearBackend) beat(groups []*barrierGroup) {
	ctx, cancel := context.WithTimeout(context.Background(), min(nearRoundTimeout, n.lag))
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
		_, _ = groups[i].settle(seqs[i], sent, res.Error())
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
	key := n.barrierKey(slot)
	p.CompareAndSwap(nil, &barrierGroup{n: n, key: key, slot: slot})
	return p.Load()
}

// barrierFlight records that the round of key goes through s.
func (n *nearBackend) barrierFlight(key string, s *nearStore) {
	n.group(n.slotOf(key)).flight.Store(s)
}
