// Package bench measures fibercache's hit and miss paths side by side with
// no cache at all (Raw) and with Fiber's own cache middleware, by driving
// app.Handler() with a reused *fasthttp.RequestCtx: no network, so what is
// measured is the middleware and the storage round trips. Each runs in
// Fiber v2 (fibercache-mem, fiber-mem, ...) and in Fiber v3
// (fibercache-v3-mem, fiber-v3-mem, ...; see setup.Impls).
//
//	go test ./bench -run '^$' -bench . -benchmem
//
// Every hit benchmark checks, before and after the timed loop, that the
// response really is a hit (X-Cache: hit) and that the handler did not run,
// so it cannot silently measure misses. The Redis cases use
// internal/redistest: REDIS_ADDR or 127.0.0.1:6379, else a throwaway
// redis-server.
package bench

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"reflect"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/fiber-caches/cache/bench/internal/setup"
	"github.com/fiber-caches/cache/internal/core/redistest"
	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"
)

func TestMain(m *testing.M) {
	code := m.Run()
	redistest.Stop()
	os.Exit(code)
}

// runID keeps this process's URLs, hence Redis keys, apart from those of
// earlier runs, so a Redis case never starts warm.
var runID = strconv.FormatInt(time.Now().UnixNano()%(1<<40), 36)

// servers numbers the servers of this process, whose paths it tells apart:
// a benchmark function may run several times.
var servers atomic.Int64

// A shape is the response the handler gives.
type shape struct {
	name string
	body []byte
	vary bool // the response says Vary: Accept-Encoding
}

var (
	small = shape{name: "1KiB", body: jsonBody(1 << 10)}
	large = shape{name: "64KiB", body: jsonBody(64 << 10)}
	vary  = shape{name: "vary", body: small.body, vary: true}
)

// jsonBody returns n bytes of JSON.
func jsonBody(n int) []byte {
	b := []byte(`{"items":[`)
	for i := 0; len(b) < n-64; i++ {
		b = fmt.Appendf(b, `{"id":%d,"name":"item %d","price":%d.99},`, i, i, i%100)
	}
	b = append(b[:len(b)-1], `],"pad":"`...)
	b = append(b, bytes.Repeat([]byte{'x'}, n-len(b)-2)...)
	return append(b, `"}`...)
}

// handlerHeaders lists the headers the handler of s sets.
func handlerHeaders(s shape) [][2]string {
	hs := [][2]string{{fiber.HeaderContentType, fiber.MIMEApplicationJSON}, {fiber.HeaderETag, `"v1"`}, {"X-Api-Version", "3"}}
	if s.vary {
		hs = append(hs, [2]string{fiber.HeaderVary, fiber.HeaderAcceptEncoding})
	}
	return hs
}

// handler answers with the prepared body and a few headers, counting its
// runs in runs.
func handler(s shape, runs *atomic.Int64) setup.Handler {
	return func(ctx *fasthttp.RequestCtx) error {
		runs.Add(1)
		h := &ctx.Response.Header
		h.SetContentType(fiber.MIMEApplicationJSON)
		h.Set(fiber.HeaderETag, `"v1"`)
		h.Set("X-Api-Version", "3")
		if s.vary {
			h.Set(fiber.HeaderVary, fiber.HeaderAcceptEncoding)
		}
		ctx.Response.SetBodyRaw(s.body) // as Fiber's c.Send
		return nil
	}
}

// server is one app: impl in front of the handler of one shape.
type server struct {
	impl  setup.Impl
	shape shape
	serve fasthttp.RequestHandler
	runs  atomic.Int64
	path  string
}

func newServer(tb testing.TB, impl setup.Impl, s shape) *server {
	tb.Helper()
	var addr string
	if impl.UsesRedis() {
		addr = redistest.Addr(tb)
	}
	id := strconv.FormatInt(servers.Add(1), 10)
	// A typical API path, short enough that its key takes one SHA-256 block.
	srv := &server{impl: impl, shape: s, path: "/api/items/" + runID + "-" + id}
	app, err := setup.New(impl, addr, handler(s, &srv.runs))
	if err != nil {
		tb.Fatal(err)
	}
	srv.serve = app.Handler()
	return srv
}

// newCtx returns a request context for a GET of path, as a browser sends it.
func newCtx(path string) *fasthttp.RequestCtx {
	var req fasthttp.Request
	req.Header.SetMethod(fiber.MethodGet)
	req.SetRequestURI(path)
	req.Header.SetHost("example.com")
	req.Header.Set(fiber.HeaderAccept, "application/json")
	req.Header.Set(fiber.HeaderAcceptEncoding, "gzip, br")
	req.Header.Set(fiber.HeaderUserAgent, "bench")
	// As fasthttp's server prepares a context (without ReduceMemoryUsage):
	// request and response keep their body buffers from one request to the
	// next. ctx.Init would not (it passes reduceMemoryUsage), which makes
	// every body written with SetBody go through the buffer pool.
	ctx := new(fasthttp.RequestCtx)
	ctx.Init2(benchConn{}, nil, false)
	req.CopyTo(&ctx.Request)
	return ctx
}

