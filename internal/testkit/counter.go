package testkit

import (
	"strconv"
	"sync"
	"testing"

	"github.com/gofiber/fiber/v2"
)

// Counter counts the runs of the handlers it makes. Its zero value is
// ready to use; its methods are safe for concurrent use.
type Counter struct {
	mu sync.Mutex
	n  int
}

// Runs returns the number of runs so far, of all of k's handlers.
func (k *Counter) Runs() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.n
}

// Handler returns a handler that counts its run, lets each setup shape the
// response, and answers status 200 (unless a setup set another) with body,
// "#" and the run's number, as in "x#3".
func (k *Counter) Handler(body string, setup ...func(c *fiber.Ctx)) fiber.Handler {
	return func(c *fiber.Ctx) error {
		k.mu.Lock()
		k.n++
		n := k.n
		k.mu.Unlock()
		for _, f := range setup {
			f(c)
		}
		if c.Response().StatusCode() == 0 {
			c.Status(fiber.StatusOK)
		}
		return c.SendString(body + "#" + strconv.Itoa(n))
	}
}

// Ran sends a GET of target through app, requires a 200, and reports
// whether it ran one of k's handlers.
func (k *Counter) Ran(t testing.TB, app *fiber.App, target string, headers ...string) bool {
	t.Helper()
	before := k.Runs()
	r := Do(t, app, fiber.MethodGet, target, headers...)
	if r.Status != fiber.StatusOK {
		t.Fatalf("GET %s: status %d, want 200: %s", target, r.Status, r.Body)
	}
	return k.Runs() > before
}

// Header is a Handler setup that adds the response header k: v.
func Header(k, v string) func(c *fiber.Ctx) {
	return func(c *fiber.Ctx) { c.Response().Header.Add(k, v) }
}

// Status is a Handler setup that sets the response status.
func Status(code int) func(c *fiber.Ctx) {
	return func(c *fiber.Ctx) { c.Status(code) }
}
