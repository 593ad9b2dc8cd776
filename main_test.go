package cache

import (
	"os"
	"testing"

	"github.com/fiber-caches/cache/internal/core/redistest"
)

// Tests run one at a time, but for a few long ones that call t.Parallel
// (interleavings, 10,000 entries): they run after every other test of the
// package, two at a time (-parallel is GOMAXPROCS), overlapping their waits
// on Redis and on goroutines. The stress test, which needs the CPU to
// itself to make its count of requests in time, is not one of them. Each makes every cache it builds
// a process of its own (Isolate): an invalidation through any cache of a
// process reaches every other one (core's registry.go), which would reach
// the caches of another test running meanwhile. None flushes Redis, kills
// clients or changes what is process-wide (the environment, the default
// logger, Redis's scripts); a test that does must not call t.Parallel.
func TestMain(m *testing.M) {
	code := m.Run()
	redistest.Stop()
	os.Exit(code)
}
