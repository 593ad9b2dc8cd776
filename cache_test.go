package cache

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fiber-caches/cache/internal/core"
	"github.com/fiber-caches/cache/internal/core/entry"
	"github.com/fiber-caches/cache/internal/testkit"
	"github.com/gofiber/fiber/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// 1. Application-wide, per route, per group; duplicates fail clearly.

func TestAppRouteAndGroup(t *testing.T) {
	var app1, route1, group1 testkit.Counter
	app := fiber.New()
	app.Get("/route", New(WithTTL(time.Minute)), route1.Handler("route"))
	api := app.Group("/api", New(WithTTL(time.Minute)))
	api.Get("/x", group1.Handler("group"))
	app.Get("/plain", app1.Handler("plain"))

	for i := 0; i < 3; i++ {
		assert.Equal(t, "route#1", testkit.Do(t, app, "GET", "/route").Body)
		assert.Equal(t, "group#1", testkit.Do(t, app, "GET", "/api/x").Body)
		assert.Equal(t, "plain#"+strconv.Itoa(i+1), testkit.Do(t, app, "GET", "/plain").Body, "no cache on this route")
	}
	assert.Equal(t, 1, route1.Runs())
	assert.Equal(t, 1, group1.Runs())

	var k testkit.Counter
	app = fiber.New()
	app.Use(New(WithTTL(time.Minute)))
	app.Get("/x", k.Handler("x"))
	r1, r2 := testkit.Do(t, app, "GET", "/x"), testkit.Do(t, app, "GET", "/x")
	assert.Equal(t, "miss", r1.Header.Get("X-Cache"))
	assert.Equal(t, "hit", r2.Header.Get("X-Cache"))
	assert.Equal(t, r1.Body, r2.Body)
	assert.Equal(t, 1, k.Runs())
}

func TestDuplicateCaching(t *testing.T) {
	logged := func() (*slog.Logger, func() string) {
		var b strings.Builder
		var mu sync.Mutex
		l := slog.New(slog.NewTextHandler(lockedWriter{&mu, &b}, nil))
		return l, func() string { mu.Lock(); defer mu.Unlock(); return b.String() }
	}
	t.Run("app and route", func(t *testing.T) {
		var k testkit.Counter
		l, logs := logged()
		app := fiber.New()
		app.Use(New())
		app.Get("/x", New(WithLogger(l)), k.Handler("x"))
		r := testkit.Do(t, app, "GET", "/x")
		assert.Equal(t, 500, r.Status)
		assert.Equal(t, "Internal Server Error", r.Body, "the configuration is not the client's business")
		assert.Contains(t, logs(), ErrDuplicateCaching.Error())
		assert.Contains(t, logs(), "keep one of them")
		assert.Equal(t, 0, k.Runs())
	})
	t.Run("registered twice", func(t *testing.T) {
		l, logs := logged()
		mw := New(WithLogger(l))
		var k testkit.Counter
		app := fiber.New()
		app.Use(mw)
		app.Get("/x", mw, k.Handler("x"))
		r := testkit.Do(t, app, "GET", "/x")
		assert.Equal(t, 500, r.Status)
		assert.Contains(t, logs(), "registered twice")
		assert.NotContains(t, r.Body, "registered twice")
	})
	t.Run("error wraps", func(t *testing.T) {
		var got error
		app := fiber.New(fiber.Config{ErrorHandler: func(c *fiber.Ctx, err error) error {
			got = err
			return c.SendStatus(500)
		}})
		app.Use(New())
		app.Get("/x", New(), func(c *fiber.Ctx) error { return c.SendString("x") })
		testkit.Do(t, app, "GET", "/x")
		require.True(t, errors.Is(got, ErrDuplicateCaching), "%v", got)
	})
}

// lockedWriter serializes writes to w.
type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// 2. Only GET and HEAD; HEAD from a stored GET; a stored HEAD never answers a GET.

func TestMethods(t *testing.T) {
	var k testkit.Counter
	app := fiber.New()
	app.Use(New())
	app.Get("/x", k.Handler("x"))
	app.Post("/x", k.Handler("post"))
	app.Put("/x", k.Handler("put"))

	testkit.Do(t, app, "POST", "/p") // unknown route: nothing stored, nothing breaks
	assert.Equal(t, "post#1", testkit.Do(t, app, "POST", "/x").Body)
	assert.Equal(t, "post#2", testkit.Do(t, app, "POST", "/x").Body, "POST is never answered from the cache")

	get := testkit.Do(t, app, "GET", "/x")
	assert.Equal(t, "x#3", get.Body)
	head := testkit.Do(t, app, "HEAD", "/x")
	assert.Equal(t, "hit", head.Header.Get("X-Cache"))
	assert.Equal(t, "", head.Body)
	assert.Equal(t, 3, k.Runs(), "HEAD answered from the stored GET")
}

func TestStoredHeadNeverAnswersGet(t *testing.T) {
	var k testkit.Counter
	app := fiber.New()
	app.Use(New())
	app.Get("/x", k.Handler("x"))
	assert.Equal(t, "miss", testkit.Do(t, app, "HEAD", "/x").Header.Get("X-Cache"))
	assert.Equal(t, "hit", testkit.Do(t, app, "HEAD", "/x").Header.Get("X-Cache"))
	assert.Equal(t, 1, k.Runs())
	g := testkit.Do(t, app, "GET", "/x")
	assert.Equal(t, "x#2", g.Body, "GET ran the handler")
	assert.Equal(t, "x#2", testkit.Do(t, app, "GET", "/x").Body)
	assert.Equal(t, 2, k.Runs())
}

// 3. Cacheable statuses.

