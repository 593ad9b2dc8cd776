package cache

import "time"

// Options for the tests of package cache_test.

// WithClock makes the cache read time from clock (withClock).
func WithClock(clock func() time.Time) Option { return withClock(clock) }

// WithClockSkew sets the margin of a plain storage's tag sequence
// (clockSkew), for tests whose instances share one clock.
func WithClockSkew(d time.Duration) Option {
	return func(c *config) { c.clockSkew = d }
}
