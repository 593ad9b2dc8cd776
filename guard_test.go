package cache

// Tests of the storage guard during outages (issue 16, item 4): Close is
// bounded whatever is pending and never blocks a request, the pending
// invalidations are bounded, an outage logs one warning, and nothing
// reaches a paused storage.

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fiber-caches/cache/internal/core"
	"github.com/fiber-caches/cache/internal/core/redistest"
	"github.com/fiber-caches/cache/internal/testkit"
	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/storage/redis/v3"
	goredis "github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// gdCloseBound is what the tests allow Close, with no background refresh
// running: the documented second for the last try (closeBudget), and as
// much again for a loaded machine. The code before the fix took hours.
const gdCloseBound = 2 * time.Second

// gdOutage is a shared storage a test can make unreachable: its calls
// then hang (until the outage ends, or the test does) rather than fail.
type gdOutage struct {
	// opts make a cache on the storage, as seen through the fault.
	opts []Option
	// direct make a cache on the same storage and key prefix, reached
	// without the fault: another instance.
	direct []Option
	// on and off start and end the outage.
	on, off func()
	// calls gets a value (never blocking) for each call that reaches the
	// storage through the fault while it is on.
	calls chan struct{}
}

// gdOutages are the shared backends the outage tests run on: a plain
// fiber.Storage whose calls hang, and Redis behind a proxy that turns into
// a black hole.
func gdOutages() map[string]func(t *testing.T) *gdOutage {
	return map[string]func(t *testing.T) *gdOutage{
		"storage": func(t *testing.T) *gdOutage {
			o := &gdOutage{calls: make(chan struct{}, 1)}
			base := testkit.NewStorage()
			faulty := testkit.Wrap(base)
			var mu sync.Mutex
			var hang chan struct{} // nil: no outage
			faulty.SetHooks(func(testkit.Op) {
				mu.Lock()
				h := hang
				mu.Unlock()
				if h == nil {
					return
				}
				o.signal()
				select {
				case <-h:
				case <-time.After(time.Minute): // the test is long over
				}
			}, nil)
			o.on = func() {
				mu.Lock()
				defer mu.Unlock()
				if hang == nil {
					hang = make(chan struct{})
				}
			}
			o.off = func() {
				mu.Lock()
				defer mu.Unlock()
				if hang != nil {
					close(hang)
					hang = nil
				}
			}
			t.Cleanup(o.off)
			o.opts = []Option{WithStorage(faulty)}
			o.direct = []Option{WithStorage(base)}
			return o
		},
		"redis": func(t *testing.T) *gdOutage {
			o := &gdOutage{calls: make(chan struct{}, 1)}
			p, err := redistest.StartProxy(redistest.Addr(t))
			require.NoError(t, err)
			t.Cleanup(p.Close)
			s := redis.New(redis.Config{Addrs: []string{p.Addr()}})
			t.Cleanup(func() { _ = s.Close() })
			var on atomic.Bool
			s.Conn().AddHook(gdSignal{o: o, on: &on})
			direct := redis.New(redis.Config{Addrs: []string{redistest.Addr(t)}})
			t.Cleanup(func() { _ = direct.Close() })
			prefix := redistest.Prefix(t)
			o.on = func() { on.Store(true); p.Blackhole(true) }
			o.off = func() { on.Store(false); p.Blackhole(false); p.Drop() }
			o.opts = []Option{WithStorage(s), WithKeyPrefix(prefix), WithTTL(time.Minute)}
			o.direct = []Option{WithStorage(direct), WithKeyPrefix(prefix), WithTTL(time.Minute)}
			return o
		},
	}
}

func (o *gdOutage) signal() {
	select {
	case o.calls <- struct{}{}:
	default:
	}
}

// drain forgets the calls signalled so far.
func (o *gdOutage) drain() {
	select {
	case <-o.calls:
	default:
	}
}

// gdSignal is a go-redis hook that signals each command or pipeline sent
// while on is set.
type gdSignal struct {
	o  *gdOutage
	on *atomic.Bool
}

func (h gdSignal) DialHook(next goredis.DialHook) goredis.DialHook { return next }

func (h gdSignal) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		if h.on.Load() {
			h.o.signal()
		}
		return next(ctx, cmd)
	}
}

func (h gdSignal) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		if h.on.Load() {
			h.o.signal()
		}
		return next(ctx, cmds)
	}
}

