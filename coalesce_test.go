package cache

import (
	"sync"
	"testing"
	"time"

	"github.com/fiber-caches/cache/internal/testkit"
	"github.com/gofiber/fiber/v2"
	"github.com/stretchr/testify/assert"
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
