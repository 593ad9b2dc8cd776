package cache

import (
	"context"
	"time"
)

// Options for the tests of package cache_test.

// WithClock makes the cache read time from clock (withClock).
func WithClock(clock func() time.Time) Option { return withClock(clock) }

// WithClockSkew sets the margin of a plain storage's tag sequence
// (clockSkew), for tests whose instances share one clock.
func WithClockSkew(d time.Duration) Option {
	return func(c *config) { c.clockSkew = d }
}

// Isolate takes m out of the process's registry of caches, so that an
// invalidation made through another cache of the process reaches m only
// through their shared storage, as between two processes.
func Isolate(m *Cache) { unregister(m) }

// NearHook makes f run before (after=false) and after (after=true) each
// tracked read of m's near tier: before it is sent, and when its reply
// arrives, before the record enters the near tier. nil removes it.
func NearHook(m *Cache, f func(after bool)) {
	if f == nil {
		m.near.testHook.Store(nil)
		return
	}
	m.near.testHook.Store(&f)
}

// NearPushDelay delays every invalidation push m's near tier receives by
// d, widening the window between a write's acknowledgment and its push.
func NearPushDelay(m *Cache, d time.Duration) { m.near.testDelay.Store(int64(d)) }

// NearOn reports whether m has a near tier that is on.
func NearOn(m *Cache) bool { return m.near != nil && !m.near.off.Load() }

// NearClientID returns the Redis client ID of the connection m's near tier
// (on a single node) reads and receives invalidations on.
func NearClientID(m *Cache) (int64, error) {
	c := m.near.client
	return c.Do(context.Background(), c.B().ClientId().Build()).AsInt64()
}
