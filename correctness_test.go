package cache_test

// Regression tests for issue 8: what a client of a real server sees. Every
// request goes through a real listener (app.Listener on 127.0.0.1:0), with
// fasthttp's client, or as raw bytes over a TCP connection where the exact
// spelling of the request matters.

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/storage/redis/v3"
	goredis "github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
	"github.com/valyala/fasthttp"

	"github.com/fiber-caches/cache"
	"github.com/fiber-caches/cache/internal/core/entry"
	"github.com/fiber-caches/cache/internal/core/redistest"
	"github.com/fiber-caches/cache/internal/testkit"
)

// cxTimeout bounds every wait of these tests.
const cxTimeout = 10 * time.Second

// cxApp returns a new app without the startup banner.
func cxApp(cfg ...fiber.Config) *fiber.App {
	c := fiber.Config{}
	if len(cfg) > 0 {
		c = cfg[0]
	}
	c.DisableStartupMessage = true
	return fiber.New(c)
}

// cxCache returns a cache closed when the test ends.
func cxCache(t *testing.T, opts ...cache.Option) *cache.Cache {
	t.Helper()
	m := cache.NewCache(append([]cache.Option{cache.WithStorageTimeout(cxTimeout)}, opts...)...)
	t.Cleanup(func() { _ = m.Close() })
	return m
}

// cxListen serves app on a real listener on 127.0.0.1:0 until the test
// ends, and returns its address.
func cxListen(t *testing.T, app *fiber.App) string {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = app.Listener(ln)
	}()
	t.Cleanup(func() {
		_ = app.ShutdownWithTimeout(5 * time.Second)
		select {
		case <-done:
		case <-time.After(cxTimeout):
			t.Error("the server did not stop")
		}
	})
	return ln.Addr().String()
}

// cxResp is what a client saw of one response.
type cxResp struct {
	status            int
	body              string
	xCache, cacheStat string
	err               error
}

// cxClient is a keep-alive HTTP client of one server.
type cxClient struct {
	addr string
	host string // the Host header to send; "" for addr
	hc   *fasthttp.HostClient
}

func newCxClient(addr string) *cxClient {
	return &cxClient{addr: addr, hc: &fasthttp.HostClient{
		Addr: addr, MaxConns: 64, ReadTimeout: cxTimeout, WriteTimeout: cxTimeout,
		MaxIdemponentCallAttempts: 1,
	}}
}

// do sends method path with the headers hdr ("Name: value", as testkit.Do
// takes them). It is safe to call from any goroutine: a failure is in the
// result's err.
func (c *cxClient) do(method, path string, hdr ...string) cxResp {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.Header.SetMethod(method)
	req.SetRequestURI("http://" + c.addr + path)
	if c.host != "" {
		req.UseHostHeader = true
		req.Header.SetHost(c.host)
	}
	for _, h := range hdr {
		k, v, ok := strings.Cut(h, ":")
		if !ok {
			return cxResp{err: fmt.Errorf("%s %s: header %q is not \"Name: value\"", method, path, h)}
		}
		req.Header.Set(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	if err := c.hc.DoTimeout(req, resp, cxTimeout); err != nil {
		return cxResp{err: fmt.Errorf("%s %s: %w", method, path, err)}
	}
	return cxResp{
		status: resp.StatusCode(), body: string(resp.Body()),
		xCache: string(resp.Header.Peek(cache.DefaultCacheHeader)), cacheStat: string(resp.Header.Peek("Cache-Status")),
	}
}

// must is do, failing the test on a transport error or a status other than
// 2xx.
func (c *cxClient) must(t *testing.T, method, path string, hdr ...string) cxResp {
	t.Helper()
	r := c.do(method, path, hdr...)
	require.NoError(t, r.err)
	require.True(t, r.status >= 200 && r.status < 300, "%s %s: status %d %q", method, path, r.status, r.body)
	return r
}

// cxGo runs f in a goroutine; the channel gets its result.
func cxGo[T any](f func() T) <-chan T {
	ch := make(chan T, 1)
	go func() { ch <- f() }()
	return ch
}

// cxWait receives from ch, failing the test when nothing comes in time.
func cxWait[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(cxTimeout):
		t.Fatalf("timed out after %v waiting for %s", cxTimeout, what)
		panic("unreachable")
	}
}

// cxRaw sends the request head (request line and header lines, each ending
// in CRLF, without the blank line) over a new TCP connection, as written,
// and returns the response and its body.
func cxRaw(t *testing.T, addr, head string) (*http.Response, string) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, cxTimeout)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(cxTimeout)))
	_, err = io.WriteString(conn, head+"Connection: close\r\n\r\n")
	require.NoError(t, err)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(body)
}

// cxObserver signals every EventCoalesced, never blocking.
type cxObserver struct{ coalesced chan struct{} }

func newCxObserver() cxObserver { return cxObserver{make(chan struct{}, 64)} }

func (o cxObserver) Observe(ev cache.Event, _ cache.Reason) {
	if ev == cache.EventCoalesced {
		select {
		case o.coalesced <- struct{}{}:
		default:
		}
	}
}

// cxRedis is a client of the test Redis, closed when the test ends, and a
// key prefix of the test's, whose keys are deleted when it ends.
func cxRedis(t *testing.T) (*redis.Storage, string) {
	t.Helper()
	return cxRedisClient(t), redistest.Prefix(t)
}