// gdEventually waits, at most 5 s (a storage coming back reconnects), for
// cond.
func gdEventually(t *testing.T, cond func() bool, msg string) {
	t.Helper()
	require.Eventually(t, cond, 5*time.Second, 2*time.Millisecond, msg)
}

// gdCache is a cache closed when the test ends (waiting gdCloseBound at
// most: a test that found Close unbounded has failed already).
func gdCache(t *testing.T, opts ...Option) *Cache {
	t.Helper()
	m := NewCache(opts...)
	t.Cleanup(func() {
		done := make(chan struct{})
		go func() { _ = m.Close(); close(done) }()
		select {
		case <-done:
		case <-time.After(gdCloseBound):
		}
	})
	return m
}

// gdClose closes m in the background and reports how long it took, or
// fails the test when it takes longer than gdCloseBound.
func gdClose(t *testing.T, m *Cache) time.Duration {
	t.Helper()
	start := time.Now()
	done := make(chan struct{})
	go func() { _ = m.Close(); close(done) }()
	select {
	case <-done:
		return time.Since(start)
	case <-time.After(gdCloseBound):
		t.Fatalf("Close has not returned after %v", gdCloseBound)
		return 0
	}
}

// TestGuard_CloseBoundedWhateverIsPending: 100,000 writes to distinct
// paths during an outage are acknowledged at once, the invalidations kept
// stay bounded, and Close returns within its bound, logging what it could
// not land.
func TestGuard_CloseBoundedWhateverIsPending(t *testing.T) {
	for name, outage := range gdOutages() {
		t.Run(name, func(t *testing.T) {
			o := outage(t)
			logs := testkit.NewLogs(slog.LevelInfo)
			m := gdCache(t, append(o.opts, WithLogger(logs.Logger()), WithStorageTimeout(50*time.Millisecond))...)
			app := fiber.New()
			app.Use(m.Handler())
			app.Get("/*", func(c *fiber.Ctx) error { return c.SendString("page") })
			testkit.Do(t, app, fiber.MethodGet, "/warm")
			require.Equal(t, "hit", testkit.Do(t, app, fiber.MethodGet, "/warm").Header.Get("X-Cache"))

			o.on()
			const writes = 100_000
			for i := range writes {
				require.NoError(t, m.InvalidateURL(fmt.Sprintf("http://example.com/p/%d", i)))
			}
			assert.LessOrEqual(t, gdPending(m), core.MaxPending, "the invalidations kept are bounded")

			took := gdClose(t, m)
			t.Logf("Close took %v with %d writes pending", took.Round(time.Millisecond), writes)
			lost := logs.Find("invalidation_lost_at_close")
			require.Len(t, lost, 1, "Close logs what it could not land, once")
			assert.Equal(t, slog.LevelError, lost[0].Level)
			assert.Equal(t, true, lost[0].Attrs["everything"].Any(), "past the bound, one invalidation of everything stands for them")
		})
	}
}

// TestGuard_WriteDuringCloseIsAnswered: a POST sent while Close tries the
// pending invalidations one last time, against a storage that hangs, is
// answered at once (its invalidation is kept, as during any outage).
func TestGuard_WriteDuringCloseIsAnswered(t *testing.T) {
	for name, outage := range gdOutages() {
		t.Run(name, func(t *testing.T) {
			o := outage(t)
			// A long deadline, so that Close is surely still trying when the
			// POST comes; a long pause, so that the POST's invalidation is
			// kept without a call.
			m := gdCache(t, append(o.opts, WithStorageTimeout(500*time.Millisecond), WithStoragePause(time.Minute))...)
			app := fiber.New()
			app.Use(m.Handler())
			app.Post("/*", func(c *fiber.Ctx) error { return c.SendString("written") })

			o.on()
			for i := range 200 {
				require.NoError(t, m.InvalidateURL(fmt.Sprintf("http://example.com/p/%d", i)))
			}
			o.drain()
			closed := make(chan struct{})
			go func() { _ = m.Close(); close(closed) }()
			select {
			case <-o.calls: // Close is waiting for the storage
			case <-closed:
				t.Fatal("Close made no storage call: nothing tests that it blocks no request")
			case <-time.After(gdCloseBound):
				t.Fatal("Close made no storage call")
			}

			start := time.Now()
			posted := make(chan testkit.Result, 1)
			go func() { posted <- testkit.Do(t, app, fiber.MethodPost, "/p/7") }()
			select {
			case r := <-posted:
				assert.Equal(t, "written", r.Body)
				assert.Less(t, time.Since(start), 400*time.Millisecond, "the POST waited for Close")
			case <-time.After(2 * time.Second):
				t.Fatal("a POST sent during Close got no answer within 2 s")
			}
			select {
			case <-closed:
			case <-time.After(gdCloseBound):
				t.Fatal("Close did not return")
			}
		})
	}
}

