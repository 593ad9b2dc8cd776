//go:build !race

// Allocation checks: the race detector makes sync.Pool drop items at
// random, so these build without -race only. CI runs them with
// go test -count=1 -run Allocat . before the race run.

package cache

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fiber-caches/cache/internal/testkit"
	"github.com/gofiber/fiber/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/valyala/fasthttp"
)

func TestKeys_KeyFuncHitAllocatesNothing(t *testing.T) {
	var k testkit.Counter
	calls := 0
	app := fiber.New()
	app.Use(New(WithTTL(time.Hour), WithKeyFunc(func(c *fiber.Ctx, key []byte) []byte {
		calls++
		return tenantKey(c, key)
	})))
	app.Get("/p", func(c *fiber.Ctx) error {
		return k.Handler("p "+c.Get("X-Tenant"), testkit.Header("Vary", "Accept-Encoding"))(c)
	})
	serve := app.Handler()

	// A reused request context, as fasthttp's server reuses it.
	var req fasthttp.Request
	req.Header.SetMethod(fiber.MethodGet)
	req.SetRequestURI("/p?x=1")
	req.Header.SetHost("example.com")
	req.Header.Set("X-Tenant", "tenant-a")
	req.Header.Set(fiber.HeaderAcceptEncoding, "gzip")
	ctx := new(fasthttp.RequestCtx)
	ctx.Init(&req, nil, nil)
	run := func() {
		ctx.Response.Reset()
		ctx.ResetUserValues()
		serve(ctx)
	}
	run()
	require.Equal(t, "miss", string(ctx.Response.Header.Peek("X-Cache")))
	run()
	require.Equal(t, "hit", string(ctx.Response.Header.Peek("X-Cache")))
	before := calls
	allocs := testing.AllocsPerRun(200, run)
	assert.Equal(t, http.StatusOK, ctx.Response.StatusCode())
	assert.Equal(t, "hit", string(ctx.Response.Header.Peek("X-Cache")))
	assert.Equal(t, "p tenant-a#1", string(ctx.Response.Body()))
	assert.Equal(t, 1, k.Runs(), "every run was a hit")
	assert.Equal(t, 201, calls-before, "the key function ran on every hit")
	assert.Zero(t, allocs, "allocations per hit")

	// The same context for another tenant: its own entry.
	ctx.Request.Header.Set("X-Tenant", "tenant-b")
	run()
	assert.Equal(t, "miss", string(ctx.Response.Header.Peek("X-Cache")))
	assert.Equal(t, "p tenant-b#2", string(ctx.Response.Body()))
}

// Every kind of answer from the default store allocates nothing: a hit, a
// hit of a Vary variant, a 304, a HEAD, a range.
func TestHitPathAllocatesNothing(t *testing.T) {
	app := fiber.New()
	app.Use(New(WithTTL(time.Hour)))
	app.Get("/p", func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderVary, fiber.HeaderAcceptLanguage)
		c.Set(fiber.HeaderETag, `"e1"`)
		return c.SendString("a body of some length, enough for a range")
	})
	serve := app.Handler()
	for _, tc := range []struct {
		name, method string
		headers      [][2]string
		status       int
	}{
		{"hit", "GET", nil, 200},
		{"vary", "GET", [][2]string{{"Accept-Language", "fr"}}, 200},
		{"304", "GET", [][2]string{{"If-None-Match", `"e1"`}}, 304},
		{"head", "HEAD", nil, 200},
		{"range", "GET", [][2]string{{"Range", "bytes=0-9"}}, 206},
		{"behind a proxy", "GET", [][2]string{{"X-Forwarded-Host", "example.com"}}, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var req fasthttp.Request
			req.Header.SetMethod(fiber.MethodGet)
			req.SetRequestURI("/p")
			req.Header.SetHost("example.com")
			for _, h := range tc.headers {
				if h[0] != "If-None-Match" && h[0] != "Range" {
					req.Header.Set(h[0], h[1])
				}
			}
			ctx := new(fasthttp.RequestCtx)
			ctx.Init(&req, nil, nil)
			serve(ctx) // store (a GET, so that HEAD and ranges have a full entry)
			ctx.Request.Header.SetMethod(tc.method)
			for _, h := range tc.headers {
				ctx.Request.Header.Set(h[0], h[1])
			}
			run := func() {
				ctx.Response.Reset()
				ctx.ResetUserValues()
				serve(ctx)
			}
			run()
			require.Equal(t, tc.status, ctx.Response.StatusCode())
			require.Equal(t, "hit", string(ctx.Response.Header.Peek("X-Cache")))
			assert.Zero(t, testing.AllocsPerRun(200, run))
		})
	}
}

