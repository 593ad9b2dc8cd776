package cache

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/fiber-caches/cache/internal/redistest"
	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/storage/redis/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// redisStorage connects to the test Redis. Each test gets its own key
// prefix, so tests share one server without seeing each other.
func redisStorage(t *testing.T) (*redis.Storage, string) {
	t.Helper()
	s := redis.New(redis.Config{Addrs: []string{redistest.Addr(t)}})
	t.Cleanup(func() { s.Close() })
	return s, fmt.Sprintf("test-%s-%d:", t.Name(), time.Now().UnixNano())
}

func redisKeys(t *testing.T, s *redis.Storage, prefix string) []string {
	t.Helper()
	keys, err := s.Conn().Keys(context.Background(), prefix+"*").Result()
	require.NoError(t, err)
	return keys
}

func TestRedisMissThenHit(t *testing.T) {
	s, prefix := redisStorage(t)
	app := fiber.New()
	app.Use(New(WithStorage(s), WithKeyPrefix(prefix), WithTTL(time.Minute)))
	var k counter
	app.Get("/x", k.handler("x", header("Vary", "Accept-Language")))
	assert.Equal(t, "miss", do(t, app, "GET", "/x", "Accept-Language: en").header.Get("X-Cache"))
	r := do(t, app, "GET", "/x", "Accept-Language: en")
	assert.Equal(t, "hit", r.header.Get("X-Cache"))
	assert.Equal(t, "x#1", r.body)
	assert.Equal(t, "x#2", do(t, app, "GET", "/x", "Accept-Language: fr").body)
	assert.Equal(t, 2, k.runs())
	assert.Equal(t, "hit", do(t, app, "HEAD", "/x", "Accept-Language: fr").header.Get("X-Cache"))

	keys := redisKeys(t, s, prefix)
	require.NotEmpty(t, keys)
	for _, key := range keys {
		assert.True(t, strings.HasPrefix(key, prefix+"v1:"), key)
		ttl, err := s.Conn().TTL(context.Background(), key).Result()
		require.NoError(t, err)
		assert.Greater(t, ttl, time.Duration(0), "every key expires: %s", key)
		assert.LessOrEqual(t, ttl, time.Minute)
	}
}

func TestRedisSharedByTwoApps(t *testing.T) {
	s, prefix := redisStorage(t)
	var a, b counter
	appA, appB := fiber.New(), fiber.New()
	appA.Use(New(WithStorage(s), WithKeyPrefix(prefix)))
	appB.Use(New(WithStorage(s), WithKeyPrefix(prefix)))
	appA.Get("/x", a.handler("a"))
	appB.Get("/x", b.handler("b"))
	do(t, appA, "GET", "/x")
	r := do(t, appB, "GET", "/x")
	assert.Equal(t, "a#1", r.body, "B is served what A stored")
	assert.Equal(t, "hit", r.header.Get("X-Cache"))
	assert.Equal(t, 0, b.runs())
}

func TestRedisGarbageIsAMiss(t *testing.T) {
	s, prefix := redisStorage(t)
	app := fiber.New()
	app.Use(New(WithStorage(s), WithKeyPrefix(prefix)))
	var k counter
	app.Get("/x", k.handler("x"))
	do(t, app, "GET", "/x")
	for _, key := range redisKeys(t, s, prefix) {
		require.NoError(t, s.Set(key, []byte("not an entry"), 0))
	}
	r := do(t, app, "GET", "/x")
	assert.Equal(t, 200, r.status)
	assert.Equal(t, "x#2", r.body)
	assert.Equal(t, "hit", do(t, app, "GET", "/x").header.Get("X-Cache"))
}

func TestRedisDownServesTheHandler(t *testing.T) {
	srv, err := redistest.Start()
	require.NoError(t, err)
	defer srv.Stop()
	s := redis.New(redis.Config{Addrs: []string{srv.Addr}})
	defer s.Close()
	app := fiber.New()
	app.Use(New(WithStorage(s), WithTTL(time.Minute)))
	var k counter
	app.Get("/x", k.handler("x"))
	app.Delete("/x", k.handler("deleted"))
	do(t, app, "GET", "/x")
	assert.Equal(t, "hit", do(t, app, "GET", "/x").header.Get("X-Cache"))

	srv.Stop()
	for i := 0; i < 3; i++ {
		r := do(t, app, "GET", "/x")
		assert.Equal(t, 200, r.status)
		assert.Equal(t, "x#"+itoa(i+2), r.body)
	}
	assert.Equal(t, 200, do(t, app, "DELETE", "/x").status, "a failed invalidation does not fail the request")
}