// TestGuard_PendingBounded: past core.MaxPending paths, one invalidation of
// everything replaces the paths kept: memory stays bounded, every path is
// bypassed here meanwhile, and once it lands nothing stored before is
// served by another instance.
func TestGuard_PendingBounded(t *testing.T) {
	for name, outage := range gdOutages() {
		t.Run(name, func(t *testing.T) {
			o := outage(t)
			opts := []Option{WithStorageTimeout(50 * time.Millisecond), WithStoragePause(50 * time.Millisecond)}
			a := gdCache(t, append(append(o.opts, WithTTL(time.Minute)), opts...)...)
			b := gdCache(t, append(append(o.direct, WithTTL(time.Minute)), opts...)...)
			var k testkit.Counter
			site := func(m *Cache) *fiber.App {
				app := fiber.New()
				app.Use(m.Handler())
				app.Get("/*", k.Handler("page"))
				return app
			}
			appA, appB := site(a), site(b)
			for _, p := range []string{"/p/0", "/other"} {
				testkit.Do(t, appB, fiber.MethodGet, p)
				require.Equal(t, "hit", testkit.Do(t, appB, fiber.MethodGet, p).Header.Get("X-Cache"), p)
			}

			o.on()
			for i := range 3 * core.MaxPending {
				require.NoError(t, a.InvalidateURL(fmt.Sprintf("http://example.com/p/%d", i)))
			}
			assert.LessOrEqual(t, gdPending(a), core.MaxPending, "the invalidations kept are bounded")
			// Once the pause is over, a path never written to is bypassed
			// too: an invalidation of everything is pending.
			gdEventually(t, func() bool {
				return testkit.Do(t, appA, fiber.MethodGet, "/other").Header.Get("Cache-Status") ==
					"fibercache; fwd=bypass; detail=pending_invalidation"
			}, "an unwritten path bypassed as pending once the pause is over")

			o.off()
			gdEventually(t, func() bool { return gdPending(a) == 0 }, "the invalidation lands once the storage is back")
			for _, p := range []string{"/p/0", "/other"} {
				r := testkit.Do(t, appB, fiber.MethodGet, p)
				assert.NotEqual(t, "hit", r.Header.Get("X-Cache"), "%s: stored before the writes, still served by another instance", p)
			}
		})
	}
}

// TestGuard_OneWarningPerOutage: an outage logs one warning, however many
// writes and failed calls it sees, and one info line when it is over, with
// the number of invalidations that landed.
func TestGuard_OneWarningPerOutage(t *testing.T) {
	s := testkit.NewStorage()
	logs := testkit.NewLogs(LevelTrace)
	m := gdCache(t, WithStorage(s), WithLogger(logs.Logger()), WithTTL(time.Minute),
		WithStorageTimeout(testkit.StorageTimeout), WithStoragePause(10*time.Millisecond))
	app := fiber.New()
	app.Use(m.Handler())
	app.Get("/*", func(c *fiber.Ctx) error { return c.SendString("page") })
	app.Post("/*", func(c *fiber.Ctx) error { return c.SendString("written") })

	for outage := 1; outage <= 2; outage++ {
		s.Fail(errStorageDown)
		writes := 0
		for end := time.Now().Add(100 * time.Millisecond); time.Now().Before(end); time.Sleep(2 * time.Millisecond) {
			testkit.Do(t, app, fiber.MethodGet, "/x")
			testkit.Do(t, app, fiber.MethodPost, fmt.Sprintf("/w/%d", writes))
			writes++
		}
		assert.Greater(t, logs.Count(LevelTrace, "storage_error"), outage, "several calls failed")
		require.Equal(t, outage, logs.Count(slog.LevelWarn, ""), "warnings after %d outages", outage)
		assert.Equal(t, outage, logs.Count(slog.LevelWarn, "storage_error"))
		assert.Equal(t, outage, len(logs.Find("invalidation_pending")), "one invalidation_pending per outage")

		s.Fail(nil)
		gdEventually(t, func() bool { return len(logs.Find("storage_recovered")) == outage }, "the outage's end logged")
		require.Equal(t, outage, logs.Count(slog.LevelWarn, ""), "warnings after %d outages", outage)
		rec := logs.Find("storage_recovered")[outage-1]
		assert.Equal(t, slog.LevelInfo, rec.Level)
		assert.Equal(t, int64(writes), rec.Attrs["invalidations_landed"].Int64())
	}
}