// cxRedisClient is a client of the test Redis, closed when the test ends.
func cxRedisClient(t *testing.T) *redis.Storage {
	t.Helper()
	s := redis.New(redis.Config{Addrs: []string{redistest.Addr(t)}})
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// cxStore is a store the end-to-end tests run on; opts is called once per
// (sub)test.
type cxStore struct {
	name string
	opts func(t *testing.T) []cache.Option
}

// cxStores are the stores the end-to-end tests run on. The Redis one gives
// each subtest a key prefix of its own under one of top's, deleted when
// top ends (one SCAN: the test Redis may hold many keys).
func cxStores(top *testing.T) []cxStore {
	prefixes := invRedisPrefixes(top)
	return []cxStore{
		{"memory", func(*testing.T) []cache.Option { return nil }},
		{"storage", func(*testing.T) []cache.Option { return []cache.Option{cache.WithStorage(testkit.NewStorage())} }},
		{"redis", func(t *testing.T) []cache.Option {
			return []cache.Option{cache.WithStorage(cxRedisClient(t)), cache.WithKeyPrefix(prefixes()), cache.WithTTL(time.Minute)}
		}},
	}
}

// cxVersion parses the data version at the start of a body "v<N>...".
func cxVersion(body string) (int64, bool) {
	rest, ok := strings.CutPrefix(body, "v")
	if !ok {
		return 0, false
	}
	end := strings.IndexFunc(rest, func(r rune) bool { return r < '0' || r > '9' })
	if end < 0 {
		end = len(rest)
	}
	v, err := strconv.ParseInt(rest[:end], 10, 64)
	return v, err == nil
}

// --- 8.1: no stale answer after an acknowledged write --------------------------

// cxIsResponse reports whether a stored value is a response (not a path
// record, names or an epoch).
func cxIsResponse(v []byte) bool {
	_, err := entry.Decode(v)
	return err == nil
}

// cxFire runs the one-shot hook in p, if there is one.
func cxFire(p *atomic.Pointer[func()]) {
	if f := p.Swap(nil); f != nil {
		(*f)()
	}
}

// cxHoldStorage is a testkit.Storage that runs one-shot hooks right after a
// response written to it has landed and after one was read from it.
func cxHoldStorage() (s *testkit.Storage, afterResponse, afterRead *atomic.Pointer[func()]) {
	s = testkit.NewStorage()
	afterResponse, afterRead = new(atomic.Pointer[func()]), new(atomic.Pointer[func()])
	s.SetHooks(nil, func(op testkit.Op) {
		switch {
		case op.Name == "get" && cxIsResponse(op.Value):
			cxFire(afterRead)
		case op.Name == "set" && cxIsResponse(op.Value):
			cxFire(afterResponse)
		}
	})
	return s, afterResponse, afterRead
}

// cxSlowStorage is a testkit.Storage that delays every call a little, at
// random (up to delay before each call, and again after a Set), to widen
// race windows.
func cxSlowStorage(delay time.Duration) *testkit.Storage {
	s := testkit.NewStorage()
	sleep := func(testkit.Op) { time.Sleep(rand.N(delay)) }
	s.SetHooks(sleep, func(op testkit.Op) {
		if op.Name == "set" {
			sleep(op)
		}
	})
	return s
}

// cxRedisHold is a go-redis hook that runs one-shot hooks right after a
// round trip that carried a response to Redis has come back, and after one
// that brought one back.
type cxRedisHold struct{ afterResponse, afterRead atomic.Pointer[func()] }

func (h *cxRedisHold) DialHook(next goredis.DialHook) goredis.DialHook { return next }

// cxCarriesResponse reports whether one of vs (command arguments or
// replies, nested) is a stored response.
func cxCarriesResponse(vs ...any) bool {
	for _, a := range vs {
		switch x := a.(type) {
		case []byte:
			if cxIsResponse(x) {
				return true
			}
		case string:
			if cxIsResponse([]byte(x)) {
				return true
			}
		case []any:
			if cxCarriesResponse(x...) {
				return true
			}
		}
	}
	return false
}

func (h *cxRedisHold) after(cmds []goredis.Cmder) {
	for _, c := range cmds {
		if cxCarriesResponse(c.Args()...) {
			cxFire(&h.afterResponse)
		}
		switch r := c.(type) {
		case *goredis.Cmd:
			if cxCarriesResponse(r.Val()) {
				cxFire(&h.afterRead)
			}
		case *goredis.StringCmd:
			if cxCarriesResponse(r.Val()) {
				cxFire(&h.afterRead)
			}
		}
	}
}

func (h *cxRedisHold) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		err := next(ctx, cmd)
		h.after([]goredis.Cmder{cmd})
		return err
	}
}

func (h *cxRedisHold) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		err := next(ctx, cmds)
		h.after(cmds)
		return err
	}
}

// cxHoldStore is a store whose writes of responses can be held.
type cxHoldStore struct {
	name string
	// make returns the cache options and a function arming one-shot hooks
	// that run right after the next response written lands (onWrite) and
	// after the next response read (onRead); nil: the store has no write
	// to hold, the in-process one.
	make func(t *testing.T) ([]cache.Option, func(onWrite, onRead func()))
}

func cxHoldStores(top *testing.T) []cxHoldStore {
	prefixes := invRedisPrefixes(top)
	return []cxHoldStore{
		{"memory", func(*testing.T) ([]cache.Option, func(func(), func())) { return nil, nil }},
		{"storage", func(*testing.T) ([]cache.Option, func(func(), func())) {
			s, afterResponse, afterRead := cxHoldStorage()
			return []cache.Option{cache.WithStorage(s), cache.WithStorageTimeout(cxTimeout)},
				func(onWrite, onRead func()) { afterResponse.Store(&onWrite); afterRead.Store(&onRead) }
		}},
		{"redis", func(t *testing.T) ([]cache.Option, func(func(), func())) {
			s, prefix := cxRedisClient(t), prefixes()
			h := &cxRedisHold{}
			s.Conn().AddHook(h)
			return []cache.Option{cache.WithStorage(s), cache.WithKeyPrefix(prefix), cache.WithTTL(time.Minute), cache.WithStorageTimeout(cxTimeout)},
				func(onWrite, onRead func()) { h.afterResponse.Store(&onWrite); h.afterRead.Store(&onRead) }
		}},
	}
}

// cxHold is a one-shot hold: hook blocks until release (or the test's
// timeout); held is closed when it does.
type cxHold struct {
	held, rel chan struct{}
	once      sync.Once
}