func TestStatuses(t *testing.T) {
	// RFC 9110 §15.1: heuristically cacheable statuses, 308 included. A 206
	// is not stored: ranges are answered from a stored 200.
	cacheable := map[int]bool{200: true, 203: true, 204: true, 300: true, 301: true, 308: true,
		404: true, 405: true, 410: true, 414: true, 501: true}
	for _, code := range []int{200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414, 501, 302, 500, 503, 201, 304, 307} {
		t.Run(strconv.Itoa(code), func(t *testing.T) {
			var k testkit.Counter
			app := fiber.New()
			app.Use(New())
			app.Get("/x", k.Handler("x", testkit.Status(code)))
			r1 := testkit.Do(t, app, "GET", "/x")
			testkit.Do(t, app, "GET", "/x")
			require.Equal(t, code, r1.Status)
			if cacheable[code] {
				assert.Equal(t, 1, k.Runs())
				assert.Equal(t, "miss", r1.Header.Get("X-Cache"))
			} else {
				assert.Equal(t, 2, k.Runs())
				assert.Equal(t, "", r1.Header.Get("X-Cache"), "no X-Cache on what is not cacheable")
			}
		})
	}
}

// 4. Key: method, scheme, host, path, query, and the Vary'd headers.

func TestKeyParts(t *testing.T) {
	var k testkit.Counter
	app := fiber.New()
	app.Use(New())
	app.Get("/*", k.Handler("x"))
	targets := []string{
		"http://a.example/p", "http://b.example/p", "https://a.example/p",
		"http://a.example/q", "http://a.example/p?x=1", "http://a.example/p?x=2",
		"http://a.example/p?x=1&y=2", "http://a.example/p?y=2&x=1",
	}
	get := func(u string) testkit.Result {
		if rest, ok := strings.CutPrefix(u, "https://"); ok {
			// app.Test speaks plain HTTP; Fiber takes the scheme from
			// X-Forwarded-Proto when it trusts the proxy (by default).
			return testkit.Do(t, app, "GET", "http://"+rest, "X-Forwarded-Proto: https")
		}
		return testkit.Do(t, app, "GET", u)
	}
	for _, u := range targets {
		get(u)
	}
	assert.Equal(t, len(targets), k.Runs(), "each URL has its own key")
	for _, u := range targets {
		assert.Equal(t, "hit", get(u).Header.Get("X-Cache"), u)
	}
	assert.Equal(t, len(targets), k.Runs())
}

func TestVary(t *testing.T) {
	var k testkit.Counter
	app := fiber.New()
	app.Use(New())
	app.Get("/x", func(c *fiber.Ctx) error {
		c.Set("Vary", "Accept-Language")
		return k.Handler("lang=" + c.Get("Accept-Language"))(c)
	})
	assert.Equal(t, "lang=en#1", testkit.Do(t, app, "GET", "/x", "Accept-Language: en").Body)
	assert.Equal(t, "lang=fr#2", testkit.Do(t, app, "GET", "/x", "Accept-Language: fr").Body)
	assert.Equal(t, "lang=#3", testkit.Do(t, app, "GET", "/x").Body)
	assert.Equal(t, "lang=en#1", testkit.Do(t, app, "GET", "/x", "Accept-Language: en").Body)
	assert.Equal(t, "lang=fr#2", testkit.Do(t, app, "GET", "/x", "Accept-Language: fr").Body)
	assert.Equal(t, "lang=#3", testkit.Do(t, app, "GET", "/x").Body)
	assert.Equal(t, 3, k.Runs())
	assert.Equal(t, "hit", testkit.Do(t, app, "GET", "/x", "Accept-Language: en").Header.Get("X-Cache"))
}

func TestVaryNamesAreLearntPerPathAsAUnion(t *testing.T) {
	var k testkit.Counter
	app := fiber.New()
	app.Use(New())
	// The first response varies on Accept-Language, later ones on Accept
	// too: the key uses both from then on.
	app.Get("/x", func(c *fiber.Ctx) error {
		if k.Runs() == 0 {
			c.Set("Vary", "Accept-Language")
		} else {
			c.Set("Vary", "Accept")
		}
		return k.Handler(c.Get("Accept-Language") + "/" + c.Get("Accept"))(c)
	})
	assert.Equal(t, "en/json#1", testkit.Do(t, app, "GET", "/x", "Accept-Language: en", "Accept: json").Body)
	assert.Equal(t, "en/json#1", testkit.Do(t, app, "GET", "/x", "Accept-Language: en", "Accept: json").Body)
	assert.Equal(t, "fr/json#2", testkit.Do(t, app, "GET", "/x", "Accept-Language: fr", "Accept: json").Body)
	assert.Equal(t, "fr/html#3", testkit.Do(t, app, "GET", "/x", "Accept-Language: fr", "Accept: html").Body)
	assert.Equal(t, "fr/json#2", testkit.Do(t, app, "GET", "/x", "Accept-Language: fr", "Accept: json").Body)
	assert.Equal(t, "fr/html#3", testkit.Do(t, app, "GET", "/x", "Accept-Language: fr", "Accept: html").Body)
	assert.Equal(t, 3, k.Runs())
}

func TestLearntVaryNamesApplyToEveryURLOfThePath(t *testing.T) {
	var k testkit.Counter
	app := fiber.New()
	app.Use(New())
	app.Get("/x", func(c *fiber.Ctx) error {
		if c.Query("q") == "" {
			c.Set("Vary", "Accept-Language")
		}
		return k.Handler(c.Get("Accept-Language"))(c)
	})
	testkit.Do(t, app, "GET", "/x", "Accept-Language: en") // learns Accept-Language for /x
	// /x?q=1 answers without Vary, yet is kept per Accept-Language: the
	// names are learnt per path, as in the original library.
	assert.Equal(t, "en#2", testkit.Do(t, app, "GET", "/x?q=1", "Accept-Language: en").Body)
	assert.Equal(t, "fr#3", testkit.Do(t, app, "GET", "/x?q=1", "Accept-Language: fr").Body)
	assert.Equal(t, "en#2", testkit.Do(t, app, "GET", "/x?q=1", "Accept-Language: en").Body)
	assert.Equal(t, 3, k.Runs())
}

