package cache

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of the storage guard.
const (
	// DefaultStorageTimeout bounds each storage call of a request.
	DefaultStorageTimeout = 50 * time.Millisecond
	// DefaultStoragePause is how long a failed storage is left alone.
	DefaultStoragePause = time.Second
)

// guard stands between requests and a shared storage: it bounds every call
// with a deadline, leaves a failed storage alone for a pause (requests are
// served by the handler as if there were no cache, instead of each waiting
// for the storage's timeouts), and keeps every invalidation that did not
// land, retrying it until it does while the cache serves none of that
// path's stored responses on this instance.
type guard struct {
	timeout     time.Duration
	pause       time.Duration
	pausedUntil atomic.Int64 // Unix ns
	log         logger
	obs         func(Event, Reason)
	now         func() int64 // the cache's clock

	mu      sync.Mutex
	pending map[string]bool // path material → true; "" stands for the epoch
	npend   atomic.Int64
	running bool // a retrier goroutine runs
	stop    chan struct{}
	wg      sync.WaitGroup
	land    func(ctx context.Context, pathMaterial string) error
}

func (g *guard) init(land func(ctx context.Context, pathMaterial string) error) {
	g.pending = map[string]bool{}
	g.stop = make(chan struct{})
	g.land = land
}

// ctx returns the context of one storage call.
func (g *guard) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), g.timeout)
}

// paused reports whether the storage is being left alone.
func (g *guard) paused(now int64) bool {
	t := g.pausedUntil.Load()
	return t != 0 && now < t
}

// failed records a failed call: logged at Warn, counted, and the storage
// left alone for the pause.
func (g *guard) failed(op string, err error) {
	g.pausedUntil.Store(g.now() + int64(g.pause))
	g.obs(EventStorageError, ReasonNone)
	g.log.log(slog.LevelWarn, "storage_error", slog.String("op", op), slog.String("error", err.Error()), slog.Duration("pause", g.pause))
}

// isPending reports whether the path (or, for "", the whole namespace) has
// an invalidation that has not landed.
func (g *guard) isPending(pathMaterial []byte) bool {
	if g.npend.Load() == 0 {
		return false
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.pending[""] || g.pending[string(pathMaterial)]
}

// keep remembers an invalidation that did not land, and has it retried.
func (g *guard) keep(pathMaterial string, err error) {
	g.mu.Lock()
	if !g.pending[pathMaterial] {
		g.pending[pathMaterial] = true
		g.npend.Add(1)
	}
	start := !g.running
	g.running = true
	g.mu.Unlock()
	g.log.log(slog.LevelWarn, "invalidation_pending", slog.String("error", err.Error()),
		slog.String("detail", "the path is served without the cache here until the invalidation reaches the storage"))
	if start {
		g.wg.Add(1)
		go g.retrier()
	}
}

// retrier lands pending invalidations, one pause apart, until none is
// left or the cache is closed.
func (g *guard) retrier() {
	defer g.wg.Done()
	t := time.NewTimer(g.pause)
	defer t.Stop()
	for {
		select {
		case <-g.stop:
			return
		case <-t.C:
		}
		g.mu.Lock()
		todo := make([]string, 0, len(g.pending))
		for p := range g.pending {
			todo = append(todo, p)
		}
		g.mu.Unlock()
		for _, p := range todo {
			ctx, cancel := g.ctx()
			err := g.land(ctx, p)
			cancel()
			if err != nil {
				g.log.log(slog.LevelWarn, "invalidation_retry_failed", slog.String("error", err.Error()))
				break
			}
			g.mu.Lock()
			delete(g.pending, p)
			g.npend.Add(-1)
			g.mu.Unlock()
			g.log.log(slog.LevelInfo, "invalidation_landed")
		}
		g.mu.Lock()
		if len(g.pending) == 0 {
			g.running = false
			g.mu.Unlock()
			return
		}
		g.mu.Unlock()
		t.Reset(g.pause)
	}
}

// close stops the retrier; what is still pending is logged.
func (g *guard) close() {
	select {
	case <-g.stop:
	default:
		close(g.stop)
	}
	g.wg.Wait()
	// One last try for each, then what cannot land is logged.
	g.mu.Lock()
	defer g.mu.Unlock()
	for p := range g.pending {
		ctx, cancel := g.ctx()
		err := g.land(ctx, p)
		cancel()
		if err == nil {
			delete(g.pending, p)
			g.npend.Add(-1)
		}
	}
	if n := len(g.pending); n > 0 {
		g.log.log(slog.LevelError, "invalidation_lost_at_close", slog.Int("pending", n),
			slog.String("detail", "the storage could not be reached; these paths may be served stale by other instances until their entries expire"))
	}
}