// benchConn is the connection a benchmark's request context reports; the
// handler never reads or writes it.
type benchConn struct{ net.Conn }

var benchAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1}

func (benchConn) RemoteAddr() net.Addr { return benchAddr }
func (benchConn) LocalAddr() net.Addr  { return benchAddr }

// do serves one request on the reused ctx, as fasthttp's server would after
// resetting what it resets between requests, and reading the clock once
// for the request (ctx.Time()), which every case then shares.
func (s *server) do(ctx *fasthttp.RequestCtx) {
	ctx.Response.Reset()
	ctx.ResetUserValues()
	setRequestTime(ctx, time.Now())
	s.serve(ctx)
}

// requestTimeOffset is where fasthttp keeps the time its server reads for
// each request (RequestCtx.Time), which it gives no setter for.
var requestTimeOffset = func() uintptr {
	f, ok := reflect.TypeOf(fasthttp.RequestCtx{}).FieldByName("time")
	if !ok || f.Type != reflect.TypeOf(time.Time{}) {
		panic("bench: fasthttp.RequestCtx has no time field; update setRequestTime")
	}
	return f.Offset
}()

// setRequestTime does what fasthttp's server does before calling the
// handler: ctx.time = time.Now().
func setRequestTime(ctx *fasthttp.RequestCtx, t time.Time) {
	*(*time.Time)(unsafe.Add(unsafe.Pointer(ctx), requestTimeOffset)) = t
}

// check fails unless the response in ctx is the handler's, and, for a
// cache, says want in X-Cache.
func (s *server) check(tb testing.TB, ctx *fasthttp.RequestCtx, want string) {
	tb.Helper()
	resp := &ctx.Response
	if resp.StatusCode() != fiber.StatusOK || !bytes.Equal(resp.Body(), s.shape.body) {
		tb.Fatalf("%s: status %d, body of %d bytes; want 200 and the handler's %d bytes", s.impl, resp.StatusCode(), len(resp.Body()), len(s.shape.body))
	}
	if got := string(resp.Header.Peek(setup.CacheHeader)); !s.impl.IsRaw() && got != want {
		tb.Fatalf("%s: %s: %q, want %q", s.impl, setup.CacheHeader, got, want)
	}
	// Every case answers the handler's headers: a cache that dropped them
	// would do less work than the others.
	for _, kv := range handlerHeaders(s.shape) {
		if got := string(resp.Header.Peek(kv[0])); got != kv[1] {
			tb.Fatalf("%s: %s: %q, want the handler's %q", s.impl, kv[0], got, kv[1])
		}
	}
}

// warm stores the response of path and checks that the next request is a
// hit that does not run the handler. It returns the handler's run count.
func (s *server) warm(tb testing.TB, ctx *fasthttp.RequestCtx) int64 {
	tb.Helper()
	s.do(ctx)
	s.check(tb, ctx, "miss")
	runs := s.runs.Load()
	s.do(ctx)
	s.check(tb, ctx, "hit")
	if !s.impl.IsRaw() && s.runs.Load() != runs {
		tb.Fatalf("%s: the handler ran on a hit", s.impl)
	}
	return s.runs.Load()
}

// stillHits fails if the handler ran since warm returned runs.
func (s *server) stillHits(tb testing.TB, runs int64) {
	tb.Helper()
	if !s.impl.IsRaw() && s.runs.Load() != runs {
		tb.Fatalf("%s: the handler ran %d times during the hit benchmark", s.impl, s.runs.Load()-runs)
	}
}

// hitCases lists what each hit benchmark compares. Fiber v2's middleware
// keys by path alone and ignores Vary, so both Fibers' sit out the Vary
// case (v3's keys the Vary values, but a comparison needs both).
func hitCases(s shape) []setup.Impl {
	if s.vary {
		return []setup.Impl{setup.Raw, setup.FibercacheMem, setup.FibercacheRedis, setup.RawV3, setup.FibercacheV3Mem, setup.FibercacheV3Redis}
	}
	return setup.Impls
}