func TestVaryStarIsNeverStored(t *testing.T) {
	var k testkit.Counter
	app := fiber.New()
	app.Use(New())
	app.Get("/x", k.Handler("x", testkit.Header("Vary", "Accept, *")))
	testkit.Do(t, app, "GET", "/x")
	testkit.Do(t, app, "GET", "/x")
	assert.Equal(t, 2, k.Runs())
}

func TestVaryCaseAndRepeatedHeaders(t *testing.T) {
	var k testkit.Counter
	app := fiber.New()
	app.Use(New())
	app.Get("/x", func(c *fiber.Ctx) error {
		c.Response().Header.Add("Vary", "accept-language")
		c.Response().Header.Add("Vary", "X-Tenant , ACCEPT-LANGUAGE")
		return k.Handler(c.Get("X-Tenant"))(c)
	})
	testkit.Do(t, app, "GET", "/x", "X-Tenant: a", "Accept-Language: en")
	testkit.Do(t, app, "GET", "/x", "X-Tenant: b", "Accept-Language: en")
	assert.Equal(t, "a#1", testkit.Do(t, app, "GET", "/x", "X-Tenant: a", "Accept-Language: en").Body)
	assert.Equal(t, "b#2", testkit.Do(t, app, "GET", "/x", "X-Tenant: b", "Accept-Language: en").Body)
	assert.Equal(t, 2, k.Runs())
}

func TestKeyPrefixAndVersion(t *testing.T) {
	s := testkit.NewStorage()
	app := fiber.New()
	app.Use(New(WithStorage(s), WithKeyPrefix("shop:")))
	var k testkit.Counter
	app.Get("/x", k.Handler("x"))
	testkit.Do(t, app, "GET", "/x")
	require.NotEmpty(t, s.Keys())
	// <prefix>v3:{<hash tag>}:p (path record), :n (Vary names: here the
	// request's cookies, cookies.go), :e:<hash> (entry); every key of a
	// path shares the tag (Redis Cluster slot); and one namespace record,
	// <prefix>v3:{<namespace's hash tag>}:epoch (a plain storage writes
	// tag records only when a tag is invalidated).
	keyRE := regexp.MustCompile(`^shop:v3:(?:\{[0-9a-f]{24}\}:(p|n|e:[0-9a-f]{32})|\{[0-9a-f]{16}\}:(epoch))$`)
	kinds := map[string]bool{}
	for _, key := range s.Keys() {
		m := keyRE.FindStringSubmatch(key)
		if assert.NotNil(t, m, key) {
			kinds[m[1]+m[2]] = true
		}
	}
	assert.True(t, kinds["p"] && kinds["n"] && kinds["epoch"], "a path record, its names, an entry and the epoch: %v", s.Keys())
	assert.Len(t, s.Keys(), 4, "%v", s.Keys())

	// Two apps, one storage, two prefixes: neither sees the other's entries.
	app2 := fiber.New()
	app2.Use(New(WithStorage(s), WithKeyPrefix("blog:")))
	var k2 testkit.Counter
	app2.Get("/x", k2.Handler("other"))
	assert.Equal(t, "other#1", testkit.Do(t, app2, "GET", "/x").Body)
	assert.Equal(t, "x#1", testkit.Do(t, app, "GET", "/x").Body)
}

// 5. Freshness.

func TestMaxAgeAndExpiresAdvertised(t *testing.T) {
	app := fiber.New()
	app.Use(New(WithTTL(2 * time.Minute)))
	var k testkit.Counter
	app.Get("/x", k.Handler("x", testkit.Header("Cache-Control", "public, max-age=600, no-transform")))
	app.Get("/short", k.Handler("s", testkit.Header("Cache-Control", "max-age=30")))
	before := time.Now().Truncate(time.Second)
	r := testkit.Do(t, app, "GET", "/x")
	assert.Equal(t, "public, max-age=120, no-transform", r.Header.Get("Cache-Control"))
	exp, err := http.ParseTime(r.Header.Get("Expires"))
	require.NoError(t, err)
	assert.WithinDuration(t, before.Add(2*time.Minute), exp, 2*time.Second)

	assert.Equal(t, "max-age=30", testkit.Do(t, app, "GET", "/short").Header.Get("Cache-Control"))
	h := testkit.Do(t, app, "GET", "/short")
	assert.Equal(t, "max-age=30", h.Header.Get("Cache-Control"))
	assert.Equal(t, "0", h.Header.Get("Age"))
	assert.Equal(t, "hit", h.Header.Get("X-Cache"))
}

func TestNoTTLMeansForever(t *testing.T) {
	// Without WithTTL the server keeps the entry until invalidated, and
	// clients are told to revalidate (no-cache plus a validator), never a
	// lifetime an invalidation could not reach.
	s := testkit.NewStorage()
	app := fiber.New()
	app.Use(New(WithStorage(s)))
	var k testkit.Counter
	app.Get("/x", k.Handler("x"))
	before := time.Now().Add(-time.Second)
	r := testkit.Do(t, app, "GET", "/x")
	assert.Equal(t, "no-cache", r.Header.Get("Cache-Control"))
	assert.NotEmpty(t, r.Header.Get("ETag"))
	if e := r.Header.Get("Expires"); e != "" {
		exp, err := http.ParseTime(e)
		require.NoError(t, err)
		assert.False(t, exp.After(time.Now().Add(time.Second)), "no Expires in the future: %s", e)
		assert.False(t, exp.Before(before), e)
	}
	assert.Equal(t, time.Duration(0), s.LastExp(), "stored without expiry")
	h := testkit.Do(t, app, "GET", "/x")
	assert.Equal(t, "hit", h.Header.Get("X-Cache"))
	assert.Equal(t, "no-cache", h.Header.Get("Cache-Control"))
	assert.Equal(t, r.Header.Get("ETag"), h.Header.Get("ETag"))
	assert.Equal(t, 1, k.Runs())
}