// A hit that replaces lines middleware in front of the cache wrote under
// the names it writes, in other spellings, allocates nothing either,
// whether the response header normalizes names or not.
func TestHitPathAllocatesNothingReplacingSpellings(t *testing.T) {
	for _, raw := range []bool{false, true} {
		app := fiber.New(fiber.Config{DisableHeaderNormalizing: true})
		// The outer middleware's lines, made once: fasthttp's setters leak
		// their arguments (v1.69's do), so literals converted in the
		// handler would allocate there, on every request.
		lines := [][2][]byte{
			{[]byte("cache-control"), []byte("max-age=3600")},
			{[]byte("expires"), []byte("Thu, 01 Jan 2099 00:00:00 GMT")},
			{[]byte("x-cache"), []byte("outer")},
			{[]byte("cache-status"), []byte("outer")},
		}
		app.Use(func(c *fiber.Ctx) error {
			h := &c.Response().Header
			if raw {
				h.DisableNormalizing() // the test's Reset turned it back on
			}
			for _, kv := range lines {
				h.SetCanonical(kv[0], kv[1]) // keeps the spelling either way
			}
			return c.Next()
		})
		app.Use(New(WithTTL(time.Hour)))
		app.Get("/p", func(c *fiber.Ctx) error { return c.SendString("body") })
		serve := app.Handler()
		var req fasthttp.Request
		req.Header.SetMethod(fiber.MethodGet)
		req.SetRequestURI("/p")
		req.Header.SetHost("example.com")
		ctx := new(fasthttp.RequestCtx)
		ctx.Init(&req, nil, nil)
		serve(ctx)
		run := func() {
			ctx.Response.Reset()
			ctx.ResetUserValues()
			serve(ctx)
		}
		run()
		require.Equal(t, "hit", string(ctx.Response.Header.Peek("X-Cache")))
		for _, name := range []string{"Cache-Control", "Expires", "X-Cache", "Cache-Status"} {
			n := 0
			ctx.Response.Header.VisitAll(func(k, _ []byte) {
				if strings.EqualFold(string(k), name) {
					n++
				}
			})
			require.Equal(t, 1, n, "raw=%v: %s lines", raw, name)
		}
		assert.Zero(t, testing.AllocsPerRun(200, run), "raw=%v", raw)
	}
}

// A hit of an entry with four tags (plus its route's) allocates nothing:
// the entry holds its tag records.
func TestTags_TaggedHitAllocatesNothing(t *testing.T) {
	run := tagHitServer(t, "product:42", "category:shoes", "list:bestsellers", "search")
	assert.Zero(t, testing.AllocsPerRun(200, run), "allocations per hit")
}

// A relaxed near hit (WithNearCacheLag) allocates nothing either: it reads
// the near tier's records, makes no storage call, and replays the entry as
// an in-process hit does.
func TestNear_RelaxedHitAllocatesNothing(t *testing.T) {
	s, prefix := redisStorage(t)
	m := redisCache(t, WithStorage(s), WithKeyPrefix(prefix), WithTTL(time.Hour), WithNearCache(1<<20), WithNearCacheLag(time.Hour))
	app := fiber.New()
	app.Use(m.Handler())
	app.Get("/p", func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderVary, fiber.HeaderAcceptLanguage)
		Tag(c, "items")
		return c.SendString("a body of some length")
	})
	serve := app.Handler()
	var req fasthttp.Request
	req.Header.SetMethod(fiber.MethodGet)
	req.SetRequestURI("/p")
	req.Header.SetHost("example.com")
	req.Header.Set(fiber.HeaderAcceptLanguage, "fr")
	ctx := new(fasthttp.RequestCtx)
	ctx.Init(&req, nil, nil)
	run := func() {
		ctx.Response.Reset()
		ctx.ResetUserValues()
		serve(ctx)
	}
	run() // a miss: stored
	// Near misses (reads that fill the near tier) until the first near hit:
	// the store kept its keys out until a barrier round returned.
	for i := 0; i < 200 && testing.AllocsPerRun(1, run) > 0; i++ {
		time.Sleep(time.Millisecond)
	}
	require.Equal(t, "hit", string(ctx.Response.Header.Peek("X-Cache")))
	require.True(t, NearOn(m))
	assert.Zero(t, testing.AllocsPerRun(200, run), "allocations per relaxed near hit")
	assert.Equal(t, "hit", string(ctx.Response.Header.Peek("X-Cache")))
}
