package cache

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fiber-caches/cache/internal/core"
	"github.com/fiber-caches/cache/internal/core/redistest"
	"github.com/fiber-caches/cache/internal/testkit"
	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/storage/redis/v3"
	goredis "github.com/redis/go-redis/v9"
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

// TestRedisOlderThan7Explained: Redis before 7.0 refuses SET with both NX
// and GET, which every lookup of the fast path sends. Requests are still
// served, the log says what to do, and what it says works: the storage
// with its Conn hidden takes the plain fiber.Storage path and caches.
func TestRedisOlderThan7Explained(t *testing.T) {
	s, prefix := redisStorage(t)
	s.Conn().AddHook(olderRedis{})
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, nil))
	fast := redisCache(t, WithStorage(s), WithKeyPrefix(prefix+"fast:"), WithTTL(time.Minute), WithLogger(logger))
	plain := redisCache(t, WithStorage(struct{ fiber.Storage }{s}), WithKeyPrefix(prefix+"plain:"), WithTTL(time.Minute))
	for _, tc := range []struct {
		m    *Cache
		want []string
	}{
		{fast, []string{"", ""}},
		{plain, []string{"miss", "hit"}},
	} {
		app := fiber.New()
		app.Use(tc.m.Handler())
		var k testkit.Counter
		app.Get("/x", k.Handler("x"))
		for _, want := range tc.want {
			r := testkit.Do(t, app, "GET", "/x")
			require.Equal(t, http.StatusOK, r.Status)
			require.Equal(t, want, r.Header.Get("X-Cache"), r.Header.Get("Cache-Status"))
		}
	}
	require.Contains(t, logs.String(), "the Redis fast path needs Redis 7.0 or later")
}

// TestRedisOlderThan7PlainPath: when INFO says Redis is older than 7.0,
// NewCache drives it through the plain fiber.Storage methods, says so, and
// caches.
func TestRedisOlderThan7PlainPath(t *testing.T) {
	s, prefix := redisStorage(t)
	s.Conn().AddHook(olderRedis{version: "6.2.14"})
	var logs bytes.Buffer
	m := redisCache(t, WithStorage(s), WithKeyPrefix(prefix), WithTTL(time.Minute), WithLogger(slog.New(slog.NewJSONHandler(&logs, nil))))
	require.Contains(t, logs.String(), `"msg":"redis_fast_path_off"`)
	app := fiber.New()
	app.Use(m.Handler())
	var k testkit.Counter
	app.Get("/x", k.Handler("x"))
	for _, want := range []string{"miss", "hit"} {
		r := testkit.Do(t, app, "GET", "/x")
		require.Equal(t, want, r.Header.Get("X-Cache"), r.Header.Get("Cache-Status"))
	}
	require.Equal(t, 1, k.Runs())
	require.NotContains(t, logs.String(), "storage_error")
}

func TestParseRedisMajor(t *testing.T) {
	for _, tc := range []struct {
		info  string
		major int
		ok    bool
	}{
		{"# Server\r\nredis_version:7.0.15\r\nredis_git_sha1:00000000\r\n", 7, true},
		{"# Server\r\nredis_version:6.2.14\r\n", 6, true},
		{"# Server\r\nredis_version:7.2.4\r\nserver_name:valkey\r\nvalkey_version:8.0.1\r\n", 7, true}, // Valkey says 7.2.4 for compatibility
		{"# Server\r\nredis_mode:standalone\r\n", 0, false},
		{"redis_version:x.y\r\n", 0, false},
	} {
		major, ok := core.ParseRedisMajor(tc.info)
		require.Equal(t, tc.ok, ok, "%q", tc.info)
		require.Equal(t, tc.major, major, "%q", tc.info)
	}
}

// olderRedis is a go-redis hook that answers SET with both NX and GET as
// Redis before 7.0 does, with a syntax error; with a version, it answers
// INFO with that redis_version.
type olderRedis struct{ version string }

var errSyntax = errors.New("ERR syntax error")

func (olderRedis) DialHook(next goredis.DialHook) goredis.DialHook { return next }

func (o olderRedis) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		if info, ok := cmd.(*goredis.StringCmd); ok && o.version != "" && cmd.Name() == "info" {
			info.SetVal("# Server\r\nredis_version:" + o.version + "\r\n")
			return nil
		}
		if setNXGet(cmd) {
			cmd.SetErr(errSyntax)
			return errSyntax
		}
		return next(ctx, cmd)
	}
}

func (olderRedis) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		if slices.ContainsFunc(cmds, setNXGet) {
			for _, c := range cmds {
				c.SetErr(errSyntax)
			}
			return errSyntax
		}
		return next(ctx, cmds)
	}
}

func setNXGet(c goredis.Cmder) bool {
	var nx, get bool
	for i, a := range c.Args() {
		s, _ := a.(string)
		nx = nx || i > 2 && strings.EqualFold(s, "nx")
		get = get || i > 2 && strings.EqualFold(s, "get")
	}
	return strings.EqualFold(c.Name(), "set") && nx && get
}
