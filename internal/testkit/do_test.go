package testkit

import (
	"sync"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
)

func TestDo(t *testing.T) {
	app := fiber.New()
	app.Get("/echo", func(c *fiber.Ctx) error {
		c.Set("X-Seen", c.Get("X-A")+"|"+c.Get("Accept-Language"))
		return c.Status(fiber.StatusAccepted).SendString("body")
	})
	r := Do(t, app, fiber.MethodGet, "/echo", "X-A:  spaced ", "Accept-Language: en")
	if r.Status != fiber.StatusAccepted || r.Body != "body" || r.Header.Get("X-Seen") != "spaced|en" {
		t.Fatalf("Do = %+v", r)
	}
	if _, err := send(app, fiber.MethodGet, "/echo", []string{"X-A"}); err == nil {
		t.Fatal("a header without a colon was sent")
	}
}

func TestBurst(t *testing.T) {
	var k Counter
	started := make(chan struct{})
	others := make(chan struct{}, 3)
	var once sync.Once
	app := fiber.New()
	app.Get("/x", func(c *fiber.Ctx) error {
		first := false
		once.Do(func() { first = true })
		if first {
			// The others are sent only now, and answer before this one.
			close(started)
			for range 3 {
				select {
				case <-others:
				case <-time.After(5 * time.Second):
					return c.SendStatus(fiber.StatusGatewayTimeout)
				}
			}
		} else {
			defer func() { others <- struct{}{} }()
		}
		return k.Handler(c.Get("X-N"))(c)
	})
	rs := Burst(t, app, 4, started, "/x", "X-N: n")
	if len(rs) != 4 || rs[0].Status != fiber.StatusOK || rs[0].Body != "n#4" {
		t.Fatalf("Burst = %+v, want the first answered 200 after the others", rs)
	}
	for _, r := range rs[1:] {
		if r.Status != fiber.StatusOK || r.Body == "n#4" {
			t.Fatalf("Burst = %+v", rs)
		}
	}
}

func TestCounter(t *testing.T) {
	var k Counter
	app := fiber.New()
	app.Get("/a", k.Handler("a", Header("X-H", "1"), Header("X-H", "2")))
	app.Get("/gone", k.Handler("g", Status(fiber.StatusGone)))
	if !k.Ran(t, app, "/a") {
		t.Fatal("Ran = false for a request that ran the handler")
	}
	r := Do(t, app, fiber.MethodGet, "/a")
	if r.Body != "a#2" || r.Status != fiber.StatusOK {
		t.Fatalf("the second run answered %+v", r)
	}
	if got := r.Header.Values("X-H"); len(got) != 2 || got[0] != "1" || got[1] != "2" {
		t.Fatalf("X-H = %q, want both values added", got)
	}
	if r := Do(t, app, fiber.MethodGet, "/gone"); r.Status != fiber.StatusGone || r.Body != "g#3" {
		t.Fatalf("Status setup: %+v", r)
	}
	if k.Runs() != 3 {
		t.Fatalf("Runs() = %d, want 3", k.Runs())
	}
}