func newCxHold() *cxHold { return &cxHold{held: make(chan struct{}), rel: make(chan struct{})} }

func (h *cxHold) hook() {
	close(h.held)
	select {
	case <-h.rel:
	case <-time.After(cxTimeout):
	}
}

func (h *cxHold) release() { h.once.Do(func() { close(h.rel) }) }

// TestCorrectness_StaleAfterAcknowledgedWrite: GET A's handler reads v1
// and is slow; a POST (v2) is acknowledged meanwhile; then A stores v1.
// GET B, sent after the acknowledgment, must get v2:
//   - "during A's store": B is sent once A's write of v1 has landed in the
//     storage, while A's store is held there (before A could take it back
//     or check anything); B reads what A wrote, then A is let go;
//   - "during A's handler": B is sent while A's handler still runs, and
//     waits for it (coalesced);
//
// and every GET after A answered gets v2.
func TestCorrectness_StaleAfterAcknowledgedWrite(t *testing.T) {
	for _, st := range cxHoldStores(t) {
		for _, vary := range []bool{false, true} {
			for _, during := range []string{"store", "handler"} {
				name := fmt.Sprintf("%s/vary=%v/during A's %s", st.name, vary, during)
				t.Run(name, func(t *testing.T) {
					opts, arm := st.make(t)
					if during == "store" && arm == nil {
						t.Skip("the in-process store has no write to hold")
					}
					obs := newCxObserver()
					m := cxCache(t, append(opts, cache.WithObserver(obs))...)
					app := cxApp()
					app.Use(m.Handler())
					var version atomic.Int64
					version.Store(1)
					var inHandler atomic.Pointer[func()]
					app.Get("/a", func(c *fiber.Ctx) error {
						v := version.Load()
						cxFire(&inHandler)
						if vary {
							c.Vary(fiber.HeaderAcceptLanguage)
						}
						return c.SendString(fmt.Sprintf("v%d %s", v, c.Get(fiber.HeaderAcceptLanguage)))
					})
					app.Post("/a", func(c *fiber.Ctx) error {
						return c.SendString(fmt.Sprintf("w%d", version.Add(1)))
					})
					cl := newCxClient(cxListen(t, app))
					want := func(v int64) string { return fmt.Sprintf("v%d en", v) }
					get := func() <-chan cxResp {
						return cxGo(func() cxResp { return cl.do(fiber.MethodGet, "/a", fiber.HeaderAcceptLanguage+": en") })
					}

					handler, store := newCxHold(), newCxHold()
					defer handler.release()
					defer store.release()
					hook := handler.hook
					inHandler.Store(&hook)
					resA := get()
					cxWait(t, handler.held, "A's handler")
					post := cl.must(t, fiber.MethodPost, "/a")
					require.Equal(t, "w2", post.body, "the write is acknowledged")

					var resB <-chan cxResp
					if during == "store" {
						bRead := make(chan struct{})
						arm(store.hook, func() { close(bRead) })
						handler.release()
						cxWait(t, store.held, "A's write of v1 to land")
						resB = get()
						// B reads what A wrote (when its key names it), or
						// waits for A's store to land: either way, let A go.
						select {
						case <-bRead:
						case <-time.After(300 * time.Millisecond):
						}
					} else {
						resB = get()
						cxWait(t, obs.coalesced, "B to wait for A's handler")
					}
					handler.release()
					store.release()
					a := cxWait(t, resA, "A")
					require.NoError(t, a.err)
					require.Equal(t, want(1), a.body, "A answers what it read")
					b := cxWait(t, resB, "B")
					require.NoError(t, b.err)
					require.Equal(t, want(2), b.body, "B was sent after the write was acknowledged (%s)", b.cacheStat)
					for i := range 3 {
						c := cl.must(t, fiber.MethodGet, "/a", fiber.HeaderAcceptLanguage+": en")
						require.Equal(t, want(2), c.body, "GET %d after A answered (%s)", i, c.cacheStat)
					}
					require.Equal(t, "hit", cl.must(t, fiber.MethodGet, "/a", fiber.HeaderAcceptLanguage+": en").xCache)
				})
			}
		}
	}
}

// cxStressResult is what a stress run saw.
type cxStressResult struct {
	requests, hits, writes int64
	stale                  []string
	errs                   []error
}

