package cache

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/fiber-caches/cache/internal/redistest"
	"github.com/fiber-caches/cache/internal/testkit"
	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/storage/redis/v3"
	"github.com/stretchr/testify/require"
)

// TestRedisScriptsReloaded: Redis forgets its scripts when it restarts, or
// when a new node joins a cluster; the cache loads them again rather than
// failing every store and invalidation. A Redis of its own, since
// SCRIPT FLUSH is server-wide.
func TestRedisScriptsReloaded(t *testing.T) {
	srv, err := redistest.Start()
	require.NoError(t, err)
	t.Cleanup(srv.Stop)
	s := redis.New(redis.Config{Host: "127.0.0.1", Port: srv.Port()})
	t.Cleanup(func() { _ = s.Close() })
	m := redisCache(t, WithStorage(s), WithTTL(time.Minute))
	app := fiber.New()
	app.Use(m.Handler())
	var k testkit.Counter
	app.Get("/x", k.Handler("x"))
	app.Post("/x", func(c *fiber.Ctx) error { return c.SendStatus(http.StatusNoContent) })
	flush := func() { require.NoError(t, s.Conn().ScriptFlush(context.Background()).Err()) }

	flush()
	require.Equal(t, "miss", testkit.Do(t, app, "GET", "/x").Header.Get("X-Cache"))
	require.Equal(t, "hit", testkit.Do(t, app, "GET", "/x").Header.Get("X-Cache"), "stored although Redis did not know the store script")

	flush()
	require.Equal(t, http.StatusNoContent, testkit.Do(t, app, "POST", "/x").Status)
	require.Equal(t, "x#2", testkit.Do(t, app, "GET", "/x").Body, "invalidated although Redis did not know the invalidation script")
	require.Equal(t, "hit", testkit.Do(t, app, "GET", "/x").Header.Get("X-Cache"))
	require.Equal(t, 2, k.Runs())
}
