package cache

import (
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fiber-caches/cache/internal/testkit"
	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/recover"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// joins counts the requests that waited for another's handler run.
type joins struct {
	mu sync.Mutex
	n  int
	ch chan struct{} // closed and replaced on every join
}

func newJoins() *joins { return &joins{ch: make(chan struct{})} }

func (j *joins) Observe(ev Event, _ Reason) {
	if ev != EventCoalesced {
		return
	}
	j.mu.Lock()
	j.n++
	close(j.ch)
	j.ch = make(chan struct{})
	j.mu.Unlock()
}

// await waits until n requests joined, at most 5 s.
func (j *joins) await(n int) {
	deadline := time.After(5 * time.Second)
	for {
		j.mu.Lock()
		done, ch := j.n >= n, j.ch
		j.mu.Unlock()
		if done {
			return
		}
		select {
		case <-ch:
		case <-deadline:
			return
		}
	}
}

// slowHandler counts runs, signals its first start, and on its first run
// waits until followers requests joined it (no sleeping: the cache's
// observer says when they did).
func slowHandler(k *testkit.Counter, started chan struct{}, j *joins, followers int, setup ...func(c *fiber.Ctx)) fiber.Handler {
	var once sync.Once
	return func(c *fiber.Ctx) error {
		once.Do(func() {
			close(started)
			j.await(followers)
		})
		return k.Handler("x", setup...)(c)
	}
}

func TestCoalescingRunsTheHandlerOnce(t *testing.T) {
	var k testkit.Counter
	started := make(chan struct{})
	j := newJoins()
	app := fiber.New()
	app.Use(New(WithObserver(j)))
	app.Get("/x", slowHandler(&k, started, j, 19))
	rs := testkit.Burst(t, app, 20, started, "/x")
	assert.Equal(t, 1, k.Runs())
	for _, r := range rs {
		assert.Equal(t, "x#1", r.Body)
	}
}

func TestCoalescingUncacheableLetsFollowersRun(t *testing.T) {
	var k testkit.Counter
	started := make(chan struct{})
	j := newJoins()
	app := fiber.New()
	app.Use(New(WithObserver(j)))
	app.Get("/x", slowHandler(&k, started, j, 4, testkit.Header("Cache-Control", "no-store")))
	testkit.Burst(t, app, 5, started, "/x")
	assert.Equal(t, 5, k.Runs())
}

func TestCoalescingRespectsVary(t *testing.T) {
	var k testkit.Counter
	started := make(chan struct{})
	j := newJoins()
	app := fiber.New()
	app.Use(New(WithObserver(j)))
	app.Get("/x", slowHandler(&k, started, j, 1, testkit.Header("Vary", "Accept-Language")))
	var wg sync.WaitGroup
	var en, fr string
	wg.Add(1)
	go func() { defer wg.Done(); en = testkit.Do(t, app, "GET", "/x", "Accept-Language: en").Body }()
	<-started
	wg.Add(1)
	go func() { defer wg.Done(); fr = testkit.Do(t, app, "GET", "/x", "Accept-Language: fr").Body }()
	wg.Wait()
	assert.Equal(t, 2, k.Runs(), "a follower with another Accept-Language is not served the leader's variant")
	assert.NotEqual(t, en, fr)
}

// TestCoalescingNotStorableDoesNotQueue (hit-for-miss): once a response
// for a key could not be stored (private), concurrent requests for it go
// straight to the handler, all at once, instead of waiting for a leader
// whose response none of them could be given. A later response that is
// stored ends that: identical misses wait for one run again.
func TestCoalescingNotStorableDoesNotQueue(t *testing.T) {
	const burst = 8
	var (
		private      atomic.Bool
		gate         atomic.Pointer[func()] // run once at the start of the next run
		armed        atomic.Bool            // the burst's requests wait for one another in the handler
		inside, most atomic.Int64
		all          = make(chan struct{})
		allOnce      sync.Once
		k            testkit.Counter
	)
	private.Store(true)
	j := newJoins()
	m := NewCache(WithObserver(j))
	t.Cleanup(func() { _ = m.Close() })
	app := fiber.New()
	app.Use(m.Handler())
	app.Get("/x", func(c *fiber.Ctx) error {
		if f := gate.Swap(nil); f != nil {
			(*f)()
		}
		if private.Load() {
			c.Set(fiber.HeaderCacheControl, "private")
		}
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
		return k.Handler("x")(c)
	})

	testkit.Do(t, app, fiber.MethodGet, "/x") // private: not stored
	armed.Store(true)
	var wg sync.WaitGroup
	for range burst {
		wg.Add(1)
		go func() { defer wg.Done(); testkit.Do(t, app, fiber.MethodGet, "/x") }()
	}
	wg.Wait()
	assert.EqualValues(t, burst, most.Load(), "requests in the handler at once: none queued behind another")
	j.mu.Lock()
	assert.Zero(t, j.n, "requests that waited for another's run")
	j.mu.Unlock()

	// A response that is stored forgets it.
	private.Store(false)
	armed.Store(false)
	require.Equal(t, "miss", testkit.Do(t, app, fiber.MethodGet, "/x").Header.Get(DefaultCacheHeader))
	require.NoError(t, m.InvalidateURL("http://example.com/x"))
	runs := k.Runs()
	started := make(chan struct{})
	wait := func() { close(started); j.await(4) }
	gate.Store(&wait)
	for _, r := range testkit.Burst(t, app, 5, started, "/x") {
		assert.Equal(t, "x#"+strconv.Itoa(runs+1), r.Body)
	}
	assert.Equal(t, runs+1, k.Runs(), "identical misses wait for one run again")
}

// TestCoalescingLeaderFails: when the leader's handler fails (an error, a
// panic), its followers do not each run the handler: one of them does,
// once, and the others are served its response.
func TestCoalescingLeaderFails(t *testing.T) {
	for _, how := range []string{"error", "panic"} {
		t.Run(how, func(t *testing.T) {
			var k testkit.Counter
			started := make(chan struct{})
			j := newJoins()
			app := fiber.New()
			app.Use(recover.New())
			app.Use(New(WithObserver(j)))
			var once sync.Once
			app.Get("/x", func(c *fiber.Ctx) error {
				failed := false
				once.Do(func() {
					close(started)
					j.await(9)
					failed = true
				})
				if failed {
					if how == "panic" {
						panic("the leader's handler panics")
					}
					return fiber.ErrServiceUnavailable
				}
				return k.Handler("x")(c)
			})
			rs := testkit.Burst(t, app, 10, started, "/x")
			assert.Equal(t, 1, k.Runs(), "runs after the leader's failure")
			want := fiber.StatusServiceUnavailable
			if how == "panic" {
				want = fiber.StatusInternalServerError // recover's
			}
			assert.Equal(t, want, rs[0].Status, "the leader gets its own failure")
			for i, r := range rs[1:] {
				assert.Equal(t, "x#1", r.Body, "follower %d", i+1)
			}
		})
	}
}
