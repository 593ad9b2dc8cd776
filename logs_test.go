package cache

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fiber-caches/cache/internal/testkit"
	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/requestid"
	"github.com/stretchr/testify/assert"
)

// syncBuffer is a bytes.Buffer safe for a logger's concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Logs carry values as attributes, the request id that Fiber's requestid
// middleware set, and an invalidation says what it dropped.
func TestLogsAreStructured(t *testing.T) {
	var buf syncBuffer
	logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	app := fiber.New()
	app.Use(requestid.New(requestid.Config{Generator: func() string { return "req-42" }}))
	app.Use(New(WithTTL(time.Minute), WithLogger(logger)))
	app.Get("/users/:id", func(c *fiber.Ctx) error { return c.SendString("u") })
	app.Put("/users/:id", func(c *fiber.Ctx) error { return c.SendStatus(fiber.StatusNoContent) })
	testkit.Do(t, app, "GET", "/users/7")
	testkit.Do(t, app, "GET", "/users/7")
	testkit.Do(t, app, "PUT", "/users/7")
	out := buf.String()
	for _, want := range []string{
		`"msg":"cache_lookup MISS"`, `"msg":"store_in_cache"`, `"max_age":60`, `"msg":"cache_lookup HIT"`,
		`"request_id":"req-42"`, `"msg":"invalidate"`, `"dropped":"example.com/users/7"`,
	} {
		assert.Contains(t, out, want)
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		assert.NotContains(t, line, `max_age=`, "no value baked into a message")
	}
}
