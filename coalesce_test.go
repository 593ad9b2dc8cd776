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

// slowHandler counts runs, signals its first start, and waits a little so
// that followers arrive while it runs.
func slowHandler(k *counter, started chan struct{}, setup ...func(c *fiber.Ctx)) fiber.Handler {
	var once sync.Once
	return func(c *fiber.Ctx) error {
		once.Do(func() { close(started) })
		time.Sleep(100 * time.Millisecond)
		return k.handler("x", setup...)(c)
	}
}

func TestCoalescingRunsTheHandlerOnce(t *testing.T) {
	var k counter
	started := make(chan struct{})
	app := fiber.New()
	app.Use(New())
	app.Get("/x", slowHandler(&k, started))
	bodies := burst(t, app, 20, started, "/x")
	assert.Equal(t, 1, k.runs())
	for _, b := range bodies {
		assert.Equal(t, "x#1", b)
	}
}

func TestCoalescingUncacheableLetsFollowersRun(t *testing.T) {
	var k counter
	started := make(chan struct{})
	app := fiber.New()
	app.Use(New())
	app.Get("/x", slowHandler(&k, started, header("Cache-Control", "no-store")))
	burst(t, app, 5, started, "/x")
	assert.Equal(t, 5, k.runs())
}

func TestCoalescingRespectsVary(t *testing.T) {
	var k counter
	started := make(chan struct{})
	app := fiber.New()
	app.Use(New())
	app.Get("/x", slowHandler(&k, started, header("Vary", "Accept-Language")))
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