// cxStress runs 8 goroutines of GET / POST / Helper(c).InvalidateURL /
// (*Cache).InvalidateURL on 4 URLs (two of them varying on
// Accept-Language) through a real listener, for at most d or n requests,
// and checks every GET against the writes acknowledged before it was sent.
func cxStress(t *testing.T, opts []cache.Option, d time.Duration, n int64) cxStressResult {
	t.Helper()
	m := cxCache(t, opts...)
	app := cxApp()
	app.Use(m.Handler())
	const urls = 4
	var (
		versions [urls]atomic.Int64 // the data
		acked    [urls]atomic.Int64 // the newest version a write of which was acknowledged
	)
	param := func(c *fiber.Ctx) int {
		n, err := c.ParamsInt("n")
		if err != nil || n < 0 || n >= urls {
			return 0
		}
		return n
	}
	app.Get("/u/:n", func(c *fiber.Ctx) error {
		n := param(c)
		v := versions[n].Load()
		if n >= 2 {
			c.Vary(fiber.HeaderAcceptLanguage)
		}
		return c.SendString(fmt.Sprintf("v%d %s", v, c.Get(fiber.HeaderAcceptLanguage)))
	})
	app.Post("/u/:n", func(c *fiber.Ctx) error { // the cache invalidates /u/n after it
		return c.SendString(strconv.FormatInt(versions[param(c)].Add(1), 10))
	})
	app.Post("/helper/:n", func(c *fiber.Ctx) error {
		n := param(c)
		v := versions[n].Add(1)
		h, err := cache.Helper(c)
		if err != nil {
			return err
		}
		if err := h.InvalidateURL("/u/" + strconv.Itoa(n)); err != nil {
			return err
		}
		return c.SendString(strconv.FormatInt(v, 10))
	})
	addr := cxListen(t, app)
	cl := newCxClient(addr)
	ack := func(n int, v int64) {
		for {
			cur := acked[n].Load()
			if v <= cur || acked[n].CompareAndSwap(cur, v) {
				return
			}
		}
	}

	var (
		res      cxStressResult
		mu       sync.Mutex
		requests atomic.Int64
		hits     atomic.Int64
		writes   atomic.Int64
		wg       sync.WaitGroup
	)
	fail := func(err error, stale string) {
		mu.Lock()
		defer mu.Unlock()
		if err != nil && len(res.errs) < 10 {
			res.errs = append(res.errs, err)
		}
		if stale != "" && len(res.stale) < 10 {
			res.stale = append(res.stale, stale)
		}
	}
	deadline := time.Now().Add(d)
	langs := []string{"en", "fr"}
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 42))
			for i := 0; ; i++ {
				if requests.Add(1) > n || i%64 == 0 && time.Now().After(deadline) {
					requests.Add(-1)
					return
				}
				u := rng.IntN(urls)
				path := "/u/" + strconv.Itoa(u)
				var written string
				switch op := rng.IntN(100); {
				case op < 4: // a write through the middleware
					r := cl.do(fiber.MethodPost, path)
					written = r.body
					if r.err == nil && r.status != fiber.StatusOK {
						r.err = fmt.Errorf("POST %s: status %d", path, r.status)
					}
					if r.err != nil {
						fail(r.err, "")
						return
					}
				case op < 6: // a write, then Helper(c).InvalidateURL
					r := cl.do(fiber.MethodPost, "/helper/"+strconv.Itoa(u))
					written = r.body
					if r.err == nil && r.status != fiber.StatusOK {
						r.err = fmt.Errorf("POST /helper/%d: status %d %q", u, r.status, r.body)
					}
					if r.err != nil {
						fail(r.err, "")
						return
					}
				case op < 8: // a write, then (*Cache).InvalidateURL
					v := versions[u].Add(1)
					if err := m.InvalidateURL("http://" + addr + path); err != nil {
						fail(err, "")
						return
					}
					written = strconv.FormatInt(v, 10)
				default:
					lang := langs[rng.IntN(2)]
					floor := acked[u].Load()
					r := cl.do(fiber.MethodGet, path, fiber.HeaderAcceptLanguage+": "+lang)
					if r.err == nil && r.status != fiber.StatusOK {
						r.err = fmt.Errorf("GET %s: status %d", path, r.status)
					}
					if r.err != nil {
						fail(r.err, "")
						return
					}
					if r.xCache == "hit" {
						hits.Add(1)
					}
					if v, ok := cxVersion(r.body); !ok || v < floor {
						fail(nil, fmt.Sprintf("GET %s [%s] answered %q (%s) after v%d was acknowledged", path, lang, r.body, r.cacheStat, floor))
					}
					continue
				}
				v, err := strconv.ParseInt(written, 10, 64)
				if err != nil {
					fail(fmt.Errorf("a write answered %q", written), "")
					return
				}
				writes.Add(1)
				ack(u, v)
			}
		}()
	}
	wg.Wait()
	res.requests, res.hits, res.writes = requests.Load(), hits.Load(), writes.Load()
	return res
}

// cxRaceEnabled reports whether the test binary was built with -race.
func cxRaceEnabled() bool {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "-race" {
				return s.Value == "true"
			}
		}
	}
	return false
}

// TestCorrectness_StaleStress: readers, and writers acknowledged through
// each way there is, on 4 URLs through a real listener; a GET sent after a
// write was acknowledged must answer that write's version or a newer one.
// On the in-process store it makes 100,000 requests (under -race as well:
// about 20 s on 2 busy CPUs; it gives up, failing, after 45 s), on the
// others a second's worth; "slow storage" delays
// every storage call by up to 200 µs, to widen the race windows.
func TestCorrectness_StaleStress(t *testing.T) {
	stores := append(cxStores(t), cxStore{"slow storage", func(*testing.T) []cache.Option {
		return []cache.Option{cache.WithStorage(cxSlowStorage(200 * time.Microsecond))}
	}})
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			d, n := time.Second, int64(20_000)
			if st.name == "memory" {
				d, n = 45*time.Second, 100_000
			}
			if testing.Short() {
				d = d / 4
			}
			start := time.Now()
			res := cxStress(t, st.opts(t), d, n)
			t.Logf("%d requests (%d hits, %d acknowledged writes) in %v, race detector %v",
				res.requests, res.hits, res.writes, time.Since(start).Round(time.Millisecond), cxRaceEnabled())
			require.Empty(t, res.errs)
			require.Empty(t, res.stale, "stale answers after an acknowledged write")
			require.Positive(t, res.writes)
			require.Greater(t, res.hits, res.requests/4, "the cache answers a good share: the test is not vacuous")
			if st.name == "memory" && !testing.Short() {
				require.GreaterOrEqual(t, res.requests, n, "the in-process run makes %d requests within %v", n, d)
			}
		})
	}
}

// --- 8.2: outer middleware and the body -----------------------------------------