func TestTTLZeroStoresNothing(t *testing.T) {
	s := testkit.NewStorage()
	app := fiber.New()
	app.Use(New(WithTTL(0), WithStorage(s)))
	var k testkit.Counter
	app.Get("/x", k.Handler("x"))
	r := testkit.Do(t, app, "GET", "/x")
	testkit.Do(t, app, "GET", "/x")
	assert.Equal(t, 2, k.Runs())
	assert.Equal(t, "", r.Header.Get("X-Cache"))
	assert.Equal(t, "", r.Header.Get("Cache-Control"))
	c := s.Counts()
	assert.Zero(t, c.Gets+c.Sets, "caching off touches no storage")
}

func TestEntriesExpire(t *testing.T) {
	for name, opts := range map[string][]Option{
		"memory":  {WithTTL(200 * time.Millisecond)},
		"storage": {WithTTL(200 * time.Millisecond), WithStorage(testkit.NewStorage())},
	} {
		t.Run(name, func(t *testing.T) {
			clock := newFakeClock()
			app := fiber.New()
			app.Use(New(append(opts, withClock(clock.now))...))
			var k testkit.Counter
			app.Get("/x", k.Handler("x"))
			testkit.Do(t, app, "GET", "/x")
			clock.advance(199 * time.Millisecond)
			testkit.Do(t, app, "GET", "/x")
			require.Equal(t, 1, k.Runs())
			clock.advance(2 * time.Millisecond)
			assert.Equal(t, "x#2", testkit.Do(t, app, "GET", "/x").Body)
		})
	}
}

func TestResponseFreshnessLowersTTL(t *testing.T) {
	// expires gives the Expires header at the case's own now (a date in
	// whole seconds: the lifetime it states is up to 1 s shorter).
	expires := func(d time.Duration) func(now time.Time) string {
		return func(now time.Time) string { return now.Add(d).UTC().Format(http.TimeFormat) }
	}
	cases := []struct {
		name         string
		cc           string
		expires      func(now time.Time) string
		store, adver time.Duration
	}{
		{"none", "", nil, 120 * time.Second, 120 * time.Second},
		{"max-age lower", "max-age=30", nil, 30 * time.Second, 30 * time.Second},
		{"max-age higher", "max-age=600", nil, 120 * time.Second, 120 * time.Second},
		{"s-maxage first", "s-maxage=10, max-age=60", nil, 10 * time.Second, 60 * time.Second},
		{"expires", "", expires(45 * time.Second), 45 * time.Second, 45 * time.Second},
		{"max-age beats expires", "max-age=20", expires(45 * time.Second), 20 * time.Second, 20 * time.Second},
		{"expires in the past", "", expires(-time.Hour), 0, 0},
		{"invalid expires", "", func(time.Time) string { return "0" }, 0, 0},
		{"max-age=0", "max-age=0", nil, 0, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := testkit.NewStorage()
			app := fiber.New()
			app.Use(New(WithTTL(2*time.Minute), WithStorage(s)))
			var k testkit.Counter
			var exp string
			app.Get("/x", k.Handler("x", func(c *fiber.Ctx) {
				if tc.cc != "" {
					c.Set("Cache-Control", tc.cc)
				}
				if tc.expires != nil {
					exp = tc.expires(time.Now())
					c.Set("Expires", exp)
				}
			}))
			r := testkit.Do(t, app, "GET", "/x")
			testkit.Do(t, app, "GET", "/x")
			if tc.store == 0 {
				assert.Equal(t, 2, k.Runs(), "not stored")
				return
			}
			assert.Equal(t, 1, k.Runs())
			// Rounding happens only where the lifetime comes from an
			// Expires date (whole seconds) rather than max-age.
			var rounding time.Duration
			if exp != "" && tc.cc == "" {
				rounding = time.Second
			}
			// Stored for the lifetime, less the time the request took.
			assert.LessOrEqual(t, s.LastExpOf("entry"), tc.store)
			assert.Greater(t, s.LastExpOf("entry"), tc.store-rounding-500*time.Millisecond, "stored for %v", s.LastExpOf("entry"))
			m := regexp.MustCompile(`(?:^|, )max-age=(\d+)`).FindStringSubmatch(r.Header.Get("Cache-Control"))
			require.NotNil(t, m, r.Header.Get("Cache-Control"))
			maxAge, _ := strconv.Atoi(m[1])
			adver := time.Duration(maxAge) * time.Second
			assert.LessOrEqual(t, adver, tc.adver, "max-age=%d", maxAge)
			assert.GreaterOrEqual(t, adver, tc.adver-rounding, "max-age=%d", maxAge)
		})
	}
}

func TestNoStoreAndPrivateAreNeverStored(t *testing.T) {
	// Qualified private and no-cache name fields that must not be shared
	// (reused without revalidation): the cache does not strip them, so it
	// reads them unqualified, as RFC 9111 §5.2.2.4 and §5.2.2.7 allow.
	for _, cc := range []string{"no-store", "private", "private=\"Set-Cookie\"", "private=\"X-User\"", "max-age=60, PRIVATE",
		"no-cache", "no-cache=\"X-User\"", "No-Store, max-age=60"} {
		t.Run(cc, func(t *testing.T) {
			app := fiber.New()
			app.Use(New(WithTTL(time.Minute)))
			var k testkit.Counter
			app.Get("/x", k.Handler("x", testkit.Header("Cache-Control", cc), func(c *fiber.Ctx) { c.Set("X-User", "user"+strconv.Itoa(k.Runs())) }))
			r := testkit.Do(t, app, "GET", "/x")
			r2 := testkit.Do(t, app, "GET", "/x")
			assert.Equal(t, 2, k.Runs())
			assert.Equal(t, cc, r.Header.Get("Cache-Control"), "left as the handler said")
			assert.Equal(t, "user2", r2.Header.Get("X-User"), "one user's field never reaches another")
			assert.NotEqual(t, "hit", r2.Header.Get("X-Cache"))
		})
	}
}

