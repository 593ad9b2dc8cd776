package cache

import (
	"time"

	"github.com/fiber-caches/cache/internal/core"
)

// Hooks of the engine's (core/testing.go) for the tests of package cache
// and cache_test.

// WithClock makes the cache read time from clock.
func WithClock(clock func() time.Time) Option { return core.WithClock(clock) }

// withClock is WithClock, as the tests of package cache spell it.
func withClock(clock func() time.Time) Option { return core.WithClock(clock) }

// WithClockSkew sets the margin of a plain storage's tag sequence, for
// tests whose instances share one clock.
func WithClockSkew(d time.Duration) Option { return core.WithClockSkew(d) }

// Isolate makes m a process of its own: invalidations reach it, and go
// from it, only through its storage (core.Isolate).
func Isolate(m *Cache) { core.Isolate(m.c) }

// NearHook makes f run before (after=false) and after (after=true) each
// tracked read of m's near tier. nil removes it.
func NearHook(m *Cache, f func(after bool)) { core.NearHook(m.c, f) }

// NearPushDelay delays every invalidation push m's near tier receives by d.
func NearPushDelay(m *Cache, d time.Duration) { core.NearPushDelay(m.c, d) }

// NearOn reports whether m has a near tier that is on.
func NearOn(m *Cache) bool { return core.NearOn(m.c) }

// NearClientID returns the Redis client ID of m's near tier's connection.
func NearClientID(m *Cache) (int64, error) { return core.NearClientID(m.c) }
