package cache

import (
	"sync"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/stretchr/testify/assert"
)

// burst sends n concurrent GETs for target once the handler has started,
// and returns the bodies.
func burst(t *testing.T, app *fiber.App, n int, started <-chan struct{}, target string, headers ...string) []string {
	t.Helper()
	bodies := make([]string, n)
	var wg sync.WaitGroup
	first := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		close(first)
		bodies[0] = do(t, app, "GET", target, headers...).body
	}()
	<-first
	<-started
	for i := 1; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			bodies[i] = do(t, app, "GET", target, headers...).body
		}(i)
	}
	wg.Wait()
	return bodies
}

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
func slowHandler(k *counter, started chan struct{}, j *joins, followers int, setup ...func(c *fiber.Ctx)) fiber.Handler {
	var once sync.Once
	return func(c *fiber.Ctx) error {
		once.Do(func() {
			close(started)
			j.await(followers)
		})
		return k.handler("x", setup...)(c)
	}
}

func TestCoalescingRunsTheHandlerOnce(t *testing.T) {
	var k counter
	started := make(chan struct{})
	j := newJoins()
	app := fiber.New()
	app.Use(New(WithObserver(j)))
	app.Get("/x", slowHandler(&k, started, j, 19))
	bodies := burst(t, app, 20, started, "/x")
	assert.Equal(t, 1, k.runs())
	for _, b := range bodies {
		assert.Equal(t, "x#1", b)
	}
}

func TestCoalescingUncacheableLetsFollowersRun(t *testing.T) {
	var k counter
	started := make(chan struct{})
	j := newJoins()
	app := fiber.New()
	app.Use(New(WithObserver(j)))
	app.Get("/x", slowHandler(&k, started, j, 4, header("Cache-Control", "no-store")))
	burst(t, app, 5, started, "/x")
	assert.Equal(t, 5, k.runs())
}

func TestCoalescingRespectsVary(t *testing.T) {
	var k counter
	started := make(chan struct{})
	j := newJoins()
	app := fiber.New()
	app.Use(New(WithObserver(j)))
	app.Get("/x", slowHandler(&k, started, j, 1, header("Vary", "Accept-Language")))
	var wg sync.WaitGroup
	var en, fr string
	wg.Add(1)
	go func() { defer wg.Done(); en = do(t, app, "GET", "/x", "Accept-Language: en").body }()
	<-started
	wg.Add(1)
	go func() { defer wg.Done(); fr = do(t, app, "GET", "/x", "Accept-Language: fr").body }()
	wg.Wait()
	assert.Equal(t, 2, k.runs(), "a follower with another Accept-Language is not served the leader's variant")
	assert.NotEqual(t, en, fr)
}
