package cache_test

// What Cache-Status says (issue 16, item 6): no ttl for an entry kept until
// invalidated (RFC 9211 §2.4), caching_off for WithTTL(0), closed for a
// closed cache.

import (
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/stretchr/testify/require"

	"github.com/fiber-caches/cache"
	"github.com/fiber-caches/cache/internal/testkit"
)

func TestCacheStatus_TTL(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []cache.Option
		hit  string
	}{
		{"kept until invalidated", nil, `^fibercache; hit$`},
		{"kept until invalidated, shared", []cache.Option{cache.WithSharedCache()}, `^fibercache; hit; ttl=(59|60)$`},
		{"WithTTL", []cache.Option{cache.WithTTL(time.Minute)}, `^fibercache; hit; ttl=(59|60)$`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			app := fiber.New()
			app.Use(cache.New(tc.opts...))
			var k testkit.Counter
			app.Get("/x", k.Handler("x", testkit.Header("Cache-Control", "public, s-maxage=60"), testkit.Header("ETag", `"v1"`)))
			app.Get("/y", k.Handler("y", testkit.Header("ETag", `"v1"`)))
			target := "/y"
			if tc.name == "kept until invalidated, shared" {
				target = "/x" // shared mode needs a lifetime to store
			}
			require.Equal(t, "miss", testkit.Do(t, app, fiber.MethodGet, target).Header.Get("X-Cache"))
			for _, hdr := range [][]string{nil, {`If-None-Match: "v1"`}} {
				r := testkit.Do(t, app, fiber.MethodGet, target, hdr...)
				require.Equal(t, "hit", r.Header.Get("X-Cache"))
				require.Regexp(t, regexp.MustCompile(tc.hit), r.Header.Get("Cache-Status"))
			}
		})
	}
}

func TestCacheStatus_SteppingAside(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mw     func(obs cache.Option) fiber.Handler
		reason cache.Reason
		status string
	}{
		{"WithTTL(0)", func(obs cache.Option) fiber.Handler { return cache.New(obs, cache.WithTTL(0)) },
			cache.ReasonCachingOff, "fibercache; fwd=bypass; detail=caching_off"},
		{"WithTTL(0) with rules", func(obs cache.Option) fiber.Handler {
			return cache.New(obs, cache.WithTTL(0), cache.WithRules(cache.Rule{TTL: time.Minute}))
		}, cache.ReasonCachingOff, "fibercache; fwd=bypass; detail=caching_off"},
		{"closed", func(obs cache.Option) fiber.Handler {
			m := cache.NewCache(obs, cache.WithTTL(time.Minute))
			require.NoError(t, m.Close())
			return m.Handler()
		}, cache.ReasonClosed, "fibercache; fwd=bypass; detail=closed"},
		{"no rule", func(obs cache.Option) fiber.Handler {
			return cache.New(obs, cache.WithRules(cache.Rule{Match: []string{"/other"}}))
		},
			cache.ReasonNoRule, "fibercache; fwd=bypass; detail=no_rule"},
		{"WithNext", func(obs cache.Option) fiber.Handler {
			return cache.New(obs, cache.WithNext(func(*fiber.Ctx) bool { return true }))
		}, cache.ReasonSkip, "fibercache; fwd=bypass; detail=skip"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			obs := &reasonObserver{}
			app := fiber.New()
			app.Use(tc.mw(cache.WithObserver(obs)))
			var k testkit.Counter
			app.Get("/x", k.Handler("x"))
			for i := range 2 {
				r := testkit.Do(t, app, fiber.MethodGet, "/x")
				require.Equal(t, i+1, k.Runs())
				require.Equal(t, tc.status, r.Header.Get("Cache-Status"))
				require.Empty(t, r.Header.Get("X-Cache"))
			}
			require.Equal(t, []cache.Reason{tc.reason, tc.reason}, obs.bypasses())
		})
	}
	// The names are stable API (logs, metric labels), and the new ones come
	// after every older one.
	require.Equal(t, "caching_off", cache.ReasonCachingOff.String())
	require.Equal(t, "closed", cache.ReasonClosed.String())
	require.Greater(t, cache.ReasonCachingOff, cache.ReasonTooSlow)
	require.Greater(t, cache.ReasonClosed, cache.ReasonCachingOff)
}

// reasonObserver records the reason of every EventBypass.
type reasonObserver struct {
	mu  sync.Mutex
	got []cache.Reason
}

func (o *reasonObserver) Observe(ev cache.Event, r cache.Reason) {
	if ev == cache.EventBypass {
		o.mu.Lock()
		o.got = append(o.got, r)
		o.mu.Unlock()
	}
}

func (o *reasonObserver) bypasses() []cache.Reason {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]cache.Reason(nil), o.got...)
}