// TestCorrectness_OuterMiddlewareBody: a middleware in front of the cache
// that appends to the body gets page+footer on hits as on the miss; one that
// edits the body in place changes only the response it edits, never what
// the cache hands the next client.
func TestCorrectness_OuterMiddlewareBody(t *testing.T) {
	for _, st := range cxStores(t) {
		t.Run(st.name, func(t *testing.T) {
			m := cxCache(t, st.opts(t)...)
			app := cxApp()
			app.Use(func(c *fiber.Ctx) error {
				err := c.Next()
				switch c.Path() {
				case "/append":
					c.WriteString("<!--footer-->")
				case "/edit": // shift every byte by one, in place: not idempotent
					b := c.Response().Body()
					for i := range b {
						b[i]++
					}
				}
				return err
			})
			app.Use(m.Handler())
			var runs atomic.Int64
			app.Get("/*", func(c *fiber.Ctx) error {
				runs.Add(1)
				return c.SendString("page")
			})
			cl := newCxClient(cxListen(t, app))
			for i := range 4 {
				r := cl.must(t, fiber.MethodGet, "/append")
				require.Equal(t, "page<!--footer-->", r.body, "request %d (%s)", i, r.cacheStat)
				if i > 0 {
					require.Equal(t, "hit", r.xCache)
				}
			}
			for i := range 4 {
				r := cl.must(t, fiber.MethodGet, "/edit")
				require.Equal(t, "qbhf", r.body, "request %d (%s)", i, r.cacheStat)
				if i > 0 {
					require.Equal(t, "hit", r.xCache)
				}
			}
			require.EqualValues(t, 2, runs.Load())
		})
	}
}

// --- 8.3: header names in any case ------------------------------------------------

// cxHeaderFold returns the values of the request header name, matched in any
// case (the app disables header normalizing, so c.Get matches exactly).
func cxHeaderFold(c *fiber.Ctx, name string) string {
	var out []string
	c.Request().Header.VisitAll(func(k, v []byte) {
		if strings.EqualFold(string(k), name) {
			out = append(out, string(v))
		}
	})
	return strings.Join(out, ", ")
}

// TestCorrectness_LowerCaseHeaders: with DisableHeaderNormalizing, header
// names reach the cache as sent; it must read them in any case.
func TestCorrectness_LowerCaseHeaders(t *testing.T) {
	m := cxCache(t)
	app := cxApp(fiber.Config{DisableHeaderNormalizing: true})
	app.Use(m.Handler())
	var runs atomic.Int64
	app.Get("/account", func(c *fiber.Ctx) error {
		runs.Add(1)
		if auth := cxHeaderFold(c, "authorization"); auth != "" {
			return c.SendString("secret of " + auth)
		}
		return c.SendString("anonymous")
	})
	app.Get("/greeting", func(c *fiber.Ctx) error {
		runs.Add(1)
		c.Set("Vary", "Cookie")
		return c.SendString("hello " + cxHeaderFold(c, "cookie"))
	})
	app.Get("/private", func(c *fiber.Ctx) error {
		n := runs.Add(1)
		c.Set("cache-control", "private") // as the handler spells it: kept as is
		return c.SendString(fmt.Sprintf("for %s #%d", cxHeaderFold(c, "x-user"), n))
	})
	addr := cxListen(t, app)

	t.Run("authorization", func(t *testing.T) {
		_, body := cxRaw(t, addr, "GET /account HTTP/1.1\r\nHost: example.com\r\nauthorization: Bearer alice\r\n")
		require.Equal(t, "secret of Bearer alice", body)
		for range 2 {
			resp, body := cxRaw(t, addr, "GET /account HTTP/1.1\r\nHost: example.com\r\n")
			require.Equal(t, "anonymous", body, "an answer to authorization is served to an anonymous client (%s)", resp.Header.Get("Cache-Status"))
		}
	})
	t.Run("vary cookie", func(t *testing.T) {
		_, body := cxRaw(t, addr, "GET /greeting HTTP/1.1\r\nHost: example.com\r\ncookie: user=bob\r\n")
		require.Equal(t, "hello user=bob", body)
		resp, body := cxRaw(t, addr, "GET /greeting HTTP/1.1\r\nHost: example.com\r\ncookie: user=alice\r\n")
		require.Equal(t, "hello user=alice", body, "bob's page served to alice (%s)", resp.Header.Get("Cache-Status"))
		resp, body = cxRaw(t, addr, "GET /greeting HTTP/1.1\r\nHost: example.com\r\ncookie: user=bob\r\n")
		require.Equal(t, "hello user=bob", body)
		require.Equal(t, "hit", resp.Header.Get("X-Cache"), "each variant is stored")
	})
	t.Run("cache-control private", func(t *testing.T) {
		_, first := cxRaw(t, addr, "GET /private HTTP/1.1\r\nHost: example.com\r\nx-user: bob\r\n")
		require.True(t, strings.HasPrefix(first, "for bob #"), first)
		before := runs.Load()
		resp, body := cxRaw(t, addr, "GET /private HTTP/1.1\r\nHost: example.com\r\nx-user: alice\r\n")
		require.Equal(t, before+1, runs.Load(), "a private answer was stored (%s)", resp.Header.Get("Cache-Status"))
		require.True(t, strings.HasPrefix(body, "for alice #"), body)
	})
}

// --- 8.4: host poisoning ---------------------------------------------------------------

