package core

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/fiber-caches/cache/internal/core/entry"
)

// Coalescing across the instances that share a storage (the fleet).
//
// flights coalesce identical misses within a process. With a backend that
// can take a lease (a leaser: Redis), the leader of a process's flight
// also takes part in a lease kept in the storage, one per entry key
// material, so that the instances sharing the storage run the handler
// once between them:
//
//   - A miss whose lookup found nothing usable takes the lease (set if
//     free: one round trip after the lookup's) before running the
//     handler. Its value is a random token; it lives leaseLife, and the
//     holder renews it every third of that while its handler runs, so a
//     long handler keeps it and a dead instance lets it lapse.
//   - The holder's store releases it in the same atomic step (the put
//     script), leaving a note of the entry stored (its generation and
//     Stored) for leaseLife. Every other end (not storable, an error, a
//     panic) releases it too; a response that cannot be stored leaves a
//     not-storable marker for notStorableFor (hit-for-miss).
//   - An instance that finds the lease held (a fleet follower) polls it,
//     a few milliseconds apart, growing to about 50 ms. Once it can take
//     it (released, or lapsed), it looks the request up again, and serves
//     what it finds after exactly the checks a hit passes (valid, fresh);
//     if nothing is usable it runs the handler, holding the lease. A
//     marker sends it to the handler at once. Past WithCoalesceWait from
//     its arrival it runs the handler without the lease.
//   - A lease that the first take finds holding the note of an entry
//     stored under the generation its lookup read, other than the entry
//     it found, means that entry was stored between the lookup and the
//     take: the request looks again before running the handler, so that a
//     store racing a lookup does not cost a second run (a background
//     refresh does nothing then: another instance just refreshed).
//
// None of this decides what is served: a follower serves only what a
// lookup made after the lease was released finds valid, so an
// invalidation acknowledged while it waited (or before) makes it wait for,
// or run, a handler run that started after it. Its process's followers
// get what it ends with; the flight stops taking followers before that
// lookup (see flights), as a leader's flight does before its store.
//
// Coalescing stays per process on a plain fiber.Storage, which has no
// atomic set-if-absent, and on the in-process store (per process by
// nature).

// lease is the lease of one entry key material, as a request sees it.
type lease struct {
	key   string        // its storage key, named from the material the lookup built
	token string        // this request's value when it holds it; "" otherwise
	life  time.Duration // how long it lives unless renewed
	// noted is the note found when the lease was taken: an entry was
	// stored a moment ago.
	noted note
	// released is set by the store that released the lease (the put
	// script), so that it is not released once more.
	released bool
}

// note is what a store leaves on its lease: which entry it stored.
type note struct {
	ok     bool
	gen    uint64 // the generation it was stored under
	stored int64  // its Stored
}

// of reports whether n tells of an entry stored under gen other than e
// (nil: none), that is stored after the lookup that found e (or nothing)
// read the storage: the note of a store is replaced by the next one's.
func (n note) of(gen uint64, e *entry.Entry) bool {
	return n.ok && n.gen == gen && (e == nil || e.Gen != gen || e.Stored != n.stored)
}

// leaseState is what a take found.
type leaseState uint8

const (
	leaseTaken       leaseState = iota // this request holds the lease now
	leaseHeld                          // another request, on some instance, holds it
	leaseNotStorable                   // the last response was not storable (hit-for-miss)
)

// A leaser is a backend that can coalesce misses across instances. It is
// optional: redisBackend is one, and guarded passes one through. A backend
// that wraps a leaser must implement leaser by forwarding these methods,
// and pass put's context on unchanged (it may carry the lease that the
// put releases: leaseFromContext).
type leaser interface {
	// leaseFor returns the lease of k's entry material as it is now (no
	// storage call). The lease lives life.
	leaseFor(k *keys, life time.Duration) *lease
	// take sets the lease to a fresh token when it is free (absent, or a
	// note of a store), and says what it found; l.noted is the note.
	take(ctx context.Context, l *lease) (leaseState, error)
	// renew extends the lease by its life, if l still holds it.
	renew(ctx context.Context, l *lease) error
	// release frees the lease if l holds it, leaving the note the take
	// found, if any; with notStorable > 0 it leaves the not-storable
	// marker for that long instead.
	release(ctx context.Context, l *lease, notStorable time.Duration) error
}

// leaseKey is the context key under which m.put hands the put the lease
// it releases.
type leaseKey struct{}

// contextWithLease returns ctx carrying l for the put that releases it.
func contextWithLease(ctx context.Context, l *lease) context.Context {
	return context.WithValue(ctx, leaseKey{}, l)
}

// leaseFromContext returns the lease a put releases, or nil.
func leaseFromContext(ctx context.Context) *lease {
	l, _ := ctx.Value(leaseKey{}).(*lease)
	return l
}

// Bounds of the fleet's coalescing.
const (
	// maxLeaseLife bounds a lease's life, hence how long followers wait
	// for an instance that died holding one.
	maxLeaseLife = 3 * time.Second
	// minLeaseLife keeps renewals reasonable with a tiny WithCoalesceWait.
	minLeaseLife = 30 * time.Millisecond
	// The polling of a fleet follower: a first delay, growing by half
	// each time up to the last.
	pollFirst = 4 * time.Millisecond
	pollLast  = 50 * time.Millisecond
)

// leaseLife is the life of a lease for a cache whose requests wait at
// most wait: half of it, within [minLeaseLife, maxLeaseLife], so that a
// lease that lapses leaves followers time to run the handler.
func leaseLife(wait time.Duration) time.Duration {
	return min(max(wait/2, minLeaseLife), maxLeaseLife)
}

