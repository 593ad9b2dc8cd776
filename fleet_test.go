package cache_test

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/recover"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fiber-caches/cache"
	"github.com/fiber-caches/cache/internal/core/redistest"
	"github.com/fiber-caches/cache/internal/testkit"
)

// The fleet: instances of one service, each with its own cache, Redis
// client and app behind a real listener, sharing one Redis. They count
// their handler runs together, as a test sees them.

// waits counts the requests of every instance that waited for another's
// handler run (EventCoalesced), and lets a test wait for a number of them.
type waits struct {
	mu sync.Mutex
	n  int
	ch chan struct{} // closed and replaced on every wait
}

func newWaits() *waits { return &waits{ch: make(chan struct{})} }

func (w *waits) Observe(ev cache.Event, _ cache.Reason) {
	if ev != cache.EventCoalesced {
		return
	}
	w.mu.Lock()
	w.n++
	close(w.ch)
	w.ch = make(chan struct{})
	w.mu.Unlock()
}

func (w *waits) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.n
}

// await waits until n requests waited, at most d; it reports whether they
// did.
func (w *waits) await(n int, d time.Duration) bool {
	deadline := time.After(d)
	for {
		w.mu.Lock()
		done, ch := w.n >= n, w.ch
		w.mu.Unlock()
		if done {
			return true
		}
		select {
		case <-ch:
		case <-deadline:
			return false
		}
	}
}

// fleetNode is one instance.
type fleetNode struct {
	cache *cache.Cache
	store *testkit.RedisStorage
	base  string // http://127.0.0.1:port
}

// newFleet starts n instances on one Redis and one key prefix, each
// serving GET /* with h behind recover and the cache (opts added to its
// options), observed by obs.
func newFleet(t *testing.T, n int, obs cache.Observer, h fiber.Handler, opts ...cache.Option) []*fleetNode {
	t.Helper()
	prefix := redistest.Prefix(t)
	nodes := make([]*fleetNode, n)
	for i := range nodes {
		s := testkit.Redis(t)
		c := cache.NewCache(append([]cache.Option{cache.WithStorage(s), cache.WithKeyPrefix(prefix), cache.WithTTL(time.Minute),
			cache.WithStorageTimeout(testkit.StorageTimeout), cache.WithObserver(obs)}, opts...)...)
		app := fiber.New(fiber.Config{DisableStartupMessage: true})
		app.Use(recover.New())
		app.Use(c.Handler())
		app.Get("/*", h)
		ln, err := net.Listen("tcp4", "127.0.0.1:0")
		require.NoError(t, err)
		done := make(chan struct{})
		go func() { _ = app.Listener(ln); close(done) }()
		t.Cleanup(func() {
			_ = app.ShutdownWithTimeout(5 * time.Second)
			<-done
			_ = c.Close()
		})
		nodes[i] = &fleetNode{cache: c, store: s, base: "http://" + ln.Addr().String()}
	}
	return nodes
}

// fleetClient is an HTTP client with room for every concurrent request of
// a test, bounded in time.
var fleetClient = &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64, MaxConnsPerHost: 0}}

// fleetResult is what one client got.
type fleetResult struct {
	status      int
	body        string
	xcache      string
	cacheStatus string // Cache-Status
	err         error
}

// fleetGet sends a GET of url with the Host header of the service
// (example.com), as a load balancer in front of the instances does.
func fleetGet(url string) fleetResult {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return fleetResult{err: err}
	}
	req.Host = "example.com"
	resp, err := fleetClient.Do(req)
	if err != nil {
		return fleetResult{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return fleetResult{status: resp.StatusCode, body: string(b), xcache: resp.Header.Get("X-Cache"), cacheStatus: resp.Header.Get("Cache-Status"), err: err}
}

// fleetBurst sends GET path to nodes[first] alone, waits until started is
// closed (its handler runs), then sends the other n-1 at once, request i
// to nodes[to(i)]; once they are answered it calls followed (if not nil),
// and returns what each request got, in order, once the first is
// answered too.
func fleetBurst(t *testing.T, nodes []*fleetNode, n int, started <-chan struct{}, path string, first int, to func(i int) int, followed func()) []fleetResult {
	t.Helper()
	out := make([]fleetResult, n)
	leader := make(chan struct{})
	go func() {
		defer close(leader)
		out[0] = fleetGet(nodes[first].base + path)
	}()
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("the first request's handler never started")
	}
	var wg sync.WaitGroup
	for i := 1; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = fleetGet(nodes[to(i)].base + path)
		}()
	}
	wg.Wait()
	if followed != nil {
		followed()
	}
	<-leader
	return out
}

