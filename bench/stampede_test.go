package bench

import (
	"bytes"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fiber-caches/cache/bench/internal/setup"
	"github.com/fiber-caches/cache/internal/core/redistest"
	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"
)

// Stampede: this many concurrent requests for one cold URL whose handler
// takes stampedeWork.
const (
	stampedeRequests = 200
	stampedeWork     = 50 * time.Millisecond
)

// TestStampede sends stampedeRequests concurrent requests for one URL that
// nothing has stored yet. fibercache coalesces them: its handler must run
// exactly once, and every request gets its response, whether it joined
// the leader's run, or missed just before the leader stored and came after
// its handler returned (it waits for the store to land and looks again).
// Fiber's middleware does not coalesce; how often its handler ran is
// logged.
func TestStampede(t *testing.T) {
	for _, impl := range setup.Caches {
		t.Run(string(impl), func(t *testing.T) {
			runs := stampede(t, impl)
			t.Logf("%s: the handler ran %d times for %d concurrent requests", impl, runs, stampedeRequests)
			if !impl.IsFiber() && runs != 1 {
				t.Fatalf("%s: the handler ran %d times for %d concurrent requests for one URL; want 1", impl, runs, stampedeRequests)
			}
		})
	}
}

// stampede runs the stampede against impl and returns how many times the
// handler ran.
func stampede(t *testing.T, impl setup.Impl) int64 {
	t.Helper()
	var addr string
	if impl.UsesRedis() {
		addr = redistest.Addr(t)
	}
	var runs atomic.Int64
	body := small.body
	app, err := setup.New(impl, addr, func(ctx *fasthttp.RequestCtx) error {
		runs.Add(1)
		time.Sleep(stampedeWork)
		ctx.Response.Header.SetContentType(fiber.MIMEApplicationJSON)
		ctx.Response.SetBodyRaw(body)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	serve := app.Handler()
	// Unique per call: with -count > 1 the Redis cases share a server.
	path := fmt.Sprintf("/%s/stampede/%s/%d", runID, impl, time.Now().UnixNano())

	var (
		start    sync.WaitGroup // released all at once
		done     sync.WaitGroup
		bad      atomic.Int64
		mu       sync.Mutex
		statuses = map[string]int{} // Cache-Status: how many
	)
	start.Add(1)
	for range stampedeRequests {
		done.Add(1)
		go func() {
			defer done.Done()
			ctx := newCtx(path)
			start.Wait()
			serve(ctx)
			mu.Lock()
			statuses[string(ctx.Response.Header.Peek("Cache-Status"))]++
			mu.Unlock()
			if ctx.Response.StatusCode() != fasthttp.StatusOK || !bytes.Equal(ctx.Response.Body(), body) {
				bad.Add(1)
			}
		}()
	}
	start.Done()
	done.Wait()
	if n := bad.Load(); n > 0 {
		t.Fatalf("%s: %d of %d responses were not the handler's", impl, n, stampedeRequests)
	}
	if runs.Load() > 1 && !impl.IsFiber() {
		t.Logf("%s: Cache-Status of the responses: %v", impl, statuses)
	}
	return runs.Load()
}