// guardedLeaser is a leaser behind the guard: each call bounded by the
// storage timeout, refused while the storage is paused, and a failure
// pauses it (guarded.do). A failure is no lease: the caller runs the
// handler.
type guardedLeaser struct {
	g *guarded
	l leaser
}

func (gl guardedLeaser) leaseFor(k *keys, life time.Duration) *lease { return gl.l.leaseFor(k, life) }

func (gl guardedLeaser) take(ctx context.Context, l *lease) (st leaseState, err error) {
	err = gl.g.do(ctx, "lease_take", func(ctx context.Context) (err error) {
		st, err = gl.l.take(ctx, l)
		return err
	})
	return st, err
}

func (gl guardedLeaser) renew(ctx context.Context, l *lease) error {
	return gl.g.do(ctx, "lease_renew", func(ctx context.Context) error { return gl.l.renew(ctx, l) })
}

func (gl guardedLeaser) release(ctx context.Context, l *lease, notStorable time.Duration) error {
	return gl.g.do(ctx, "lease_release", func(ctx context.Context) error { return gl.l.release(ctx, l, notStorable) })
}

// fleetOutcome is what a process's leader does after its part in the
// fleet's coalescing.
type fleetOutcome uint8

const (
	fleetRun       fleetOutcome = iota // run the handler (holding r.lease if its token is set)
	fleetCollapsed                     // serve the entry found after waiting for another instance's run
	fleetHit                           // serve the entry found: stored just before the lease was taken
	fleetNothing                       // a background refresh that another instance runs: do nothing
	fleetAlone                         // not storable lately: run the handler, and let the flight's followers run theirs
)

// fleet is a process leader's part in the fleet's coalescing (see the top
// of this file). It sets r.lease: taken (its token set) when the request
// is to run the handler holding it, else tokenless, so that the put still
// names it (to leave its note, and clear a marker). With fleetCollapsed
// and fleetHit it returns the entry to serve, found valid and fresh by a
// lookup made after f stopped taking followers. followed is set for a
// request that waited for a leader of its process already.
func (m *Cache) fleet(c Ctx, r *request, f *flight, refresh, followed bool, arrived time.Time) (fleetOutcome, *entry.Entry) {
	l := m.leases.leaseFor(&r.k, leaseLife(m.cfg.coalesceWait))
	r.lease = l
	seen := r.res.entry // what the lookup found, usable or not
	st, err := m.leases.take(context.Background(), l)
	if err != nil {
		return fleetRun, nil // no lease: run the handler, never fail the request
	}
	switch st {
	case leaseTaken:
		if !l.noted.of(r.res.gen, seen) {
			return fleetRun, nil
		}
		// An entry was stored under the generation this request's lookup
		// read, after that lookup.
		if refresh {
			m.giveBack(l) // another instance refreshed it
			return fleetNothing, nil
		}
		m.flights.close(f)
		if e := m.lookAgain(c, r); e != nil {
			m.giveBack(l)
			return fleetHit, e
		}
		return fleetRun, nil
	case leaseNotStorable:
		m.flights.markNotStorable(f, m.now())
		if refresh {
			return fleetNothing, nil
		}
		return fleetAlone, nil
	}
	if refresh {
		return fleetNothing, nil // another instance runs it
	}
	if !followed {
		m.observe(EventCoalesced, ReasonNone) // once per request
	}
	return m.followFleet(c, r, f, arrived)
}

// followFleet waits, as a fleet follower, for the lease held by another
// instance to go (see the top of this file), at most WithCoalesceWait from
// the request's arrival.
func (m *Cache) followFleet(c Ctx, r *request, f *flight, arrived time.Time) (fleetOutcome, *entry.Entry) {
	l := r.lease
	deadline := arrived.Add(m.cfg.coalesceWait)
	delay := pollFirst
	for {
		// Jittered, so that instances polling one lease spread out.
		wait := min(delay/2+rand.N(delay), time.Until(deadline))
		if wait <= 0 {
			return fleetRun, nil // waited long enough: run the handler, without the lease
		}
		time.Sleep(wait)
		delay = min(delay*3/2, pollLast)
		st, err := m.leases.take(context.Background(), l)
		if err != nil {
			return fleetRun, nil
		}
		switch st {
		case leaseHeld:
			continue
		case leaseNotStorable:
			m.flights.markNotStorable(f, m.now())
			return fleetAlone, nil
		}
		// The lease was released (by a store, or by a leader that stored
		// nothing) or lapsed. What is stored now, checked as a hit is, is
		// served; else this request runs the handler, holding the lease.
		// Its flight takes no more followers first: they are handed what
		// this lookup finds, so they must have arrived before it.
		m.flights.close(f)
		if e := m.lookAgain(c, r); e != nil {
			m.giveBack(l)
			return fleetCollapsed, e
		}
		return fleetRun, nil
	}
}

// giveBack releases a lease taken but not needed: an entry was found.
func (m *Cache) giveBack(l *lease) {
	_ = m.leases.release(context.Background(), l, 0)
	l.token = ""
}

// holdLease renews r's lease every third of its life until the returned
// function is called.
func (m *Cache) holdLease(l *lease) (stop func()) {
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(l.life / 3)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				_ = m.leases.renew(context.Background(), l)
			}
		}
	}()
	return func() { close(done) }
}

// endLease ends the holding of l after its handler ran (or panicked):
// renewal stops, and a lease its store did not release is released,
// leaving the not-storable marker when why says the response could not
// be stored.
func (m *Cache) endLease(l *lease, stop func(), why Reason, status int) {
	stop()
	if l.released || l.token == "" {
		return
	}
	mark := time.Duration(0)
	if notStorable(why, status) {
		mark = notStorableFor
	}
	_ = m.leases.release(context.Background(), l, mark)
}
