package cache

import (
	"net/http"
	"regexp"
	"testing"
	"time"

	"github.com/fiber-caches/cache/internal/testkit"
	"github.com/gofiber/fiber/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Issue 9: what clients are told (Cache-Control, Expires) apart from how
// long the server keeps a response.

func TestClientTTL(t *testing.T) {
	maxAgeRE := regexp.MustCompile(`(?:^|[ ,])max-age=`)
	cases := []struct {
		name    string
		opts    []Option
		handler []func(c *fiber.Ctx)
		cc      string        // Cache-Control clients get, on the miss and the hit
		expires time.Duration // Expires from now; 0: not in the future
	}{
		{"no TTL: revalidate", nil, nil, "no-cache", 0},
		{"client TTL 0", []Option{WithTTL(time.Hour), WithClientTTL(0)}, nil, "no-cache", 0},
		{"client TTL", []Option{WithTTL(time.Hour), WithClientTTL(30 * time.Second)}, nil, "max-age=30", 30 * time.Second},
		{"handler's smaller max-age", []Option{WithTTL(time.Hour)}, []func(*fiber.Ctx){testkit.Header("Cache-Control", "max-age=10")}, "max-age=10", 10 * time.Second},
		{"handler's smaller max-age beats the client TTL", []Option{WithTTL(time.Hour), WithClientTTL(30 * time.Second)},
			[]func(*fiber.Ctx){testkit.Header("Cache-Control", "public, max-age=10")}, "public, max-age=10", 10 * time.Second},
		{"handler's larger max-age", []Option{WithTTL(time.Hour), WithClientTTL(30 * time.Second)},
			[]func(*fiber.Ctx){testkit.Header("Cache-Control", "max-age=600")}, "max-age=30", 30 * time.Second},
		{"TTL alone", []Option{WithTTL(2 * time.Minute)}, nil, "max-age=120", 2 * time.Minute},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var k testkit.Counter
			app := fiber.New()
			app.Use(New(tc.opts...))
			app.Get("/x", k.Handler("x", tc.handler...))
			start := time.Now().Truncate(time.Second)
			miss := testkit.Do(t, app, "GET", "/x")
			hit := testkit.Do(t, app, "GET", "/x")
			assert.Equal(t, 1, k.Runs(), "the server serves from its store")
			assert.Equal(t, "hit", hit.Header.Get("X-Cache"))
			for _, r := range []testkit.Result{miss, hit} {
				assert.Equal(t, tc.cc, r.Header.Get("Cache-Control"))
				exp, err := http.ParseTime(r.Header.Get("Expires"))
				if tc.expires == 0 {
					assert.NotRegexp(t, maxAgeRE, r.Header.Get("Cache-Control"))
					assert.NotEmpty(t, r.Header.Get("ETag"), "a validator to revalidate with")
					if err == nil {
						assert.False(t, exp.After(time.Now().Add(time.Second)), "no Expires in the future: %v", exp)
					}
					continue
				}
				require.NoError(t, err)
				assert.WithinDuration(t, start.Add(tc.expires), exp, 2*time.Second)
			}
		})
	}
}

// Clients told no-cache revalidate; the cache answers them from its store.
func TestClientTTL_NoCacheClientsRevalidateAgainstTheStore(t *testing.T) {
	var k testkit.Counter
	app := fiber.New()
	app.Use(New(WithTTL(time.Hour), WithClientTTL(0)))
	app.Get("/x", k.Handler("x"))
	etag := testkit.Do(t, app, "GET", "/x").Header.Get("ETag")
	require.NotEmpty(t, etag)
	r := testkit.Do(t, app, "GET", "/x", "If-None-Match: "+etag)
	assert.Equal(t, fiber.StatusNotModified, r.Status)
	assert.Equal(t, "no-cache", r.Header.Get("Cache-Control"))
	assert.Equal(t, 1, k.Runs())
}

// The shared-cache mode tells clients what the upstream told: its
// Cache-Control and Expires pass on unchanged, on the miss and on hits,
// whatever WithTTL and WithClientTTL say (the cache keeps the response
// no longer than WithTTL). So a browser behind it may keep a response for
// the upstream's max-age, invalidations or not.
func TestClientTTL_SharedModePassesTheUpstreamsHeadersOn(t *testing.T) {
	expires := time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)
	var k testkit.Counter
	app := fiber.New()
	app.Use(New(WithSharedCache(), WithTTL(time.Minute), WithClientTTL(0)))
	app.Get("/x", k.Handler("x", testkit.Header("Cache-Control", "public, max-age=600"), testkit.Header("Expires", expires)))
	miss := testkit.Do(t, app, "GET", "/x")
	hit := testkit.Do(t, app, "GET", "/x")
	assert.Equal(t, 1, k.Runs())
	require.Equal(t, "hit", hit.Header.Get("X-Cache"))
	assert.Regexp(t, `^fibercache; hit; ttl=(59|60)$`, hit.Header.Get("Cache-Status"), "kept no longer than WithTTL")
	for _, r := range []testkit.Result{miss, hit} {
		assert.Equal(t, []string{"public, max-age=600"}, r.Header.Values("Cache-Control"))
		assert.Equal(t, []string{expires}, r.Header.Values("Expires"))
		assert.Empty(t, r.Header.Get("ETag"), "no ETag added")
	}
}

// A handler's s-maxage is passed on to CDNs as it is, beside the max-age
// (or no-cache) the cache advertises, while the cache itself keeps the
// response no longer than its TTL: a CDN may keep it past an invalidation
// for as long as s-maxage says, unless no-cache makes it revalidate.
func TestClientTTL_SMaxAgePassedOn(t *testing.T) {
	cases := []struct {
		name string
		opts []Option
		cc   string
	}{
		{"TTL", []Option{WithTTL(time.Minute)}, "public, s-maxage=600, max-age=60"},
		{"client TTL 0", []Option{WithTTL(time.Minute), WithClientTTL(0)}, "public, s-maxage=600, no-cache"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var k testkit.Counter
			app := fiber.New()
			app.Use(New(tc.opts...))
			app.Get("/x", Control(Public(), SMaxAge(10*time.Minute)), k.Handler("x"))
			miss := testkit.Do(t, app, "GET", "/x")
			hit := testkit.Do(t, app, "GET", "/x")
			assert.Equal(t, 1, k.Runs())
			assert.Regexp(t, `^fibercache; hit; ttl=(59|60)$`, hit.Header.Get("Cache-Status"), "kept no longer than the TTL")
			for _, r := range []testkit.Result{miss, hit} {
				assert.Equal(t, []string{tc.cc}, r.Header.Values("Cache-Control"))
			}
		})
	}
}