func TestAuthorizedRequests(t *testing.T) {
	app := fiber.New()
	app.Use(New(WithTTL(time.Minute)))
	var plain, public testkit.Counter
	app.Get("/plain", plain.Handler("p"))
	app.Get("/public", public.Handler("q", testkit.Header("Cache-Control", "public")))
	testkit.Do(t, app, "GET", "/plain", "Authorization: Bearer a")
	assert.Equal(t, "p#2", testkit.Do(t, app, "GET", "/plain", "Authorization: Bearer b").Body, "a private answer is not shared")
	testkit.Do(t, app, "GET", "/public", "Authorization: Bearer a")
	testkit.Do(t, app, "GET", "/public", "Authorization: Bearer b")
	assert.Equal(t, 1, public.Runs(), "Cache-Control: public allows it")
}

func TestAgeAndStoredHeadersReplayed(t *testing.T) {
	s := testkit.NewStorage()
	app := fiber.New()
	app.Use(New(WithTTL(time.Hour), WithStorage(s)))
	var k testkit.Counter
	app.Get("/x", k.Handler("x", testkit.Header("Cache-Control", "max-age=600"), testkit.Header("Link", "</a>"), testkit.Header("Link", "</b>"), testkit.Header("X-Custom", "1")))
	first := testkit.Do(t, app, "GET", "/x")

	// Age the stored entry by 42 seconds.
	aged := 0
	for _, key := range s.Keys() {
		if !strings.Contains(key, "}:e:") {
			continue // the path record
		}
		v, err := s.Get(key)
		require.NoError(t, err)
		e, err := entry.Decode(v)
		require.NoError(t, err)
		if e != nil {
			e.Stored -= int64(42 * time.Second)
			require.NoError(t, s.Set(key, entry.Encode(e), 0))
			aged++
		}
	}
	require.Equal(t, 1, aged)
	hit := testkit.Do(t, app, "GET", "/x")
	assert.Equal(t, 1, k.Runs())
	assert.Equal(t, "42", hit.Header.Get("Age"))
	assert.Equal(t, first.Header.Get("Expires"), hit.Header.Get("Expires"))
	assert.Equal(t, "max-age=600", hit.Header.Get("Cache-Control"))
	assert.Equal(t, []string{"</a>", "</b>"}, hit.Header.Values("Link"))
	assert.Equal(t, "1", hit.Header.Get("X-Custom"))
	assert.Equal(t, first.Header.Get("Content-Type"), hit.Header.Get("Content-Type"))
}

// 6. The X-Cache header.

func TestCacheHeaderOption(t *testing.T) {
	var k testkit.Counter
	app := fiber.New()
	app.Get("/renamed", New(WithCacheHeader("x-fiber-cache")), k.Handler("r"))
	app.Get("/off", New(WithCacheHeader("")), k.Handler("o"))
	assert.Equal(t, "miss", testkit.Do(t, app, "GET", "/renamed").Header.Get("X-Fiber-Cache"))
	r := testkit.Do(t, app, "GET", "/renamed")
	assert.Equal(t, "hit", r.Header.Get("X-Fiber-Cache"))
	assert.Equal(t, "", r.Header.Get("X-Cache"))
	testkit.Do(t, app, "GET", "/off")
	r = testkit.Do(t, app, "GET", "/off")
	assert.Equal(t, "", r.Header.Get("X-Cache"))
	assert.Equal(t, 2, k.Runs())
}

// 7. Cookies, streams, sizes, hop-by-hop headers.

func TestSetCookie(t *testing.T) {
	app := fiber.New()
	app.Use(New())
	var k testkit.Counter
	app.Get("/x", k.Handler("x", func(c *fiber.Ctx) { c.Cookie(&fiber.Cookie{Name: "session", Value: "s3cret"}) }))
	r := testkit.Do(t, app, "GET", "/x")
	testkit.Do(t, app, "GET", "/x")
	assert.Equal(t, 2, k.Runs(), "Set-Cookie to a cookieless request is not stored")
	assert.Contains(t, r.Header.Get("Set-Cookie"), "s3cret")

	// To a request with cookies it is stored, without the Set-Cookie.
	testkit.Do(t, app, "GET", "/x?c", "Cookie: a=1")
	hit := testkit.Do(t, app, "GET", "/x?c", "Cookie: a=1")
	assert.Equal(t, 3, k.Runs())
	assert.Equal(t, "hit", hit.Header.Get("X-Cache"))
	assert.Empty(t, hit.Header.Values("Set-Cookie"), "a cookie is never replayed")
}

func TestStreamedBodyIsNotStored(t *testing.T) {
	app := fiber.New()
	app.Use(New())
	var k testkit.Counter
	app.Get("/x", func(c *fiber.Ctx) error {
		k.Handler("")(c)
		c.Context().SetBodyStreamWriter(func(w *bufio.Writer) { w.WriteString("streamed") })
		return nil
	})
	assert.Equal(t, "streamed", testkit.Do(t, app, "GET", "/x").Body)
	assert.Equal(t, "streamed", testkit.Do(t, app, "GET", "/x").Body)
	assert.Equal(t, 2, k.Runs())
}

func TestMaxBodySize(t *testing.T) {
	app := fiber.New()
	app.Use(New(WithMaxBodySize(10)))
	var k testkit.Counter
	app.Get("/small", k.Handler("small"))
	app.Get("/large", k.Handler("a large body"))
	testkit.Do(t, app, "GET", "/small")
	testkit.Do(t, app, "GET", "/small")
	assert.Equal(t, "a large body#2", testkit.Do(t, app, "GET", "/large").Body)
	assert.Equal(t, "a large body#3", testkit.Do(t, app, "GET", "/large").Body)
	assert.Equal(t, 3, k.Runs())
}