// TestFleet_OneHandlerRun: 40 concurrent requests for one cold URL, spread
// over two and over three instances sharing Redis, run the handler once
// between them, and every client gets its body.
func TestFleet_OneHandlerRun(t *testing.T) {
	for _, tc := range []struct {
		n    int
		opts []cache.Option
		name string
	}{
		{2, nil, "2 instances"},
		{3, nil, "3 instances"},
		// The lease goes to Redis under a near tier too.
		{3, []cache.Option{cache.WithNearCache(1 << 20)}, "3 instances with near caches"},
	} {
		n := tc.n
		t.Run(tc.name, func(t *testing.T) {
			const requests = 40
			w := newWaits()
			var runs atomic.Int64
			started := make(chan struct{})
			var once sync.Once
			nodes := newFleet(t, n, w, func(c *fiber.Ctx) error {
				run := runs.Add(1)
				once.Do(func() {
					close(started)
					w.await(requests-1, 5*time.Second) // every other request waits for this run
				})
				return c.SendString(fmt.Sprintf("body#%d", run))
			}, tc.opts...)
			rs := fleetBurst(t, nodes, requests, started, "/cold", 0, func(i int) int { return i % n }, nil)
			require.EqualValues(t, 1, runs.Load(), "handler runs for %d requests over %d instances", requests, n)
			for i, r := range rs {
				require.NoError(t, r.err, "request %d", i)
				assert.Equal(t, fiber.StatusOK, r.status, "request %d", i)
				assert.Equal(t, "body#1", r.body, "request %d (instance %d)", i, i%n)
			}
			assert.Equal(t, requests-1, w.count(), "every request but the leader waited for its run")
		})
	}
}

// TestFleet_LeaderFails: the leader's handler panics, returns an error, or
// its instance dies mid-flight (its Redis client closed: it can neither
// renew its lease nor release it). Exactly one more run happens, on
// whichever instance takes the lease first, and every follower gets its
// response: none gets the leader's failure, none waits for
// WithCoalesceWait (a follower that did would run the handler itself).
func TestFleet_LeaderFails(t *testing.T) {
	for _, how := range []string{"panic", "error", "closed"} {
		t.Run(how, func(t *testing.T) {
			const requests = 24
			w := newWaits()
			var runs atomic.Int64
			started, release := make(chan struct{}), make(chan struct{})
			var nodes []*fleetNode
			nodes = newFleet(t, 3, w, func(c *fiber.Ctx) error {
				run := runs.Add(1)
				if run == 1 {
					close(started)
					w.await(requests-1, 5*time.Second)
					switch how {
					case "panic":
						panic("the leader's handler panics")
					case "error":
						return errors.New("the leader's handler fails")
					case "closed":
						_ = nodes[0].store.Close() // the instance is gone
						select {
						case <-release:
						case <-time.After(10 * time.Second):
						}
						return c.SendString("too late")
					}
				}
				return c.SendString(fmt.Sprintf("body#%d", run))
			}, cache.WithCoalesceWait(3*time.Second)) // a lease lives 1.5 s
			// The leader's instance takes followers of its own, unless it
			// dies: a dead process's requests die with it.
			to := func(i int) int { return i % 3 }
			if how == "closed" {
				to = func(i int) int { return 1 + i%2 }
			}
			rs := fleetBurst(t, nodes, requests, started, "/fails", 0, to, func() { close(release) })
			require.EqualValues(t, 2, runs.Load(), "handler runs: the leader's, then exactly one more; responses:\n%s", fleetStatuses(rs, to))
			if how != "closed" {
				assert.Equal(t, fiber.StatusInternalServerError, rs[0].status, "the leader gets its own failure")
			}
			for i, r := range rs[1:] {
				require.NoError(t, r.err, "request %d", i+1)
				assert.Equal(t, fiber.StatusOK, r.status, "request %d", i+1)
				assert.Equal(t, "body#2", r.body, "request %d (instance %d)", i+1, to(i+1))
			}
		})
	}
}

