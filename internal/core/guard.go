package core

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fiber-caches/cache/internal/core/entry"
	"github.com/valyala/fasthttp"
)

// Defaults of the storage guard.
const (
	// DefaultStorageTimeout bounds each storage call of a request.
	DefaultStorageTimeout = 50 * time.Millisecond
	// DefaultStoragePause is how long a failed storage is left alone.
	DefaultStoragePause = time.Second
)

// Bounds of the storage guard.
const (
	// maxPending bounds the paths whose invalidation waits for the
	// storage. One more replaces them all with one invalidation of
	// everything (the epoch), which covers them.
	maxPending = 1000
	// closeBudget bounds Close's last try at landing what is pending, all
	// calls together (each is still bounded by the storage timeout).
	closeBudget = time.Second
)

// Why a guarded backend made no call. serve maps them to
// ReasonStoragePaused and ReasonPendingInvalidation.
var (
	errStoragePaused       = errors.New("fibercache: the storage failed recently and is left alone for a moment")
	errPendingInvalidation = errors.New("fibercache: an invalidation of this path has not reached the storage yet")
)

// guarded is the backend NewCache puts in front of every shared one (any
// fiber.Storage, Redis), so that a failing storage never fails a request,
// never holds one longer than a deadline, and never loses an invalidation:
//
//   - Every call is bounded by the storage timeout.
//   - A call that fails (an error or a timeout; a value that does not
//     decode is an answer, not a failure) leaves the storage alone for the
//     pause: calls made meanwhile return errStoragePaused at once.
//   - An invalidation that does not land (it failed, or the storage is
//     paused) is kept and reported done (nil): the protocol never loses
//     one. Until it lands, lookups and stores of its path (of every path,
//     for the epoch) return errPendingInvalidation, so this instance serves
//     none of what it invalidates. A retrier lands what is kept, one pause
//     apart; no storage call is ever made holding the lock that requests
//     take.
//   - At most maxPending paths are kept; past that, one invalidation of
//     everything (the epoch, "" in pending) replaces them.
//   - Close tries once more, within closeBudget, and logs what it could
//     not land.
//   - An outage (from a failure until the storage answers with nothing
//     pending) logs one warning, storage_error, at its start, and one info
//     line, storage_recovered, at its end, with the invalidations that
//     landed.
//
// A method added to backend is wrapped in a few lines: one that reads or
// writes a path's records first asks usable, and every call goes through
// do, which refuses it while the storage is paused.
type guarded struct {
	b       backend
	timeout time.Duration
	pause   time.Duration
	log     logger
	obs     func(Event, Reason)
	now     func() int64 // the cache's clock

	pausedUntil atomic.Int64  // Unix ns
	npend       atomic.Int64  // len(pending), read without the lock
	seq         atomic.Uint64 // counts the invalidations kept
	down        atomic.Bool   // out.down, read without the lock

	stop   context.Context // cancelled by close: stops the retrier and its call
	cancel context.CancelFunc
	wg     sync.WaitGroup // the retrier

	mu sync.Mutex // guards what follows
	// pending maps the path material of each invalidation kept ("" for the
	// epoch) to the seq of its latest keep: a landing removes it only if
	// its call started after that keep.
	pending   map[string]uint64
	out       outage
	running   bool // a retrier runs
	closed    bool // close has begun: no retrier starts
	closeDone bool // close has logged what it could not land
	lost      int  // invalidations that did not land after closeDone
}

// outage is what the guard remembers of the storage's current outage.
type outage struct {
	down       bool
	since      int64 // Unix ns of its first failure
	kept       int   // invalidations kept during it
	keptLogged bool  // invalidation_pending was logged
}

// newGuarded wraps b in the guard that cfg's storage timeout and pause
// configure.
func newGuarded(b backend, cfg *config, log logger, obs func(Event, Reason), now func() int64) *guarded {
	g := &guarded{b: b, timeout: cfg.storageTimeout, pause: cfg.storagePause, log: log, obs: obs, now: now, pending: map[string]uint64{}}
	g.stop, g.cancel = context.WithCancel(context.Background())
	return g
}