// TestGuard_NoStorageCallWhilePaused: a request whose call fails does not
// try the storage again while it is paused (the old code stored after a
// failed drop, waiting up to another deadline).
func TestGuard_NoStorageCallWhilePaused(t *testing.T) {
	s := testkit.NewStorage()
	clock := newFakeClock()
	m := gdCache(t, WithStorage(s), WithTTL(time.Minute), withClock(clock.now),
		WithStorageTimeout(50*time.Millisecond), WithStoragePause(time.Minute))
	app := fiber.New()
	app.Use(m.Handler())
	var k testkit.Counter
	app.Get("/x", k.Handler("x"))
	testkit.Do(t, app, fiber.MethodGet, "/x")
	require.Equal(t, "hit", testkit.Do(t, app, fiber.MethodGet, "/x").Header.Get("X-Cache"))

	// The entry is now past the time it may be kept: the lookup finds it,
	// and it is dropped. The drop hangs.
	clock.advance(2 * time.Minute)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	var failed atomic.Bool
	var after atomic.Int64
	s.SetHooks(func(op testkit.Op) {
		if failed.Load() {
			after.Add(1)
		}
		if op.Name == "delete" && failed.CompareAndSwap(false, true) {
			<-release
		}
	}, nil)
	r := testkit.Do(t, app, fiber.MethodGet, "/x")
	require.Equal(t, "x#2", r.Body)
	require.True(t, failed.Load(), "the expired entry was not dropped: the test proved nothing")
	assert.Zero(t, after.Load(), "storage calls made after a failure, while the storage is paused")
}

// gdPending returns the number of invalidations m keeps for later.
func gdPending(m *Cache) int {
	return m.c.PendingInvalidations()
}

// TestGuard_RedisScriptLoadBounded: when Redis has forgotten the scripts
// (a restart, a new node), they are loaded again; a Redis that stalls then
// holds an invalidation no longer than the storage timeout (the old code
// waited for go-redis's own timeouts, or for ever).
func TestGuard_RedisScriptLoadBounded(t *testing.T) {
	s, prefix := redisStorage(t)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	h := &gdNoScript{release: release}
	s.Conn().AddHook(h)
	m := gdCache(t, WithStorage(s), WithKeyPrefix(prefix), WithStorageTimeout(100*time.Millisecond))

	h.noScript.Store(true)
	start := time.Now()
	done := make(chan error, 1)
	go func() { done <- m.InvalidateURL("http://example.com/p") }()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(2 * time.Second):
		t.Fatal("an invalidation waited more than 2 s for a stalled SCRIPT LOAD")
	}
	assert.Less(t, time.Since(start), time.Second)
	require.True(t, h.loading.Load(), "no script was loaded again: the test proved nothing")
}

// gdNoScript is a go-redis hook that, once noScript is set, answers the
// next pipeline NOSCRIPT, as a restarted Redis does, and then stalls the
// SCRIPT LOAD that follows until release is closed, whatever its context.
type gdNoScript struct {
	noScript, loading atomic.Bool
	release           chan struct{}
}

// gdRedisError is an error as Redis returns them.
type gdRedisError string

func (e gdRedisError) Error() string { return string(e) }
func (gdRedisError) RedisError()     {}

func (h *gdNoScript) DialHook(next goredis.DialHook) goredis.DialHook { return next }

func (h *gdNoScript) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		if cmd.Name() == "script" && h.loading.Load() {
			<-h.release
		}
		return next(ctx, cmd)
	}
}

func (h *gdNoScript) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		if h.noScript.CompareAndSwap(true, false) {
			h.loading.Store(true)
			err := gdRedisError("NOSCRIPT No matching script. Please use EVAL.")
			for _, c := range cmds {
				c.SetErr(err)
			}
			return err
		}
		return next(ctx, cmds)
	}
}