func TestHopByHopHeadersAreNotStored(t *testing.T) {
	s := testkit.NewStorage()
	app := fiber.New()
	app.Use(New(WithStorage(s)))
	var k testkit.Counter
	app.Get("/x", k.Handler("x",
		testkit.Header("Keep-Alive", "timeout=5"), testkit.Header("Upgrade", "h2c"), testkit.Header("X-Conn-Private", "1"),
		testkit.Header("Connection", "X-Conn-Private"), testkit.Header("Proxy-Authenticate", "Basic"), testkit.Header("X-Kept", "yes")))
	testkit.Do(t, app, "GET", "/x")
	var stored *entry.Entry
	for _, key := range s.Keys() {
		v, err := s.Get(key)
		require.NoError(t, err)
		if e, err := entry.Decode(v); err == nil && e != nil {
			stored = e
		}
	}
	require.NotNil(t, stored)
	var names []string
	for _, h := range stored.Headers {
		names = append(names, strings.ToLower(string(h.Key)))
	}
	assert.Contains(t, names, "x-kept")
	for _, n := range []string{"keep-alive", "upgrade", "x-conn-private", "connection", "proxy-authenticate", "set-cookie", "content-length", "date", "x-cache"} {
		assert.NotContains(t, names, n)
	}
}

func TestHeadersFromEarlierMiddlewareAreNotReplayed(t *testing.T) {
	app := fiber.New()
	id := 0
	app.Use(func(c *fiber.Ctx) error {
		id++
		c.Set("X-Request-Id", strconv.Itoa(id))
		return c.Next()
	})
	app.Use(New())
	var k testkit.Counter
	app.Get("/x", k.Handler("x"))
	assert.Equal(t, "1", testkit.Do(t, app, "GET", "/x").Header.Get("X-Request-Id"))
	r := testkit.Do(t, app, "GET", "/x")
	assert.Equal(t, "hit", r.Header.Get("X-Cache"))
	assert.Equal(t, "2", r.Header.Get("X-Request-Id"))
}

// 8. Rules.

func TestRules(t *testing.T) {
	s := testkit.NewStorage()
	app := fiber.New()
	app.Use(New(WithTTL(time.Minute), WithStorage(s), WithRules(
		Rule{Match: []string{"/skip"}, Skip: true},
		Rule{Match: []string{"/short"}, TTL: 5 * time.Second},
		Rule{Regexp: regexp.MustCompile(`^/items/\d+$`), Status: []int{200}},
		Rule{Match: []string{"/found-only"}, Status: []int{404}, TTL: 3 * time.Second},
	)))
	var k testkit.Counter
	app.Get("/skip", k.Handler("skip"))
	app.Get("/short", k.Handler("short"))
	app.Get("/items/:id", func(c *fiber.Ctx) error {
		if c.Params("id") == "0" {
			c.Status(404)
		}
		return k.Handler("item")(c)
	})
	app.Get("/found-only", k.Handler("f", testkit.Status(404)))
	app.Get("/other", k.Handler("other"))

	twice := func(path string) int {
		before := k.Runs()
		testkit.Do(t, app, "GET", path)
		testkit.Do(t, app, "GET", path)
		return k.Runs() - before
	}
	assert.Equal(t, 2, twice("/skip"), "Skip")
	assert.Equal(t, 1, twice("/short"))
	assert.Equal(t, "max-age=5", testkit.Do(t, app, "GET", "/short").Header.Get("Cache-Control"), "rule TTL")
	assert.Equal(t, 1, twice("/items/7"), "regexp")
	assert.Equal(t, 2, twice("/items/0"), "status not in the rule")
	assert.Equal(t, 1, twice("/found-only"), "404 rule")
	assert.Equal(t, 2, twice("/other"), "no rule matches: not cached")

	// The first rule wins.
	app2 := fiber.New()
	var k2 testkit.Counter
	app2.Use(New(WithRules(Rule{Match: []string{"*"}, Skip: true}, Rule{})))
	app2.Get("/x", k2.Handler("x"))
	testkit.Do(t, app2, "GET", "/x")
	testkit.Do(t, app2, "GET", "/x")
	assert.Equal(t, 2, k2.Runs())
}

// TestRules_MatchFollowsRouting: a Match path is compared as the app's
// router compares paths, so a rule covers every spelling that shares a
// key (case folded unless CaseSensitive, trailing slashes ignored unless
// StrictRouting); a Regexp sees the path as sent.
func TestRules_MatchFollowsRouting(t *testing.T) {
	cases := []struct {
		name   string
		cfg    fiber.Config
		rule   Rule
		route  string
		target string
		runs   int // handler runs for two GETs: 2 when the Skip rule matched
	}{
		{"exact", fiber.Config{}, Rule{Match: []string{"/health"}, Skip: true}, "/health", "/health", 2},
		{"case folded", fiber.Config{}, Rule{Match: []string{"/health"}, Skip: true}, "/health", "/Health", 2},
		{"rule in another case", fiber.Config{}, Rule{Match: []string{"/Health"}, Skip: true}, "/health", "/health", 2},
		{"trailing slash", fiber.Config{}, Rule{Match: []string{"/health"}, Skip: true}, "/health", "/health/", 2},
		{"rule with a trailing slash", fiber.Config{}, Rule{Match: []string{"/health/"}, Skip: true}, "/health", "/health", 2},
		{"CaseSensitive: another route", fiber.Config{CaseSensitive: true}, Rule{Match: []string{"/health"}, Skip: true}, "/Health", "/Health", 1},
		{"StrictRouting: another route", fiber.Config{StrictRouting: true}, Rule{Match: []string{"/health"}, Skip: true}, "/health/", "/health/", 1},
		{"Regexp: the path as sent", fiber.Config{}, Rule{Regexp: regexp.MustCompile(`^/health$`), Skip: true}, "/health", "/Health", 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			app := fiber.New(tc.cfg)
			app.Use(New(WithTTL(time.Minute), WithRules(tc.rule, Rule{})))
			var k testkit.Counter
			app.Get(tc.route, k.Handler("ok"))
			for range 2 {
				require.Equal(t, fiber.StatusOK, testkit.Do(t, app, "GET", tc.target).Status)
			}
			assert.Equal(t, tc.runs, k.Runs())
		})
	}
}