func (g *guarded) lookup(ctx context.Context, k *keys, h *fasthttp.RequestHeader, fold, create bool, res *lookupResult) error {
	if err := g.usable(k.path()); err != nil {
		return err
	}
	if l, ok := g.b.(localLooker); ok {
		// The near tier: answered in process, or after a barrier round it
		// bounds by the storage timeout itself.
		hit, err := l.lookupLocal(k, h, fold, res)
		if err != nil {
			g.failed("lookup", err)
			return err
		}
		if hit {
			if res.entry != nil && g.tagPending(res.entry.Tags) {
				res.entry = nil
			}
			return nil
		}
	}
	err := g.do(ctx, "lookup", func(ctx context.Context) error { return g.b.lookup(ctx, k, h, fold, create, res) })
	if err == nil && res.entry != nil && g.tagPending(res.entry.Tags) {
		res.entry = nil // a tag of it waits to be invalidated: looked up as a miss
	}
	return err
}

// localLooker is a backend that can answer some lookups without a storage
// call of the guard's (the near tier): lookupLocal reports whether it did,
// and a failure it bounded by the storage timeout itself.
type localLooker interface {
	lookupLocal(k *keys, h *fasthttp.RequestHeader, fold bool, res *lookupResult) (bool, error)
}

func (g *guarded) put(ctx context.Context, k *keys, e *entry.Entry, names []string) (stored bool, err error) {
	if err := g.usable(k.path()); err != nil {
		return false, err
	}
	if g.tagPending(e.Tags) {
		return false, errPendingInvalidation
	}
	err = g.do(ctx, "put", func(ctx context.Context) (err error) {
		stored, err = g.b.put(ctx, k, e, names)
		return err
	})
	return stored, err
}

func (g *guarded) drop(ctx context.Context, k *keys, e *entry.Entry) error {
	return g.do(ctx, "drop", func(ctx context.Context) error { return g.b.drop(ctx, k, e) })
}

func (g *guarded) invalidate(ctx context.Context, pathMaterial []byte) error {
	return g.invalidation(ctx, "invalidate", string(pathMaterial))
}

func (g *guarded) bumpEpoch(ctx context.Context) error { return g.invalidation(ctx, "bump_epoch", "") }

// invalidateTags lands or keeps each tag's invalidation on its own, so
// that a retry is one tag, and a tag kept is pending on its own.
func (g *guarded) invalidateTags(ctx context.Context, tags []string, soft bool) error {
	for _, t := range tags {
		if err := g.invalidation(ctx, "invalidate_tags", pendingTag(t, soft)); err != nil {
			return err
		}
	}
	return nil
}

// pendingTag is the key, in pending, of a tag's invalidation: it cannot be
// a path's material (which starts with the key version) nor "".
func pendingTag(tag string, soft bool) string {
	if soft {
		return "\x00s" + tag
	}
	return "\x00h" + tag
}