// TestCorrectness_HostPoisoning: with Fiber's defaults (every proxy trusted,
// so X-Forwarded-Host is the host the app sees), a request cannot plant a
// response that a plain request for the real host is then served.
func TestCorrectness_HostPoisoning(t *testing.T) {
	for _, st := range cxStores(t) {
		t.Run(st.name, func(t *testing.T) {
			m := cxCache(t, st.opts(t)...)
			app := cxApp()
			app.Use(m.Handler())
			var runs atomic.Int64
			app.Get("/xfh", func(c *fiber.Ctx) error { return c.SendString("xfh=" + c.Get("X-Forwarded-Host")) })
			app.Get("/*", func(c *fiber.Ctx) error {
				runs.Add(1)
				return c.SendString("host=" + c.Get("Host") + " url=" + c.OriginalURL())
			})
			addr := cxListen(t, app)
			plain := func(path string) (*http.Response, string) {
				return cxRaw(t, addr, "GET "+path+" HTTP/1.1\r\nHost: victim.com\r\n")
			}

			t.Run("X-Forwarded-Host", func(t *testing.T) {
				_, body := cxRaw(t, addr, "GET /p HTTP/1.1\r\nHost: evil.com\r\nX-Forwarded-Host: victim.com\r\n")
				require.Equal(t, "host=evil.com url=/p", body)
				resp, body := plain("/p")
				require.Equal(t, "host=victim.com url=/p", body, "a forged request's answer served to victim.com (%s)", resp.Header.Get("Cache-Status"))
				resp, body = plain("/p")
				require.Equal(t, "host=victim.com url=/p", body)
				require.Equal(t, "hit", resp.Header.Get("X-Cache"))
			})
			t.Run("X-Forwarded-Host lines", func(t *testing.T) {
				// Both requests have one host for c.Hostname() (the first
				// line up to a comma) and the same last line; c.Get reads
				// the first line whole.
				_, body := cxRaw(t, addr, "GET /xfh HTTP/1.1\r\nHost: victim.com\r\nX-Forwarded-Host: victim.com, y\r\nX-Forwarded-Host: victim.com, x\r\n")
				require.Equal(t, "xfh=victim.com, y", body)
				resp, body := cxRaw(t, addr, "GET /xfh HTTP/1.1\r\nHost: victim.com\r\nX-Forwarded-Host: victim.com, x\r\n")
				require.Equal(t, "xfh=victim.com, x", body, "the two-line request's answer served (%s)", resp.Header.Get("Cache-Status"))
			})
			t.Run("absolute form naming another host", func(t *testing.T) {
				abs, _ := cxRaw(t, addr, "GET http://victim.com/q HTTP/1.1\r\nHost: evil.com\r\n")
				before := runs.Load()
				resp, body := plain("/q")
				require.Equal(t, before+1, runs.Load(), "answered from the absolute-form request's response (%s)", resp.Header.Get("Cache-Status"))
				require.Equal(t, "host=victim.com url=/q", body)
				require.Contains(t, abs.Header.Get("Cache-Status"), "fwd=bypass", "the absolute-form request is not looked up nor stored")
			})
			t.Run("absolute form https", func(t *testing.T) {
				_, body := cxRaw(t, addr, "GET https://victim.com/s HTTP/1.1\r\nHost: victim.com\r\n")
				require.Equal(t, "host=victim.com url=https://victim.com/s", body)
				resp, body := plain("/s")
				require.Equal(t, "host=victim.com url=/s", body, "an absolute-form answer served to an origin-form request (%s)", resp.Header.Get("Cache-Status"))
				resp, body = cxRaw(t, addr, "GET https://victim.com/s HTTP/1.1\r\nHost: victim.com\r\n")
				require.Equal(t, "host=victim.com url=https://victim.com/s", body)
				require.Equal(t, "hit", resp.Header.Get("X-Cache"), "the absolute form has an entry of its own")
			})
		})
	}
}

// TestCorrectness_VaryLines: a request cannot plant, for a header the
// response varies on, the answer to a spelling that the handler reads
// otherwise: two lines are not the one line that joins them (c.Get reads
// the first line), and under DisableHeaderNormalizing a name in another
// case is not the name c.Get matches.
func TestCorrectness_VaryLines(t *testing.T) {
	lang := func(c *fiber.Ctx) error {
		c.Set("Vary", "Accept-Language")
		return c.SendString("lang=" + c.Get("Accept-Language"))
	}
	for _, st := range cxStores(t) {
		t.Run(st.name, func(t *testing.T) {
			app := cxApp()
			app.Use(cxCache(t, st.opts(t)...).Handler())
			app.Get("/p", lang)
			addr := cxListen(t, app)

			_, body := cxRaw(t, addr, "GET /p HTTP/1.1\r\nHost: example.com\r\nAccept-Language: de;q=0.1\r\nAccept-Language: fr\r\n")
			require.Equal(t, "lang=de;q=0.1", body)
			for _, want := range []string{"miss", "hit"} {
				resp, body := cxRaw(t, addr, "GET /p HTTP/1.1\r\nHost: example.com\r\nAccept-Language: de;q=0.1, fr\r\n")
				require.Equal(t, "lang=de;q=0.1, fr", body, "the two-line request's answer served to the one-line one (%s)", resp.Header.Get("Cache-Status"))
				require.Equal(t, want, resp.Header.Get("X-Cache"))
			}
		})
	}
	t.Run("name case, raw headers", func(t *testing.T) {
		app := cxApp(fiber.Config{DisableHeaderNormalizing: true})
		app.Use(cxCache(t).Handler())
		app.Get("/p", lang)
		addr := cxListen(t, app)

		_, body := cxRaw(t, addr, "GET /p HTTP/1.1\r\nHost: example.com\r\naccept-language: de\r\n")
		require.Equal(t, "lang=", body, "c.Get matches names byte for byte here")
		for _, want := range []string{"miss", "hit"} {
			resp, body := cxRaw(t, addr, "GET /p HTTP/1.1\r\nHost: example.com\r\nAccept-Language: de\r\n")
			require.Equal(t, "lang=de", body, "the lower-case request's answer served to Accept-Language: de (%s)", resp.Header.Get("Cache-Status"))
			require.Equal(t, want, resp.Header.Get("X-Cache"))
		}
	})
}

// --- 8.7: resource abuse ------------------------------------------------------------------