func TestInvalidOptionsPanicWithAHint(t *testing.T) {
	assert.PanicsWithValue(t, "fibercache: WithTTL(-1s): the TTL must not be negative; use WithTTL(0) to turn caching off", func() { New(WithTTL(-time.Second)) })
	assert.Panics(t, func() { New(WithStorage(nil)) })
	assert.Panics(t, func() { New(WithMaxMemory(0)) })
	assert.Panics(t, func() { New(WithRules(Rule{Match: []string{"/a"}, Regexp: regexp.MustCompile("b")})) })
}

// 9. Storage.

func TestStorageGetsCompactBinary(t *testing.T) {
	s := testkit.NewStorage()
	app := fiber.New()
	app.Use(New(WithStorage(s)))
	body := strings.Repeat("b", 1000)
	app.Get("/x", func(c *fiber.Ctx) error { return c.SendString(body) })
	testkit.Do(t, app, "GET", "/x")
	var resp []byte
	for _, key := range s.Keys() {
		v, err := s.Get(key)
		require.NoError(t, err)
		if e, err := entry.Decode(v); err == nil && e != nil {
			resp = v
		}
	}
	require.NotNil(t, resp)
	assert.True(t, bytes.HasPrefix(resp, []byte("fc\x03")), "versioned format")
	assert.True(t, bytes.Contains(resp, []byte(body)), "body stored raw, not base64")
	// Beyond the body: the key material, the times, the tags (the route's) and the headers
	// (Content-Type, Cache-Control, Expires, ETag), never base64's third.
	assert.Less(t, len(resp), len(body)+340, "compact")
}

func TestGarbageInStorageIsAMissAndIsDeleted(t *testing.T) {
	for name, garbage := range map[string][]byte{
		"json":      []byte(`{"status":200,"body":"x"}`),
		"truncated": []byte("fc\x01\x01\x00\xc8"),
		"future":    []byte("fc\x09\x01"),
		"empty-ish": {0},
	} {
		t.Run(name, func(t *testing.T) {
			s := testkit.NewStorage()
			app := fiber.New()
			app.Use(New(WithStorage(s)))
			var k testkit.Counter
			app.Get("/x", k.Handler("x"))
			testkit.Do(t, app, "GET", "/x")
			for _, key := range s.Keys() {
				v, err := s.Get(key)
				require.NoError(t, err)
				if e, _ := entry.Decode(v); e != nil {
					require.NoError(t, s.Set(key, garbage, 0))
				}
			}
			r := testkit.Do(t, app, "GET", "/x")
			assert.Equal(t, 200, r.Status)
			assert.Equal(t, "x#2", r.Body)
			assert.Equal(t, "hit", testkit.Do(t, app, "GET", "/x").Header.Get("X-Cache"), "replaced by a good entry")
		})
	}
}

// A plain storage's first requests, all at once, each find no epoch
// record: one of them writes it, and every one of them stores its entry
// under it (each writing its own would leave all but one stored under an
// epoch that is gone: a miss more for each).
func TestStorageColdStartStoresEveryFirstRequest(t *testing.T) {
	s := testkit.NewStorage()
	const n = 8
	var arrived sync.WaitGroup
	arrived.Add(n)
	var epochReads atomic.Int32
	s.SetHooks(func(op testkit.Op) {
		if op.Name == "get" && op.Kind == "epoch" && epochReads.Add(1) <= n {
			// Hold the first reads of the epoch until every request has
			// made one: without the lock, all find it absent.
			arrived.Done()
			arrived.Wait()
		}
	}, nil)
	app := fiber.New()
	app.Use(New(WithStorage(s)))
	var k testkit.Counter
	app.Get("/items/:id", k.Handler("item"))
	var wg sync.WaitGroup
	var stored atomic.Int32
	for i := range n {
		wg.Go(func() {
			r := testkit.Do(t, app, "GET", fmt.Sprintf("/items/%d", i))
			if strings.HasSuffix(r.Header.Get("Cache-Status"), "; stored") {
				stored.Add(1)
			}
		})
	}
	wg.Wait()
	assert.EqualValues(t, n, stored.Load(), "every first request stored")
	for i := range n {
		assert.Equal(t, "hit", testkit.Do(t, app, "GET", fmt.Sprintf("/items/%d", i)).Header.Get("X-Cache"), "/items/%d", i)
	}
	assert.Equal(t, n, k.Runs())
}

var errStorageDown = errors.New("storage down")

func TestStorageDownServesTheHandler(t *testing.T) {
	s := testkit.NewStorage()
	var logs bytes.Buffer
	clock := newFakeClock()
	m := NewCache(WithStorage(s), WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))),
		WithStoragePause(200*time.Millisecond), withClock(clock.now))
	app := fiber.New()
	app.Use(m.Handler())
	var k testkit.Counter
	app.Get("/x", k.Handler("x"))
	app.Post("/x", k.Handler("post"))
	testkit.Do(t, app, "GET", "/x")
	s.Fail(errStorageDown)
	r := testkit.Do(t, app, "GET", "/x")
	assert.Equal(t, 200, r.Status)
	assert.Equal(t, "x#2", r.Body)
	assert.Equal(t, "", r.Header.Get("X-Cache"), "nothing was stored")

	// Meanwhile the storage is left alone, and requests still work.
	c := s.Counts()
	calls := c.Gets + c.Sets + c.Deletes
	assert.Equal(t, 200, testkit.Do(t, app, "GET", "/x").Status)
	assert.Equal(t, 200, testkit.Do(t, app, "POST", "/x").Status)
	c = s.Counts()
	assert.Equal(t, calls, c.Gets+c.Sets+c.Deletes, "paused after a failure")
	assert.Equal(t, 4, k.Runs())
	assert.Contains(t, logs.String(), "storage_error")
	assert.Contains(t, logs.String(), "storage down")

	s.Fail(nil)
	clock.advance(250 * time.Millisecond)
	// The POST's invalidation is retried (every pause, in real time) until
	// it lands; then the path is cached again.
	eventually(t, func() bool {
		testkit.Do(t, app, "GET", "/x")
		return testkit.Do(t, app, "GET", "/x").Header.Get("X-Cache") == "hit"
	}, "back to caching when storage is back")
}