// BenchmarkHit serves one stored response over and over: the hit path.
// Raw runs the handler instead.
func BenchmarkHit(b *testing.B) {
	for _, s := range []shape{small, vary, large} {
		for _, impl := range hitCases(s) {
			b.Run(s.name+"/"+string(impl), func(b *testing.B) {
				srv := newServer(b, impl, s)
				ctx := newCtx(srv.path)
				runs := srv.warm(b, ctx)
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					srv.do(ctx)
				}
				b.StopTimer()
				srv.check(b, ctx, "hit")
				srv.stillHits(b, runs)
			})
		}
	}
}

// BenchmarkHitParallel is BenchmarkHit/1KiB from GOMAXPROCS goroutines at
// once: a global lock on the hit path shows here.
func BenchmarkHitParallel(b *testing.B) {
	for _, impl := range setup.Impls {
		b.Run(small.name+"/"+string(impl), func(b *testing.B) {
			srv := newServer(b, impl, small)
			runs := srv.warm(b, newCtx(srv.path))
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				ctx := newCtx(srv.path)
				for pb.Next() {
					srv.do(ctx)
				}
			})
			b.StopTimer()
			srv.stillHits(b, runs)
		})
	}
}

// BenchmarkHitConcurrent is BenchmarkHit/1KiB from 32 goroutines at once
// (16 per CPU on two), as a busy server serves hits: where a near cache's
// strict hits share barrier rounds (one PING for every hit waiting).
// Fiber's middleware sits out: this compares fibercache's storages.
func BenchmarkHitConcurrent(b *testing.B) {
	for _, impl := range []setup.Impl{setup.FibercacheMem, setup.FibercacheRedis, setup.FibercacheNear, setup.FibercacheLag} {
		b.Run(small.name+"/"+string(impl), func(b *testing.B) {
			srv := newServer(b, impl, small)
			runs := srv.warm(b, newCtx(srv.path))
			b.ReportAllocs()
			b.SetParallelism(32 / runtime.GOMAXPROCS(0))
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				ctx := newCtx(srv.path)
				for pb.Next() {
					srv.do(ctx)
				}
			})
			b.StopTimer()
			srv.stillHits(b, runs)
		})
	}
}

// BenchmarkMiss requests a new URL every time: each request misses, runs
// the handler and stores its response. Raw requests the same new URLs.
func BenchmarkMiss(b *testing.B) {
	for _, impl := range setup.Impls {
		b.Run(small.name+"/"+string(impl), func(b *testing.B) {
			srv := newServer(b, impl, small)
			ctx := newCtx(srv.path)
			uri := []byte(srv.path + "/")
			prefix := len(uri)
			n := 0
			next := func() {
				n++
				uri = strconv.AppendInt(uri[:prefix], int64(n), 10)
				ctx.Request.SetRequestURIBytes(uri)
				srv.do(ctx)
			}
			next()
			srv.check(b, ctx, "miss")
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				next()
			}
			b.StopTimer()
			srv.check(b, ctx, "miss")
			if got := srv.runs.Load(); got != int64(n) {
				b.Fatalf("%s: the handler ran %d times for %d distinct URLs", impl, got, n)
			}
		})
	}
}

// TestHitsAreHits runs the check every hit benchmark starts with, so a
// plain go test notices a setup that would measure misses.
func TestHitsAreHits(t *testing.T) {
	for _, s := range []shape{small, vary, large} {
		for _, impl := range hitCases(s) {
			t.Run(s.name+"/"+string(impl), func(t *testing.T) {
				srv := newServer(t, impl, s)
				ctx := newCtx(srv.path)
				runs := srv.warm(t, ctx)
				for range 3 {
					srv.do(ctx)
					srv.check(t, ctx, "hit")
				}
				srv.stillHits(t, runs)
			})
		}
	}
}

// BenchmarkNotModified answers a browser that revalidates (If-None-Match
// with the stored ETag) with a 304 from the store, beside the full hit of
// the same entry: what WithClientTTL(0) costs per page view.
func BenchmarkNotModified(b *testing.B) {
	for _, impl := range []setup.Impl{setup.FibercacheMem, setup.FibercacheRedis} {
		for _, conditional := range []bool{false, true} {
			name := "full-hit"
			if conditional {
				name = "304"
			}
			b.Run(name+"/"+string(impl), func(b *testing.B) {
				srv := newServer(b, impl, small)
				ctx := newCtx(srv.path)
				runs := srv.warm(b, ctx)
				if conditional {
					ctx.Request.Header.Set(fiber.HeaderIfNoneMatch, `"v1"`)
				}
				srv.do(ctx)
				want := fiber.StatusOK
				if conditional {
					want = fiber.StatusNotModified
				}
				if got := ctx.Response.StatusCode(); got != want {
					b.Fatalf("%s: status %d, want %d", impl, got, want)
				}
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					srv.do(ctx)
				}
				b.StopTimer()
				srv.stillHits(b, runs)
			})
		}
	}
}
