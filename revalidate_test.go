package cache

import (
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fiber-caches/cache/internal/testkit"
	"github.com/gofiber/fiber/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// revalSite serves /p: a 200 with max-age=10 and an ETag, and, to a
// request that carries that ETag in If-None-Match, a 304 with the headers
// in notModified.
type revalSite struct {
	app         *fiber.App
	clock       *fakeClock
	runs        atomic.Int64
	conditional atomic.Int64 // runs that saw If-None-Match
	mu          sync.Mutex
	notModified []string // "Name: value" lines of the 304
}

func newRevalSite(t *testing.T, b testBackend, opts ...Option) *revalSite {
	t.Helper()
	s := &revalSite{clock: newFakeClock()}
	m := newTestCache(t, b, append(opts, withClock(s.clock.now))...)
	s.app = fiber.New()
	s.app.Use(m.Handler())
	s.app.Get("/p", func(c *fiber.Ctx) error {
		s.runs.Add(1)
		if c.Get(fiber.HeaderIfNoneMatch) == `"v1"` {
			s.conditional.Add(1)
			s.mu.Lock()
			for _, line := range s.notModified {
				k, v, _ := strings.Cut(line, ": ")
				c.Response().Header.Add(k, v)
			}
			s.mu.Unlock()
			return c.SendStatus(fiber.StatusNotModified)
		}
		c.Set(fiber.HeaderCacheControl, "max-age=10")
		c.Set(fiber.HeaderETag, `"v1"`)
		return c.SendString("body-v1")
	})
	return s
}

// revalidate stores /p, lets it go stale, and sends the request that
// revalidates it (with hdr), whose 304 carries notModified. It returns
// that request's response.
func (s *revalSite) revalidate(t *testing.T, notModified []string, hdr ...string) testkit.Result {
	t.Helper()
	s.mu.Lock()
	s.notModified = notModified
	s.mu.Unlock()
	require.Equal(t, "body-v1", testkit.Do(t, s.app, "GET", "/p").Body)
	s.clock.advance(15 * time.Second)
	r := testkit.Do(t, s.app, "GET", "/p", hdr...)
	require.EqualValues(t, 1, s.conditional.Load(), "the stale entry was revalidated")
	require.Equal(t, 200, r.Status)
	require.Equal(t, "body-v1", r.Body, "the client gets the confirmed response, not the 304")
	return r
}

// stored reports whether the next request is answered from the cache.
func (s *revalSite) stored(t *testing.T, hdr ...string) (bool, testkit.Result) {
	t.Helper()
	before := s.runs.Load()
	r := testkit.Do(t, s.app, "GET", "/p", hdr...)
	return s.runs.Load() == before, r
}

// A revalidation's 304 goes through every rule a fresh response goes
// through (RFC 9111 §4.3.4, then §3): when the updated response may no
// longer be stored, the stored entry goes, the answer is passed on, and
// the next request runs the handler unconditionally. Both modes, every
// backend.
func TestRevalidation_304IsAdmittedAgain(t *testing.T) {
	cases := []struct {
		name     string
		notMod   []string // the 304's headers
		req      []string // the revalidating request's headers
		app      bool     // stored again in app mode
		shared   bool     // stored again in the shared-cache mode
		noCookie bool     // the stored response must not carry Set-Cookie
	}{
		{name: "plain", app: true, shared: true},
		{name: "new max-age", notMod: []string{"Cache-Control: max-age=20"}, app: true, shared: true},
		{name: "set-cookie", notMod: []string{"Set-Cookie: session=alice"}, noCookie: true},
		{name: "set-cookie public", notMod: []string{"Set-Cookie: session=alice", "Cache-Control: public, max-age=20"}, shared: true},
		{name: "set-cookie2", notMod: []string{"Set-Cookie2: session=alice"}, noCookie: true},
		{name: "private", notMod: []string{"Cache-Control: private, max-age=20"}},
		{name: "qualified private", notMod: []string{`Cache-Control: private="x", max-age=20`}},
		{name: "no-store", notMod: []string{"Cache-Control: no-store"}},
		{name: "pragma is not cache-control", notMod: []string{"Pragma: no-cache"}, app: true, shared: true},
		{name: "vary star", notMod: []string{"Vary: *"}},
		{name: "authorization", req: []string{"Authorization: Bearer alice"}},
		{name: "authorization public", notMod: []string{"Cache-Control: public, max-age=20"}, req: []string{"Authorization: Bearer alice"}, app: true, shared: true},
		{name: "cdn private", notMod: []string{"CDN-Cache-Control: private"}, app: true},
		{name: "lower-case private", notMod: []string{"cache-control: private"}},
	}
	for _, b := range everyBackend() {
		for _, mode := range []string{"app", "shared"} {
			for _, tc := range cases {
				t.Run(b.name+"/"+mode+"/"+tc.name, func(t *testing.T) {
					var opts []Option
					want := tc.app
					if mode == "shared" {
						opts, want = append(opts, WithSharedCache()), tc.shared
					} else {
						opts = append(opts, WithTTL(time.Hour))
					}
					s := newRevalSite(t, b, opts...)
					r := s.revalidate(t, tc.notMod, tc.req...)
					if !want {
						assert.NotContains(t, r.Header.Get("Cache-Status"), "stored", "not stored")
					}
					hit, next := s.stored(t, tc.req...)
					assert.Equal(t, want, hit, "stored after the 304: %s", next.Header.Get("Cache-Status"))
					if !want {
						assert.EqualValues(t, 1, s.conditional.Load(), "the stale entry is gone: the next run is unconditional")
						_, anon := s.stored(t)
						assert.Empty(t, anon.Header.Values("Set-Cookie"), "nothing replays the 304's cookie")
					}
					if tc.noCookie || mode == "app" {
						assert.Empty(t, next.Header.Values("Set-Cookie"))
						assert.Empty(t, next.Header.Values("Set-Cookie2"))
					}
				})
			}
		}
	}
}

// What clients are told after a revalidation is what the cache decides,
// as after a fresh response: WithClientTTL(0) sends no-cache whatever the
// 304 says, a lower max-age of the handler's wins, and the lifetime the
// cache keeps the entry for follows the 304 (every backend).
func TestRevalidation_AdvertisedAsFresh(t *testing.T) {
	for _, b := range everyBackend() {
		t.Run(b.name, func(t *testing.T) {
			s := newRevalSite(t, b, WithTTL(time.Hour), WithClientTTL(0))
			s.revalidate(t, []string{"Cache-Control: public, max-age=600"})
			hit, r := s.stored(t)
			require.True(t, hit)
			cc := r.Header.Get("Cache-Control")
			assert.Contains(t, cc, "no-cache", "a hit tells clients to revalidate")
			assert.NotContains(t, cc, "max-age", "and never promises them the 304's max-age")
			exp, err := http.ParseTime(r.Header.Get("Expires"))
			require.NoError(t, err)
			assert.False(t, exp.After(s.clock.now()), "Expires is not in the future")
			// The 304's max-age=600 is the entry's lifetime now.
			s.clock.advance(300 * time.Second)
			hit, _ = s.stored(t)
			assert.True(t, hit, "fresh for the 304's 600 s")
			s.clock.advance(301 * time.Second)
			hit, _ = s.stored(t)
			assert.False(t, hit, "stale after them")
		})
	}
	t.Run("client ttl", func(t *testing.T) {
		s := newRevalSite(t, everyBackend()[0], WithTTL(time.Hour), WithClientTTL(time.Minute))
		s.revalidate(t, []string{"Cache-Control: max-age=30"})
		_, r := s.stored(t)
		assert.Equal(t, "max-age=30", r.Header.Get("Cache-Control"), "the handler's smaller max-age wins")
		s.clock.advance(20 * time.Second)
		_, r = s.stored(t)
		assert.Equal(t, "max-age=30", r.Header.Get("Cache-Control"))
		assert.Equal(t, "20", r.Header.Get("Age"))
	})
	t.Run("handler headers kept", func(t *testing.T) {
		// Without a Cache-Control in the 304, the handler's own one (not
		// the one the cache rewrote for clients) is what is admitted again.
		s := newRevalSite(t, everyBackend()[0], WithTTL(time.Hour), WithClientTTL(0))
		s.revalidate(t, []string{"X-Version: 2"})
		_, r := s.stored(t)
		assert.Equal(t, "no-cache", r.Header.Get("Cache-Control"))
		assert.Equal(t, "2", r.Header.Get("X-Version"), "the 304's fields update the stored ones")
		s.clock.advance(11 * time.Second)
		hit, _ := s.stored(t)
		assert.False(t, hit, "the handler's max-age=10 still bounds the entry: the rewritten no-cache did not become its own")
		assert.EqualValues(t, 2, s.conditional.Load())
	})
}