// 10. Logging.

func TestLogs(t *testing.T) {
	// Messages are fixed; what varies is in slog attributes.
	var logs bytes.Buffer
	l := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: LevelTrace}))
	app := fiber.New()
	app.Use(New(WithTTL(2*time.Minute), WithLogger(l)))
	var k testkit.Counter
	app.Get("/x", k.Handler("x"))
	app.Get("/err", k.Handler("e", testkit.Status(500)))
	app.Get("/cookie", k.Handler("c", func(c *fiber.Ctx) { c.Cookie(&fiber.Cookie{Name: "a", Value: "b"}) }))
	testkit.Do(t, app, "GET", "/x")
	testkit.Do(t, app, "GET", "/x")
	testkit.Do(t, app, "GET", "/err")
	testkit.Do(t, app, "GET", "/cookie")
	out := logs.String()
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`level=DEBUG msg="cache_lookup MISS" method=GET url=/x\n`),
		// cookie*: keyed by the request's cookies (app mode, not public).
		regexp.MustCompile(`level=DEBUG msg=store_in_cache method=GET url=/x max_age=120 vary=\[cookie\*\] status=200\n`),
		regexp.MustCompile(`level=DEBUG msg="cache_lookup HIT" method=GET url=/x .*\bage=0\b`),
		regexp.MustCompile(`msg=response_not_cachable method=GET url=/err reason=status_code status=500\n`),
		regexp.MustCompile(`msg=response_not_cachable method=GET url=/cookie reason=cookies_for_cookieless_request status=200\n`),
	} {
		assert.Regexp(t, want, out)
	}
	assert.NotContains(t, out, "store_in_cache method=GET url=/err")

	logs.Reset()
	l = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	app = fiber.New()
	app.Use(New(WithLogger(l)))
	app.Get("/x", k.Handler("x"))
	testkit.Do(t, app, "GET", "/x")
	testkit.Do(t, app, "GET", "/x")
	assert.Regexp(t, `msg=store_in_cache method=GET url=/x .*\bmax_age=-1\b`, logs.String(), "no TTL: kept until invalidated")
	assert.Contains(t, logs.String(), "cache_lookup HIT")
	assert.NotContains(t, logs.String(), "response_not_cachable", "trace is off at debug")
	assert.NotContains(t, logs.String(), "DEBUG-4")
}

func TestLogLevelFromEnvironment(t *testing.T) {
	for _, v := range []string{"debug", "TRACE", "Debug"} {
		t.Setenv(EnvLogLevel, v)
		assert.NotNil(t, core.LoggerFromEnv(), v)
	}
	for _, v := range []string{"", "info", "verbose"} {
		t.Setenv(EnvLogLevel, v)
		assert.Nil(t, core.LoggerFromEnv(), v)
	}
	t.Setenv(EnvLogLevel, "trace")
	m := NewCache()
	assert.True(t, m.c.LogEnabled(LevelTrace))
	t.Setenv(EnvLogLevel, "")
	assert.False(t, NewCache().c.LogEnabled(slog.LevelError), "silent by default")
}

func TestPartialContentIsNeverStored(t *testing.T) {
	// A 206 is never stored; ranges are answered from a stored 200, and
	// the handler is asked for the whole representation.
	app := fiber.New()
	app.Use(New())
	var k, p testkit.Counter
	app.Get("/file", func(c *fiber.Ctx) error {
		assert.Empty(t, c.Get(fiber.HeaderRange), "the handler never sees Range")
		return k.Handler("0123456789")(c)
	})
	app.Get("/partial", p.Handler("pa", testkit.Status(206), testkit.Header(fiber.HeaderContentRange, "bytes 0-1/10")))
	r := testkit.Do(t, app, "GET", "/file", "Range: bytes=0-1")
	assert.Equal(t, 206, r.Status)
	assert.Equal(t, "01", r.Body)
	assert.Equal(t, "bytes 0-1/12", r.Header.Get(fiber.HeaderContentRange))
	full := testkit.Do(t, app, "GET", "/file")
	assert.Equal(t, 200, full.Status)
	assert.Equal(t, "0123456789#1", full.Body)
	assert.Equal(t, "hit", full.Header.Get("X-Cache"))
	again := testkit.Do(t, app, "GET", "/file", "Range: bytes=2-3")
	assert.Equal(t, 206, again.Status)
	assert.Equal(t, "23", again.Body)
	assert.Equal(t, "hit", again.Header.Get("X-Cache"))
	assert.Equal(t, 1, k.Runs(), "one stored 200 answers every range")

	testkit.Do(t, app, "GET", "/partial")
	assert.Equal(t, 206, testkit.Do(t, app, "GET", "/partial").Status)
	assert.Equal(t, 2, p.Runs(), "a handler's own 206 is not stored")
}

func TestKeyUsesTheHostTheHandlerSees(t *testing.T) {
	// Fiber's c.Hostname() honours X-Forwarded-Host (as it trusts proxies
	// by default). Keyed by the raw Host, a request with a forged
	// X-Forwarded-Host would store links to another site for everyone.
	app := fiber.New()
	app.Use(New())
	var k testkit.Counter
	app.Get("/", func(c *fiber.Ctx) error { return k.Handler("https://" + c.Hostname() + "/login")(c) })
	forged := testkit.Do(t, app, "GET", "http://example.com/", "X-Forwarded-Host: evil.example")
	assert.Equal(t, "https://evil.example/login#1", forged.Body)
	assert.Equal(t, "https://example.com/login#2", testkit.Do(t, app, "GET", "http://example.com/").Body)
	assert.Equal(t, "https://example.com/login#2", testkit.Do(t, app, "GET", "http://example.com/").Body)
	assert.Equal(t, 2, k.Runs())
}