// tagPending reports whether one of tags has an invalidation, hard or
// soft, that has not landed.
func (g *guarded) tagPending(tags []string) bool {
	if len(tags) == 0 || g.npend.Load() == 0 {
		return false
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, t := range tags {
		_, hard := g.pending[pendingTag(t, false)]
		_, soft := g.pending[pendingTag(t, true)]
		if hard || soft {
			return true
		}
	}
	return false
}

func (g *guarded) identity() any { return g.b.identity() }

// usable returns why the path (its material) cannot be looked up or
// stored now, or nil.
func (g *guarded) usable(path []byte) error {
	if g.paused() {
		return errStoragePaused
	}
	if g.npend.Load() == 0 {
		return nil
	}
	g.mu.Lock()
	_, all := g.pending[""]
	_, one := g.pending[string(path)]
	g.mu.Unlock()
	if all || one {
		return errPendingInvalidation
	}
	return nil
}

// paused reports whether the storage is being left alone.
func (g *guarded) paused() bool {
	t := g.pausedUntil.Load()
	return t != 0 && g.now() < t
}

// do makes one call, f, unless the storage is paused, bounded by the
// timeout; a failure pauses the storage.
func (g *guarded) do(ctx context.Context, op string, f func(ctx context.Context) error) error {
	if g.paused() {
		return errStoragePaused
	}
	ctx, cancel := context.WithTimeout(ctx, g.timeout)
	err := f(ctx)
	cancel()
	if err != nil && !isCorrupt(err) {
		g.failed(op, err)
	} else if g.down.Load() {
		g.settle()
	}
	return err
}

// invalidation lands the invalidation of path ("" for the epoch), or keeps
// it for later. Either way it is done, for the caller.
func (g *guarded) invalidation(ctx context.Context, op, path string) error {
	seq := g.seq.Load()
	if err := g.do(ctx, op, func(ctx context.Context) error { return g.land(ctx, path) }); err != nil {
		g.keep(path, err)
		return nil
	}
	g.landed(path, seq)
	return nil
}

// land makes one invalidation ("" for the epoch, pendingTag for a tag)
// reach the storage.
func (g *guarded) land(ctx context.Context, path string) error {
	switch {
	case path == "":
		return g.b.bumpEpoch(ctx)
	case strings.HasPrefix(path, "\x00"):
		return g.b.invalidateTags(ctx, []string{path[2:]}, path[1] == 's')
	}
	return g.b.invalidate(ctx, []byte(path))
}

// failed records a failed call: counted, the storage left alone for the
// pause, and logged, at Warn when it starts an outage.
func (g *guarded) failed(op string, err error) {
	now := g.now()
	g.pausedUntil.Store(now + int64(g.pause))
	g.obs(EventStorageError, ReasonNone)
	level := slog.LevelDebug
	g.mu.Lock()
	if !g.out.down {
		g.startOutage(now)
		level = slog.LevelWarn
	}
	g.mu.Unlock()
	g.log.log(level, "storage_error", slog.String("op", op), slog.String("error", err.Error()), slog.Duration("pause", g.pause))
}

// startOutage begins an outage; g.mu is held.
func (g *guarded) startOutage(now int64) {
	g.out = outage{down: true, since: now}
	g.down.Store(true)
}

// settle ends the outage once the storage answers and nothing is pending.
func (g *guarded) settle() {
	g.mu.Lock()
	if !g.out.down || len(g.pending) > 0 || g.closeDone {
		g.mu.Unlock()
		return
	}
	o := g.out
	g.out = outage{}
	g.down.Store(false)
	// The storage answered: what is left of the pause would only turn
	// requests away, and hide the start of the next outage.
	g.pausedUntil.Store(0)
	g.mu.Unlock()
	g.log.log(slog.LevelInfo, "storage_recovered", slog.Duration("down", time.Duration(g.now()-o.since)),
		slog.Int("invalidations_landed", o.kept))
}

// keep remembers an invalidation that did not land, and has it retried.
func (g *guarded) keep(path string, err error) {
	g.mu.Lock()
	if g.closeDone {
		// Nothing retries it any more.
		g.lost++
		first := g.lost == 1
		g.mu.Unlock()
		level := slog.LevelDebug
		if first {
			level = slog.LevelError
		}
		g.log.log(level, "invalidation_lost_at_close", slog.Int("pending", 1), slog.Bool("everything", path == ""),
			slog.Any("paths", describePending([]string{path})), slog.String("error", err.Error()))
		return
	}
	seq := g.seq.Add(1)
	merged := 0
	if _, all := g.pending[""]; all {
		g.pending[""] = seq // it covers path, and now lands after this keep
	} else if _, ok := g.pending[path]; ok || len(g.pending) < maxPending {
		g.pending[path] = seq
	} else {
		merged = len(g.pending) + 1
		clear(g.pending)
		g.pending[""] = seq
	}
	g.npend.Store(int64(len(g.pending)))
	if !g.out.down {
		g.startOutage(g.now())
	}
	g.out.kept++
	first := !g.out.keptLogged
	g.out.keptLogged = true
	start := !g.running && !g.closed
	if start {
		g.running = true
		g.wg.Add(1)
	}
	g.mu.Unlock()
	if first {
		g.log.log(slog.LevelInfo, "invalidation_pending", slog.String("error", err.Error()),
			slog.String("detail", "kept and retried every pause; until it lands this instance serves the path without the cache"))
	}
	if merged > 0 {
		g.log.log(slog.LevelInfo, "invalidations_merged", slog.Int("pending", merged),
			slog.String("detail", "more paths wait for the storage than are kept: one invalidation of everything replaces them"))
	}
	if start {
		go g.retry()
	}
}

// landed forgets what pending holds for path ("" for the epoch: for every
// path) if it was kept before seq was read, that is before the call that
// landed started.
func (g *guarded) landed(path string, seq uint64) {
	if g.npend.Load() > 0 {
		g.mu.Lock()
		for p, s := range g.pending {
			if (path == "" || p == path) && s <= seq {
				delete(g.pending, p)
			}
		}
		g.npend.Store(int64(len(g.pending)))
		g.mu.Unlock()
	}
	if g.down.Load() {
		g.settle()
	}
}

// retry lands what is pending, one pause apart, until nothing is left or
// the guard is closed.
func (g *guarded) retry() {
	defer g.wg.Done()
	t := time.NewTimer(g.pause)
	defer t.Stop()
	for {
		select {
		case <-g.stop.Done():
			return
		case <-t.C:
		}
		if err := g.landPending(g.stop); err != nil && g.stop.Err() == nil {
			g.log.log(slog.LevelDebug, "invalidation_retry_failed", slog.String("error", err.Error()))
		}
		g.mu.Lock()
		if len(g.pending) == 0 || g.closed {
			g.running = false
			g.mu.Unlock()
			return
		}
		g.mu.Unlock()
		t.Reset(g.pause)
	}
}

// landPending tries to land what is pending, one call at a time (the epoch
// alone when it is pending: it covers every path), each bounded by the
// timeout and by ctx. It stops at the first failure. Its calls are made
// even while the storage is paused: the retrier comes one pause apart, and
// Close's try is the last.
func (g *guarded) landPending(ctx context.Context) error {
	g.mu.Lock()
	todo := make([]string, 0, len(g.pending))
	if _, all := g.pending[""]; all {
		todo = append(todo, "")
	} else {
		for p := range g.pending {
			todo = append(todo, p)
		}
	}
	g.mu.Unlock()
	for _, p := range todo {
		if err := ctx.Err(); err != nil {
			return err
		}
		seq := g.seq.Load()
		cctx, cancel := context.WithTimeout(ctx, g.timeout)
		err := g.land(cctx, p)
		cancel()
		if err != nil {
			return err
		}
		g.landed(p, seq)
	}
	return nil
}

// close stops the retrier (and its call in flight), tries what is pending
// once more within closeBudget, and logs what could not land. It never
// holds the lock that requests take while it waits for the storage.
func (g *guarded) close() {
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return
	}
	g.closed = true
	g.mu.Unlock()
	g.cancel()
	g.wg.Wait()

	ctx, cancel := context.WithTimeout(context.Background(), closeBudget)
	var err error
	for err == nil && g.npend.Load() > 0 {
		err = g.landPending(ctx) // again, for what was kept meanwhile
	}
	cancel()

	g.mu.Lock()
	g.closeDone = true
	n := len(g.pending)
	_, all := g.pending[""]
	some := make([]string, 0, 10)
	for p := range g.pending {
		if len(some) == cap(some) {
			break
		}
		some = append(some, p)
	}
	g.mu.Unlock()
	if n > 0 {
		attrs := []slog.Attr{slog.Int("pending", n), slog.Bool("everything", all), slog.Any("paths", describePending(some)),
			slog.String("detail", "the storage could not be reached; other instances may serve these paths stale until their entries expire")}
		if err != nil {
			attrs = append(attrs, slog.String("error", err.Error()))
		}
		g.log.log(slog.LevelError, "invalidation_lost_at_close", attrs...)
	}
}

// describePending shows pending path materials as host + path ("" as
// every path).
func describePending(paths []string) []string {
	out := make([]string, len(paths))
	for i, p := range paths {
		switch {
		case p == "":
			out[i] = "every path (epoch)"
		case strings.HasPrefix(p, "\x00"):
			out[i] = "tag " + p[2:]
		default:
			out[i] = describePath([]byte(p))
		}
	}
	return out
}