// TestFleet_SteadyLoad: a steady load on a hot URL with a 1 s TTL for 4 s,
// spread over three instances sharing Redis, whose handler takes 30 ms.
// The handler runs about once per TTL for the whole fleet (early refresh,
// one instance refreshing through the lease), not once per instance per
// TTL, and no request waits for a handler run at an expiry: every one is
// a hit (Cache-Status; a request that waited for another's run says
// collapsed).
func TestFleet_SteadyLoad(t *testing.T) {
	const (
		ttl      = time.Second
		work     = 30 * time.Millisecond
		duration = 4 * time.Second
		clients  = 6
	)
	var runs atomic.Int64
	nodes := newFleet(t, 3, nil, func(c *fiber.Ctx) error {
		runs.Add(1)
		time.Sleep(work)
		return c.SendString("hot")
	}, cache.WithTTL(ttl))
	require.Equal(t, "miss", fleetGet(nodes[0].base+"/hot").xcache)
	before := runs.Load()
	var (
		wg       sync.WaitGroup
		requests atomic.Int64
		waited   atomic.Int64
		mu       sync.Mutex
		seen     = map[string]int{}
	)
	stop := time.Now().Add(duration)
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(stop) {
				r := fleetGet(nodes[i%len(nodes)].base + "/hot")
				requests.Add(1)
				if r.err != nil || r.status != fiber.StatusOK || !strings.HasPrefix(r.cacheStatus, "fibercache; hit") {
					waited.Add(1)
					mu.Lock()
					seen[fmt.Sprintf("%d %s %q %v", r.status, r.xcache, r.cacheStatus, r.err)]++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	got := runs.Load() - before
	cycles := int64(duration / ttl)
	t.Logf("%d requests in %v, %d handler runs (%d TTLs)", requests.Load(), duration, got, cycles)
	assert.Zero(t, waited.Load(), "requests that were not hits: %v", seen)
	assert.GreaterOrEqual(t, got, cycles/2, "the hot entry is refreshed about once per TTL")
	assert.LessOrEqual(t, got, cycles+2, "the handler runs about once per TTL for the fleet, not once per instance per TTL")
}

// TestFleet_NotStorableDoesNotQueue: once a response for a key could not
// be stored (here: private) on one instance, requests for it on another
// go straight to the handler, all at once, instead of queueing behind one
// another (the lease's not-storable marker).
func TestFleet_NotStorableDoesNotQueue(t *testing.T) {
	const burst = 8
	var (
		armed        atomic.Bool // the burst's requests wait for one another in the handler
		inside, most atomic.Int64
		all          = make(chan struct{})
		allOnce      sync.Once
	)
	nodes := newFleet(t, 2, nil, func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderCacheControl, "private")
		n := inside.Add(1)
		defer inside.Add(-1)
		for cur := most.Load(); n > cur && !most.CompareAndSwap(cur, n); cur = most.Load() {
		}
		if armed.Load() {
			if n == burst {
				allOnce.Do(func() { close(all) })
			}
			select { // every request of the burst in the handler at once, or 2 s
			case <-all:
			case <-time.After(2 * time.Second):
			}
		}
		return c.SendString("yours")
	})
	require.Equal(t, "yours", fleetGet(nodes[0].base+"/private").body, "instance A: not stored (private)")
	armed.Store(true)
	rs := make([]fleetResult, burst)
	var wg sync.WaitGroup
	for i := range burst {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rs[i] = fleetGet(nodes[1].base + "/private") // instance B
		}()
	}
	wg.Wait()
	assert.EqualValues(t, burst, most.Load(), "requests in the handler at once: none queued behind another")
	for _, r := range rs {
		assert.Equal(t, "yours", r.body)
	}
}

// fleetStatuses lists what each request got, for messages.
func fleetStatuses(rs []fleetResult, to func(i int) int) string {
	var b strings.Builder
	for i, r := range rs {
		node := 0
		if i > 0 {
			node = to(i)
		}
		fmt.Fprintf(&b, "%d (instance %d): %d %q %q\n", i, node, r.status, r.body, r.cacheStatus)
	}
	return b.String()
}
