package core

import (
	"math"
	"math/rand/v2"
	"time"

	"github.com/fiber-caches/cache/internal/core/entry"
)

// Early refresh: a hot entry is refreshed before it expires, so that no
// request waits for a handler run at its expiry. It is probabilistic early
// expiration (XFetch: Vattani, Chierichetti and Lowenstein, "Optimal
// Probabilistic Cache Stampede Prevention", VLDB 2015): a fresh hit at now
// starts one background refresh when
//
//	now - delta * beta * ln(rand()) >= FreshUntil
//
// where delta is how long the entry's handler took (entry.Delta) and rand
// is uniform in (0, 1]. The probability grows as expiry nears, and sooner
// for a slow handler: a hot entry is then refreshed about once per
// lifetime, a cold one not at all. With a leaser (Redis) one instance
// refreshes: a background refresh that cannot take the lease does nothing
// (lease.go); per process, one refresh per entry runs at a time
// (refreshes).
//
// TTL jitter (WithTTLJitter) takes a random fraction off each entry's
// lifetime, so that entries stored together do not expire together.

// DefaultEarlyRefresh is the beta of early refresh unless WithEarlyRefresh
// says otherwise.
const DefaultEarlyRefresh = 1.0

// earlyHorizon: past this many times delta*beta before expiry, the
// probability (e^-40) is not worth a random number and a logarithm.
const earlyHorizon = 40

// refreshEarly reports whether a fresh hit on e at now starts a
// background refresh. It allocates nothing.
func (m *Cache) refreshEarly(e *entry.Entry, now int64) bool {
	beta := m.cfg.earlyBeta
	if beta == 0 || e.Delta <= 0 || e.FreshUntil == entry.Forever {
		return false // no finite freshness, or no handler time: never early
	}
	left := float64(e.FreshUntil - now)
	scale := float64(e.Delta) * beta
	if left > earlyHorizon*scale {
		return false
	}
	return -scale*math.Log(1-rand.Float64()) >= left
}

// jitter returns lifetime less a random fraction of it, at most
// WithTTLJitter's.
func (m *Cache) jitter(lifetime time.Duration) time.Duration {
	if m.cfg.ttlJitter == 0 || lifetime <= 0 {
		return lifetime
	}
	return lifetime - time.Duration(float64(lifetime)*m.cfg.ttlJitter*rand.Float64())
}