// cxServe runs one request, with the headers hdr ("Name: value"), through
// app's handler, without a network: fast enough for the abuse tests'
// hundred thousand requests.
func cxServe(h fasthttp.RequestHandler, method, uri string, hdr ...string) (status int, body, xCache, cacheStatus string) {
	var ctx fasthttp.RequestCtx
	ctx.Request.Header.SetMethod(method)
	ctx.Request.SetRequestURI(uri)
	ctx.Request.Header.SetHost("example.com")
	for _, kv := range hdr {
		k, v, _ := strings.Cut(kv, ":")
		ctx.Request.Header.Set(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	h(&ctx)
	return ctx.Response.StatusCode(), string(ctx.Response.Body()),
		string(ctx.Response.Header.Peek(cache.DefaultCacheHeader)), string(ctx.Response.Header.Peek("Cache-Status"))
}

// TestAbuse_WritesDoNotEvict: writes to URLs that were never cached (100,000
// POSTs, each to a URL of its own) leave nothing in the in-process store:
// 2,000 hot entries in a store just big enough for them all stay hits.
func TestAbuse_WritesDoNotEvict(t *testing.T) {
	const hot = 2000
	posts := 100_000
	if testing.Short() {
		posts = 20_000
	}
	newApp := func(opts ...cache.Option) (*cache.Cache, fasthttp.RequestHandler, *atomic.Int64) {
		m := cxCache(t, opts...)
		app := cxApp()
		app.Use(m.Handler())
		var runs atomic.Int64
		app.Get("/hot/:n", func(c *fiber.Ctx) error {
			runs.Add(1)
			return c.SendString("hot page " + c.Params("n"))
		})
		app.Post("/*", func(c *fiber.Ctx) error { return c.SendStatus(fiber.StatusNoContent) })
		return m, app.Handler(), &runs
	}
	warm := func(h fasthttp.RequestHandler) {
		for i := range hot {
			cxServe(h, fiber.MethodGet, "/hot/"+strconv.Itoa(i))
		}
	}
	// Weigh the hot set, then give the store 25% more.
	probe, h, _ := newApp()
	warm(h)
	size := probe.StoreBytes()
	require.Positive(t, size)

	m, h, runs := newApp(cache.WithMaxMemory(int(size + size/4)))
	warm(h)
	require.EqualValues(t, hot, runs.Load())
	allHit := func(when string) {
		t.Helper()
		missed := 0
		for i := range hot {
			if _, _, x, _ := cxServe(h, fiber.MethodGet, "/hot/"+strconv.Itoa(i)); x != "hit" {
				missed++
			}
		}
		require.Zero(t, missed, "hot entries lost %s", when)
	}
	allHit("before the writes")
	stored := m.StoreBytes()
	start := time.Now()
	for i := range posts {
		status, _, _, _ := cxServe(h, fiber.MethodPost, "/never/cached/"+strconv.Itoa(i))
		if status != fiber.StatusNoContent {
			t.Fatalf("POST %d: status %d", i, status)
		}
	}
	t.Logf("%d POSTs in %v", posts, time.Since(start).Round(time.Millisecond))
	allHit("after the writes")
	require.Equal(t, stored, m.StoreBytes(), "the writes added to the store")
	require.EqualValues(t, hot, runs.Load())
}

// TestAbuse_RedisWritesLeaveNoKeys: 10,000 POSTs to URLs that were never
// cached write nothing to Redis.
func TestAbuse_RedisWritesLeaveNoKeys(t *testing.T) {
	s, prefix := cxRedis(t)
	m := cxCache(t, cache.WithStorage(s), cache.WithKeyPrefix(prefix), cache.WithTTL(time.Minute))
	app := cxApp()
	app.Use(m.Handler())
	app.Get("/page", func(c *fiber.Ctx) error { return c.SendString("page") })
	app.Post("/*", func(c *fiber.Ctx) error { return c.SendStatus(fiber.StatusCreated) })
	h := app.Handler()
	_, _, x, _ := cxServe(h, fiber.MethodGet, "/page")
	require.Equal(t, "miss", x)
	keys := func() []string {
		out, err := s.Conn().Keys(t.Context(), prefix+"*").Result()
		require.NoError(t, err)
		return out
	}
	before := keys()
	require.NotEmpty(t, before)
	var wg sync.WaitGroup
	var bad atomic.Int64
	const posts, workers = 10_000, 8
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < posts; i += workers {
				if status, _, _, _ := cxServe(h, fiber.MethodPost, "/never/cached/"+strconv.Itoa(i)); status != fiber.StatusCreated {
					bad.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	require.Zero(t, bad.Load())
	require.ElementsMatch(t, before, keys(), "the writes left keys in Redis")
}

// TestAbuse_HugeResponsesRefused: a Vary of 100,000 names and 20,000
// response headers are refused quickly, and not stored.
func TestAbuse_HugeResponsesRefused(t *testing.T) {
	var vary strings.Builder
	for i := range 100_000 {
		if i > 0 {
			vary.WriteString(", ")
		}
		fmt.Fprintf(&vary, "X-H%d", i)
	}
	for _, st := range cxStores(t) {
		t.Run(st.name, func(t *testing.T) {
			m := cxCache(t, st.opts(t)...)
			app := cxApp()
			app.Use(m.Handler())
			var runs atomic.Int64
			app.Get("/vary", func(c *fiber.Ctx) error {
				runs.Add(1)
				c.Set(fiber.HeaderVary, vary.String())
				return c.SendString("vary")
			})
			app.Get("/headers", func(c *fiber.Ctx) error {
				runs.Add(1)
				for i := range 20_000 {
					c.Response().Header.Add("X-H"+strconv.Itoa(i), "v")
				}
				return c.SendString("headers")
			})
			h := app.Handler()
			for _, path := range []string{"/vary", "/headers"} {
				for i := range 2 {
					before := runs.Load()
					start := time.Now()
					status, body, x, cs := cxServe(h, fiber.MethodGet, path)
					took := time.Since(start)
					require.Equal(t, fiber.StatusOK, status)
					require.Equal(t, path[1:], body)
					require.Equal(t, before+1, runs.Load(), "%s was stored (%s)", path, cs)
					require.NotEqual(t, "hit", x)
					require.Less(t, took, 2*time.Second, "%s request %d", path, i)
				}
			}
		})
	}
}

// cxRawStore reaches the values a cache keeps in its storage.
type cxRawStore struct {
	name string
	opts []cache.Option
	keys func() []string
	get  func(key string) []byte
	set  func(key string, val []byte)
}

func cxRawStores(t *testing.T) []cxRawStore {
	ms := testkit.NewStorage()
	rs, prefix := cxRedis(t)
	return []cxRawStore{
		{
			name: "storage", opts: []cache.Option{cache.WithStorage(ms), cache.WithStorageTimeout(cxTimeout)},
			keys: ms.Keys,
			get:  func(key string) []byte { v, _ := ms.Get(key); return v },
			set:  func(key string, val []byte) { require.NoError(t, ms.Set(key, val, 0)) },
		},
		{
			// A deadline long enough to read a huge value: a deadline
			// missed is a failure, tested elsewhere.
			name: "redis", opts: []cache.Option{cache.WithStorage(rs), cache.WithKeyPrefix(prefix), cache.WithTTL(time.Minute), cache.WithStorageTimeout(cxTimeout)},
			keys: func() []string {
				out, err := rs.Conn().Keys(t.Context(), prefix+"*").Result() // one call: the test Redis may hold many keys
				require.NoError(t, err)
				return out
			},
			get: func(key string) []byte { v, _ := rs.Get(key); return v },
			set: func(key string, val []byte) { require.NoError(t, rs.Set(key, val, time.Minute)) },
		},
	}
}

// cxEntryKey returns the storage key of the one stored response (the one
// value that decodes as an entry).
func cxEntryKey(t *testing.T, st cxRawStore) string {
	t.Helper()
	var found []string
	for _, k := range st.keys() {
		if _, err := entry.Decode(st.get(k)); err == nil {
			found = append(found, k)
		}
	}
	require.Len(t, found, 1, "one stored response")
	return found[0]
}

// TestAbuse_GarbageEntries puts values no cache writes in the storage, in
// place of a stored response: a header with CR or LF, a 1xx status, sizes
// that do not match, lengths claiming gigabytes, a huge value. Each is a
// miss (the handler runs, nothing of the garbage is sent), decoded in
// bounded time and memory, and the response is stored again.
func TestAbuse_GarbageEntries(t *testing.T) {
	mutate := func(f func(e *entry.Entry)) func(b []byte) []byte {
		return func(b []byte) []byte {
			e, err := entry.Decode(b)
			if err != nil {
				panic(err)
			}
			f(e)
			return entry.Encode(e)
		}
	}
	garbage := []struct {
		name string
		make func(valid []byte) []byte
	}{
		{"CR LF in a header value", mutate(func(e *entry.Entry) {
			e.Headers = append(e.Headers, entry.Header{Key: []byte("X-Evil"), Value: []byte("a\r\nX-Injected: 1")})
		})},
		{"LF in a header name", mutate(func(e *entry.Entry) {
			e.Headers = append(e.Headers, entry.Header{Key: []byte("X-Injected: 1\nX-Evil"), Value: []byte("a")})
		})},
		{"NUL in a header value", mutate(func(e *entry.Entry) {
			e.Headers = append(e.Headers, entry.Header{Key: []byte("X-Evil"), Value: []byte("a\x00X-Injected: 1")})
		})},
		{"1xx status", mutate(func(e *entry.Entry) { e.Status = 101 })},
		{"status 0", mutate(func(e *entry.Entry) { e.Status = 0 })},
		{"truncated", func(b []byte) []byte { return b[:len(b)-1] }},
		{"trailing bytes", func(b []byte) []byte { return append(b, 'x') }},
		{"body shorter than its length", func(b []byte) []byte { // the body "page" is last: its length byte 4 says 5
			b[len(b)-5]++
			return b
		}},
		{"body longer than its length", func(b []byte) []byte {
			b[len(b)-5]--
			return b
		}},
		{"key length of 2^62", func(b []byte) []byte { // flags, then the key's length
			return append(append(append([]byte(nil), b[:5]...), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x3f), b[6:]...)
		}},
		{"a huge value", func(b []byte) []byte {
			return append(b[:len(b):len(b)], make([]byte, 16<<20)...)
		}},
		{"not an entry", func([]byte) []byte { return []byte("not an entry") }},
	}
	for _, st := range cxRawStores(t) {
		t.Run(st.name, func(t *testing.T) {
			m := cxCache(t, st.opts...)
			app := cxApp()
			app.Use(m.Handler())
			var runs atomic.Int64
			app.Get("/g", func(c *fiber.Ctx) error {
				runs.Add(1)
				c.Set("X-Safe", "1")
				return c.SendString("page")
			})
			addr := cxListen(t, app)
			get := func() (*http.Response, string) {
				return cxRaw(t, addr, "GET /g HTTP/1.1\r\nHost: example.com\r\n")
			}
			get()
			resp, _ := get()
			require.Equal(t, "hit", resp.Header.Get("X-Cache"))
			for _, g := range garbage {
				t.Run(g.name, func(t *testing.T) {
					key := cxEntryKey(t, st)
					valid := st.get(key)
					bad := g.make(append([]byte(nil), valid...))
					st.set(key, bad)
					// The time bounds catch work that grows faster than the
					// value (a 16 MiB value read quadratically would take
					// hours); they are generous, so that a loaded machine
					// running -race does not trip them.
					before := runs.Load()
					start := time.Now()
					resp, body := get()
					require.Less(t, time.Since(start), 5*time.Second)
					require.Equal(t, fiber.StatusOK, resp.StatusCode)
					require.Equal(t, "page", body)
					require.Equal(t, before+1, runs.Load(), "the garbage answered (%s)", resp.Header.Get("Cache-Status"))
					require.Empty(t, resp.Header.Get("X-Injected"))
					require.Empty(t, resp.Header.Get("X-Evil"))

					var ms0, ms1 runtime.MemStats
					runtime.ReadMemStats(&ms0)
					start = time.Now()
					_, err := entry.Decode(bad)
					took := time.Since(start)
					runtime.ReadMemStats(&ms1)
					require.Error(t, err, "the garbage decodes")
					require.Less(t, took, 5*time.Second, "decoding took %v", took)
					require.Less(t, ms1.TotalAlloc-ms0.TotalAlloc, uint64(2*len(bad)+1<<20), "decoding allocated too much")

					resp, body = get()
					require.Equal(t, "page", body)
					require.Equal(t, "hit", resp.Header.Get("X-Cache"), "stored again (%s)", resp.Header.Get("Cache-Status"))
				})
			}
		})
	}
}
