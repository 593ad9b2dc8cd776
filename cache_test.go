package cache

import (
	"bufio"
	"bytes"
	"errors"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fiber-caches/cache/internal/entry"
	"github.com/gofiber/fiber/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// 1. Application-wide, per route, per group; duplicates fail clearly.

func TestAppRouteAndGroup(t *testing.T) {
	var app1, route1, group1 counter
	app := fiber.New()
	app.Get("/route", New(WithTTL(time.Minute)), route1.handler("route"))
	api := app.Group("/api", New(WithTTL(time.Minute)))
	api.Get("/x", group1.handler("group"))
	app.Get("/plain", app1.handler("plain"))

	for i := 0; i < 3; i++ {
		assert.Equal(t, "route#1", do(t, app, "GET", "/route").body)
		assert.Equal(t, "group#1", do(t, app, "GET", "/api/x").body)
		assert.Equal(t, "plain#"+itoa(i+1), do(t, app, "GET", "/plain").body, "no cache on this route")
	}
	assert.Equal(t, 1, route1.runs())
	assert.Equal(t, 1, group1.runs())

	var k counter
	app = fiber.New()
	app.Use(New(WithTTL(time.Minute)))
	app.Get("/x", k.handler("x"))
	r1, r2 := do(t, app, "GET", "/x"), do(t, app, "GET", "/x")
	assert.Equal(t, "miss", r1.header.Get("X-Cache"))
	assert.Equal(t, "hit", r2.header.Get("X-Cache"))
	assert.Equal(t, r1.body, r2.body)
	assert.Equal(t, 1, k.runs())
}

func TestDuplicateCaching(t *testing.T) {
	t.Run("app and route", func(t *testing.T) {
		var k counter
		app := fiber.New()
		app.Use(New())
		app.Get("/x", New(), k.handler("x"))
		r := do(t, app, "GET", "/x")
		assert.Equal(t, 500, r.status)
		assert.Contains(t, r.body, ErrDuplicateCaching.Error())
		assert.Contains(t, r.body, "keep only one")
		assert.Equal(t, 0, k.runs())
	})
	t.Run("registered twice", func(t *testing.T) {
		mw := New()
		var k counter
		app := fiber.New()
		app.Use(mw)
		app.Get("/x", mw, k.handler("x"))
		r := do(t, app, "GET", "/x")
		assert.Equal(t, 500, r.status)
		assert.Contains(t, r.body, "registered twice")
	})
	t.Run("error wraps", func(t *testing.T) {
		var got error
		app := fiber.New(fiber.Config{ErrorHandler: func(c *fiber.Ctx, err error) error {
			got = err
			return c.SendStatus(500)
		}})
		app.Use(New())
		app.Get("/x", New(), func(c *fiber.Ctx) error { return c.SendString("x") })
		do(t, app, "GET", "/x")
		require.True(t, errors.Is(got, ErrDuplicateCaching), "%v", got)
	})
}

// 2. Only GET and HEAD; HEAD from a stored GET; a stored HEAD never answers a GET.

func TestMethods(t *testing.T) {
	var k counter
	app := fiber.New()
	app.Use(New())
	app.Get("/x", k.handler("x"))
	app.Post("/x", k.handler("post"))
	app.Put("/x", k.handler("put"))

	do(t, app, "POST", "/p") // unknown route: nothing stored, nothing breaks
	assert.Equal(t, "post#1", do(t, app, "POST", "/x").body)
	assert.Equal(t, "post#2", do(t, app, "POST", "/x").body, "POST is never answered from the cache")

	get := do(t, app, "GET", "/x")
	assert.Equal(t, "x#3", get.body)
	head := do(t, app, "HEAD", "/x")
	assert.Equal(t, "hit", head.header.Get("X-Cache"))
	assert.Equal(t, "", head.body)
	assert.Equal(t, 3, k.runs(), "HEAD answered from the stored GET")
}

func TestStoredHeadNeverAnswersGet(t *testing.T) {
	var k counter
	app := fiber.New()
	app.Use(New())
	app.Get("/x", k.handler("x"))
	assert.Equal(t, "miss", do(t, app, "HEAD", "/x").header.Get("X-Cache"))
	assert.Equal(t, "hit", do(t, app, "HEAD", "/x").header.Get("X-Cache"))
	assert.Equal(t, 1, k.runs())
	g := do(t, app, "GET", "/x")
	assert.Equal(t, "x#2", g.body, "GET ran the handler")
	assert.Equal(t, "x#2", do(t, app, "GET", "/x").body)
	assert.Equal(t, 2, k.runs())
}

// 3. Cacheable statuses.

func TestStatuses(t *testing.T) {
	// RFC 9110 §15.1: heuristically cacheable statuses, 308 included. A 206
	// is not stored: ranges are answered from a stored 200.
	cacheable := map[int]bool{200: true, 203: true, 204: true, 300: true, 301: true, 308: true,
		404: true, 405: true, 410: true, 414: true, 501: true}
	for _, code := range []int{200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414, 501, 302, 500, 503, 201, 304, 307} {
		t.Run(strconv.Itoa(code), func(t *testing.T) {
			var k counter
			app := fiber.New()
			app.Use(New())
			app.Get("/x", k.handler("x", status(code)))
			r1 := do(t, app, "GET", "/x")
			do(t, app, "GET", "/x")
			require.Equal(t, code, r1.status)
			if cacheable[code] {
				assert.Equal(t, 1, k.runs())
				assert.Equal(t, "miss", r1.header.Get("X-Cache"))
			} else {
				assert.Equal(t, 2, k.runs())
				assert.Equal(t, "", r1.header.Get("X-Cache"), "no X-Cache on what is not cacheable")
			}
		})
	}
}

// 4. Key: method, scheme, host, path, query, and the Vary'd headers.

func TestKeyParts(t *testing.T) {
	var k counter
	app := fiber.New()
	app.Use(New())
	app.Get("/*", k.handler("x"))
	targets := []string{
		"http://a.example/p", "http://b.example/p", "https://a.example/p",
		"http://a.example/q", "http://a.example/p?x=1", "http://a.example/p?x=2",
		"http://a.example/p?x=1&y=2", "http://a.example/p?y=2&x=1",
	}
	get := func(u string) result {
		if rest, ok := strings.CutPrefix(u, "https://"); ok {
			// app.Test speaks plain HTTP; Fiber takes the scheme from
			// X-Forwarded-Proto when it trusts the proxy (by default).
			return do(t, app, "GET", "http://"+rest, "X-Forwarded-Proto: https")
		}
		return do(t, app, "GET", u)
	}
	for _, u := range targets {
		get(u)
	}
	assert.Equal(t, len(targets), k.runs(), "each URL has its own key")
	for _, u := range targets {
		assert.Equal(t, "hit", get(u).header.Get("X-Cache"), u)
	}
	assert.Equal(t, len(targets), k.runs())
}

func TestVary(t *testing.T) {
	var k counter
	app := fiber.New()
	app.Use(New())
	app.Get("/x", func(c *fiber.Ctx) error {
		c.Set("Vary", "Accept-Language")
		return k.handler("lang=" + c.Get("Accept-Language"))(c)
	})
	assert.Equal(t, "lang=en#1", do(t, app, "GET", "/x", "Accept-Language: en").body)
	assert.Equal(t, "lang=fr#2", do(t, app, "GET", "/x", "Accept-Language: fr").body)
	assert.Equal(t, "lang=#3", do(t, app, "GET", "/x").body)
	assert.Equal(t, "lang=en#1", do(t, app, "GET", "/x", "Accept-Language: en").body)
	assert.Equal(t, "lang=fr#2", do(t, app, "GET", "/x", "Accept-Language: fr").body)
	assert.Equal(t, "lang=#3", do(t, app, "GET", "/x").body)
	assert.Equal(t, 3, k.runs())
	assert.Equal(t, "hit", do(t, app, "GET", "/x", "Accept-Language: en").header.Get("X-Cache"))
}

func TestVaryNamesAreLearntPerPathAsAUnion(t *testing.T) {
	var k counter
	app := fiber.New()
	app.Use(New())
	// The first response varies on Accept-Language, later ones on Accept
	// too: the key uses both from then on.
	app.Get("/x", func(c *fiber.Ctx) error {
		if k.runs() == 0 {
			c.Set("Vary", "Accept-Language")
		} else {
			c.Set("Vary", "Accept")
		}
		return k.handler(c.Get("Accept-Language") + "/" + c.Get("Accept"))(c)
	})
	assert.Equal(t, "en/json#1", do(t, app, "GET", "/x", "Accept-Language: en", "Accept: json").body)
	assert.Equal(t, "en/json#1", do(t, app, "GET", "/x", "Accept-Language: en", "Accept: json").body)
	assert.Equal(t, "fr/json#2", do(t, app, "GET", "/x", "Accept-Language: fr", "Accept: json").body)
	assert.Equal(t, "fr/html#3", do(t, app, "GET", "/x", "Accept-Language: fr", "Accept: html").body)
	assert.Equal(t, "fr/json#2", do(t, app, "GET", "/x", "Accept-Language: fr", "Accept: json").body)
	assert.Equal(t, "fr/html#3", do(t, app, "GET", "/x", "Accept-Language: fr", "Accept: html").body)
	assert.Equal(t, 3, k.runs())
}

func TestLearntVaryNamesApplyToEveryURLOfThePath(t *testing.T) {
	var k counter
	app := fiber.New()
	app.Use(New())
	app.Get("/x", func(c *fiber.Ctx) error {
		if c.Query("q") == "" {
			c.Set("Vary", "Accept-Language")
		}
		return k.handler(c.Get("Accept-Language"))(c)
	})
	do(t, app, "GET", "/x", "Accept-Language: en") // learns Accept-Language for /x
	// /x?q=1 answers without Vary, yet is kept per Accept-Language: the
	// names are learnt per path, as in the original library.
	assert.Equal(t, "en#2", do(t, app, "GET", "/x?q=1", "Accept-Language: en").body)
	assert.Equal(t, "fr#3", do(t, app, "GET", "/x?q=1", "Accept-Language: fr").body)
	assert.Equal(t, "en#2", do(t, app, "GET", "/x?q=1", "Accept-Language: en").body)
	assert.Equal(t, 3, k.runs())
}

func TestVaryStarIsNeverStored(t *testing.T) {
	var k counter
	app := fiber.New()
	app.Use(New())
	app.Get("/x", k.handler("x", header("Vary", "Accept, *")))
	do(t, app, "GET", "/x")
	do(t, app, "GET", "/x")
	assert.Equal(t, 2, k.runs())
}

func TestVaryCaseAndRepeatedHeaders(t *testing.T) {
	var k counter
	app := fiber.New()
	app.Use(New())
	app.Get("/x", func(c *fiber.Ctx) error {
		c.Response().Header.Add("Vary", "accept-language")
		c.Response().Header.Add("Vary", "X-Tenant , ACCEPT-LANGUAGE")
		return k.handler(c.Get("X-Tenant"))(c)
	})
	do(t, app, "GET", "/x", "X-Tenant: a", "Accept-Language: en")
	do(t, app, "GET", "/x", "X-Tenant: b", "Accept-Language: en")
	assert.Equal(t, "a#1", do(t, app, "GET", "/x", "X-Tenant: a", "Accept-Language: en").body)
	assert.Equal(t, "b#2", do(t, app, "GET", "/x", "X-Tenant: b", "Accept-Language: en").body)
	assert.Equal(t, 2, k.runs())
}

func TestKeyPrefixAndVersion(t *testing.T) {
	s := newMapStorage()
	app := fiber.New()
	app.Use(New(WithStorage(s), WithKeyPrefix("shop:")))
	var k counter
	app.Get("/x", k.handler("x"))
	do(t, app, "GET", "/x")
	require.NotEmpty(t, s.keys())
	// <prefix>v2:{<hash tag>}:p (path record), :n (Vary names), :e:<hash>
	// (entry); every key of a path shares the tag (Redis Cluster slot);
	// and one <prefix>v2:epoch for the namespace.
	keyRE := regexp.MustCompile(`^shop:v2:(?:\{[0-9a-f]{24}\}:(p|n|e:[0-9a-f]{32})|(epoch))$`)
	kinds := map[string]bool{}
	for _, key := range s.keys() {
		m := keyRE.FindStringSubmatch(key)
		if assert.NotNil(t, m, key) {
			kinds[m[1]+m[2]] = true
		}
	}
	assert.True(t, kinds["p"] && kinds["epoch"], "a path record, an entry and the epoch: %v", s.keys())
	assert.Len(t, s.keys(), 3, "%v", s.keys())

	// Two apps, one storage, two prefixes: neither sees the other's entries.
	app2 := fiber.New()
	app2.Use(New(WithStorage(s), WithKeyPrefix("blog:")))
	var k2 counter
	app2.Get("/x", k2.handler("other"))
	assert.Equal(t, "other#1", do(t, app2, "GET", "/x").body)
	assert.Equal(t, "x#1", do(t, app, "GET", "/x").body)
}

// 5. Freshness.

func TestMaxAgeAndExpiresAdvertised(t *testing.T) {
	app := fiber.New()
	app.Use(New(WithTTL(2 * time.Minute)))
	var k counter
	app.Get("/x", k.handler("x", header("Cache-Control", "public, max-age=600, no-transform")))
	app.Get("/short", k.handler("s", header("Cache-Control", "max-age=30")))
	before := time.Now().Truncate(time.Second)
	r := do(t, app, "GET", "/x")
	assert.Equal(t, "public, max-age=120, no-transform", r.header.Get("Cache-Control"))
	exp, err := http.ParseTime(r.header.Get("Expires"))
	require.NoError(t, err)
	assert.WithinDuration(t, before.Add(2*time.Minute), exp, 2*time.Second)

	assert.Equal(t, "max-age=30", do(t, app, "GET", "/short").header.Get("Cache-Control"))
	h := do(t, app, "GET", "/short")
	assert.Equal(t, "max-age=30", h.header.Get("Cache-Control"))
	assert.Equal(t, "0", h.header.Get("Age"))
	assert.Equal(t, "hit", h.header.Get("X-Cache"))
}

func TestNoTTLMeansForever(t *testing.T) {
	// Without WithTTL the server keeps the entry until invalidated, and
	// clients are told to revalidate (no-cache plus a validator), never a
	// lifetime an invalidation could not reach.
	s := newMapStorage()
	app := fiber.New()
	app.Use(New(WithStorage(s)))
	var k counter
	app.Get("/x", k.handler("x"))
	before := time.Now().Add(-time.Second)
	r := do(t, app, "GET", "/x")
	assert.Equal(t, "no-cache", r.header.Get("Cache-Control"))
	assert.NotEmpty(t, r.header.Get("ETag"))
	if e := r.header.Get("Expires"); e != "" {
		exp, err := http.ParseTime(e)
		require.NoError(t, err)
		assert.False(t, exp.After(time.Now().Add(time.Second)), "no Expires in the future: %s", e)
		assert.False(t, exp.Before(before), e)
	}
	assert.Equal(t, time.Duration(0), s.lastExp, "stored without expiry")
	h := do(t, app, "GET", "/x")
	assert.Equal(t, "hit", h.header.Get("X-Cache"))
	assert.Equal(t, "no-cache", h.header.Get("Cache-Control"))
	assert.Equal(t, r.header.Get("ETag"), h.header.Get("ETag"))
	assert.Equal(t, 1, k.runs())
}

func TestTTLZeroStoresNothing(t *testing.T) {
	s := newMapStorage()
	app := fiber.New()
	app.Use(New(WithTTL(0), WithStorage(s)))
	var k counter
	app.Get("/x", k.handler("x"))
	r := do(t, app, "GET", "/x")
	do(t, app, "GET", "/x")
	assert.Equal(t, 2, k.runs())
	assert.Equal(t, "", r.header.Get("X-Cache"))
	assert.Equal(t, "", r.header.Get("Cache-Control"))
	assert.Zero(t, s.gets+s.sets, "caching off touches no storage")
}

func TestEntriesExpire(t *testing.T) {
	for name, opts := range map[string][]Option{
		"memory":  {WithTTL(200 * time.Millisecond)},
		"storage": {WithTTL(200 * time.Millisecond), WithStorage(newMapStorage())},
	} {
		t.Run(name, func(t *testing.T) {
			clock := newFakeClock()
			app := fiber.New()
			app.Use(New(append(opts, withClock(clock.now))...))
			var k counter
			app.Get("/x", k.handler("x"))
			do(t, app, "GET", "/x")
			clock.advance(199 * time.Millisecond)
			do(t, app, "GET", "/x")
			require.Equal(t, 1, k.runs())
			clock.advance(2 * time.Millisecond)
			assert.Equal(t, "x#2", do(t, app, "GET", "/x").body)
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
			s := newMapStorage()
			app := fiber.New()
			app.Use(New(WithTTL(2*time.Minute), WithStorage(s)))
			var k counter
			var exp string
			app.Get("/x", k.handler("x", func(c *fiber.Ctx) {
				if tc.cc != "" {
					c.Set("Cache-Control", tc.cc)
				}
				if tc.expires != nil {
					exp = tc.expires(time.Now())
					c.Set("Expires", exp)
				}
			}))
			r := do(t, app, "GET", "/x")
			do(t, app, "GET", "/x")
			if tc.store == 0 {
				assert.Equal(t, 2, k.runs(), "not stored")
				return
			}
			assert.Equal(t, 1, k.runs())
			// Rounding happens only where the lifetime comes from an
			// Expires date (whole seconds) rather than max-age.
			var rounding time.Duration
			if exp != "" && tc.cc == "" {
				rounding = time.Second
			}
			// Stored for the lifetime, less the time the request took.
			assert.LessOrEqual(t, s.lastExp, tc.store)
			assert.Greater(t, s.lastExp, tc.store-rounding-500*time.Millisecond, "stored for %v", s.lastExp)
			m := regexp.MustCompile(`(?:^|, )max-age=(\d+)`).FindStringSubmatch(r.header.Get("Cache-Control"))
			require.NotNil(t, m, r.header.Get("Cache-Control"))
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
			var k counter
			app.Get("/x", k.handler("x", header("Cache-Control", cc), func(c *fiber.Ctx) { c.Set("X-User", "user"+itoa(k.runs())) }))
			r := do(t, app, "GET", "/x")
			r2 := do(t, app, "GET", "/x")
			assert.Equal(t, 2, k.runs())
			assert.Equal(t, cc, r.header.Get("Cache-Control"), "left as the handler said")
			assert.Equal(t, "user2", r2.header.Get("X-User"), "one user's field never reaches another")
			assert.NotEqual(t, "hit", r2.header.Get("X-Cache"))
		})
	}
}

func TestAuthorizedRequests(t *testing.T) {
	app := fiber.New()
	app.Use(New(WithTTL(time.Minute)))
	var plain, public counter
	app.Get("/plain", plain.handler("p"))
	app.Get("/public", public.handler("q", header("Cache-Control", "public")))
	do(t, app, "GET", "/plain", "Authorization: Bearer a")
	assert.Equal(t, "p#2", do(t, app, "GET", "/plain", "Authorization: Bearer b").body, "a private answer is not shared")
	do(t, app, "GET", "/public", "Authorization: Bearer a")
	do(t, app, "GET", "/public", "Authorization: Bearer b")
	assert.Equal(t, 1, public.runs(), "Cache-Control: public allows it")
}

func TestAgeAndStoredHeadersReplayed(t *testing.T) {
	s := newMapStorage()
	app := fiber.New()
	app.Use(New(WithTTL(time.Hour), WithStorage(s)))
	var k counter
	app.Get("/x", k.handler("x", header("Cache-Control", "max-age=600"), header("Link", "</a>"), header("Link", "</b>"), header("X-Custom", "1")))
	first := do(t, app, "GET", "/x")

	// Age the stored entry by 42 seconds.
	aged := 0
	for key, v := range s.data {
		if !strings.Contains(key, "}:e:") {
			continue // the path record
		}
		e, err := entry.Decode(v)
		require.NoError(t, err)
		if e != nil {
			e.Stored -= int64(42 * time.Second)
			s.data[key] = entry.Encode(e)
			aged++
		}
	}
	require.Equal(t, 1, aged)
	hit := do(t, app, "GET", "/x")
	assert.Equal(t, 1, k.runs())
	assert.Equal(t, "42", hit.header.Get("Age"))
	assert.Equal(t, first.header.Get("Expires"), hit.header.Get("Expires"))
	assert.Equal(t, "max-age=600", hit.header.Get("Cache-Control"))
	assert.Equal(t, []string{"</a>", "</b>"}, hit.header.Values("Link"))
	assert.Equal(t, "1", hit.header.Get("X-Custom"))
	assert.Equal(t, first.header.Get("Content-Type"), hit.header.Get("Content-Type"))
}

// 6. The X-Cache header.

func TestCacheHeaderOption(t *testing.T) {
	var k counter
	app := fiber.New()
	app.Get("/renamed", New(WithCacheHeader("x-fiber-cache")), k.handler("r"))
	app.Get("/off", New(WithCacheHeader("")), k.handler("o"))
	assert.Equal(t, "miss", do(t, app, "GET", "/renamed").header.Get("X-Fiber-Cache"))
	r := do(t, app, "GET", "/renamed")
	assert.Equal(t, "hit", r.header.Get("X-Fiber-Cache"))
	assert.Equal(t, "", r.header.Get("X-Cache"))
	do(t, app, "GET", "/off")
	r = do(t, app, "GET", "/off")
	assert.Equal(t, "", r.header.Get("X-Cache"))
	assert.Equal(t, 2, k.runs())
}

// 7. Cookies, streams, sizes, hop-by-hop headers.

func TestSetCookie(t *testing.T) {
	app := fiber.New()
	app.Use(New())
	var k counter
	app.Get("/x", k.handler("x", func(c *fiber.Ctx) { c.Cookie(&fiber.Cookie{Name: "session", Value: "s3cret"}) }))
	r := do(t, app, "GET", "/x")
	do(t, app, "GET", "/x")
	assert.Equal(t, 2, k.runs(), "Set-Cookie to a cookieless request is not stored")
	assert.Contains(t, r.header.Get("Set-Cookie"), "s3cret")

	// To a request with cookies it is stored, without the Set-Cookie.
	do(t, app, "GET", "/x?c", "Cookie: a=1")
	hit := do(t, app, "GET", "/x?c", "Cookie: a=1")
	assert.Equal(t, 3, k.runs())
	assert.Equal(t, "hit", hit.header.Get("X-Cache"))
	assert.Empty(t, hit.header.Values("Set-Cookie"), "a cookie is never replayed")
}

func TestStreamedBodyIsNotStored(t *testing.T) {
	app := fiber.New()
	app.Use(New())
	var k counter
	app.Get("/x", func(c *fiber.Ctx) error {
		k.handler("")(c)
		c.Context().SetBodyStreamWriter(func(w *bufio.Writer) { w.WriteString("streamed") })
		return nil
	})
	assert.Equal(t, "streamed", do(t, app, "GET", "/x").body)
	assert.Equal(t, "streamed", do(t, app, "GET", "/x").body)
	assert.Equal(t, 2, k.runs())
}

func TestMaxBodySize(t *testing.T) {
	app := fiber.New()
	app.Use(New(WithMaxBodySize(10)))
	var k counter
	app.Get("/small", k.handler("small"))
	app.Get("/large", k.handler("a large body"))
	do(t, app, "GET", "/small")
	do(t, app, "GET", "/small")
	assert.Equal(t, "a large body#2", do(t, app, "GET", "/large").body)
	assert.Equal(t, "a large body#3", do(t, app, "GET", "/large").body)
	assert.Equal(t, 3, k.runs())
}

func TestHopByHopHeadersAreNotStored(t *testing.T) {
	s := newMapStorage()
	app := fiber.New()
	app.Use(New(WithStorage(s)))
	var k counter
	app.Get("/x", k.handler("x",
		header("Keep-Alive", "timeout=5"), header("Upgrade", "h2c"), header("X-Conn-Private", "1"),
		header("Connection", "X-Conn-Private"), header("Proxy-Authenticate", "Basic"), header("X-Kept", "yes")))
	do(t, app, "GET", "/x")
	var stored *entry.Entry
	for _, v := range s.data {
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
		c.Set("X-Request-Id", itoa(id))
		return c.Next()
	})
	app.Use(New())
	var k counter
	app.Get("/x", k.handler("x"))
	assert.Equal(t, "1", do(t, app, "GET", "/x").header.Get("X-Request-Id"))
	r := do(t, app, "GET", "/x")
	assert.Equal(t, "hit", r.header.Get("X-Cache"))
	assert.Equal(t, "2", r.header.Get("X-Request-Id"))
}

// 8. Rules.

func TestRules(t *testing.T) {
	s := newMapStorage()
	app := fiber.New()
	app.Use(New(WithTTL(time.Minute), WithStorage(s), WithRules(
		Rule{Match: []string{"/skip"}, Skip: true},
		Rule{Match: []string{"/short"}, TTL: 5 * time.Second},
		Rule{Regexp: regexp.MustCompile(`^/items/\d+$`), Status: []int{200}},
		Rule{Match: []string{"/found-only"}, Status: []int{404}, TTL: 3 * time.Second},
	)))
	var k counter
	app.Get("/skip", k.handler("skip"))
	app.Get("/short", k.handler("short"))
	app.Get("/items/:id", func(c *fiber.Ctx) error {
		if c.Params("id") == "0" {
			c.Status(404)
		}
		return k.handler("item")(c)
	})
	app.Get("/found-only", k.handler("f", status(404)))
	app.Get("/other", k.handler("other"))

	twice := func(path string) int {
		before := k.runs()
		do(t, app, "GET", path)
		do(t, app, "GET", path)
		return k.runs() - before
	}
	assert.Equal(t, 2, twice("/skip"), "Skip")
	assert.Equal(t, 1, twice("/short"))
	assert.Equal(t, "max-age=5", do(t, app, "GET", "/short").header.Get("Cache-Control"), "rule TTL")
	assert.Equal(t, 1, twice("/items/7"), "regexp")
	assert.Equal(t, 2, twice("/items/0"), "status not in the rule")
	assert.Equal(t, 1, twice("/found-only"), "404 rule")
	assert.Equal(t, 2, twice("/other"), "no rule matches: not cached")

	// The first rule wins.
	app2 := fiber.New()
	var k2 counter
	app2.Use(New(WithRules(Rule{Match: []string{"*"}, Skip: true}, Rule{})))
	app2.Get("/x", k2.handler("x"))
	do(t, app2, "GET", "/x")
	do(t, app2, "GET", "/x")
	assert.Equal(t, 2, k2.runs())
}

func TestInvalidOptionsPanicWithAHint(t *testing.T) {
	assert.PanicsWithValue(t, "fibercache: WithTTL(-1s): the TTL must not be negative; use WithTTL(0) to turn caching off", func() { New(WithTTL(-time.Second)) })
	assert.Panics(t, func() { New(WithStorage(nil)) })
	assert.Panics(t, func() { New(WithMaxMemory(0)) })
	assert.Panics(t, func() { New(WithRules(Rule{Match: []string{"/a"}, Regexp: regexp.MustCompile("b")})) })
}

// 9. Storage.

func TestStorageGetsCompactBinary(t *testing.T) {
	s := newMapStorage()
	app := fiber.New()
	app.Use(New(WithStorage(s)))
	body := strings.Repeat("b", 1000)
	app.Get("/x", func(c *fiber.Ctx) error { return c.SendString(body) })
	do(t, app, "GET", "/x")
	var resp []byte
	for _, v := range s.data {
		if e, err := entry.Decode(v); err == nil && e != nil {
			resp = v
		}
	}
	require.NotNil(t, resp)
	assert.True(t, bytes.HasPrefix(resp, []byte("fc\x02")), "versioned format")
	assert.True(t, bytes.Contains(resp, []byte(body)), "body stored raw, not base64")
	// Beyond the body: the key material, the times, and the headers
	// (Content-Type, Cache-Control, Expires, ETag), never base64's third.
	assert.Less(t, len(resp), len(body)+300, "compact")
}

func TestGarbageInStorageIsAMissAndIsDeleted(t *testing.T) {
	for name, garbage := range map[string][]byte{
		"json":      []byte(`{"status":200,"body":"x"}`),
		"truncated": []byte("fc\x01\x01\x00\xc8"),
		"future":    []byte("fc\x09\x01"),
		"empty-ish": {0},
	} {
		t.Run(name, func(t *testing.T) {
			s := newMapStorage()
			app := fiber.New()
			app.Use(New(WithStorage(s)))
			var k counter
			app.Get("/x", k.handler("x"))
			do(t, app, "GET", "/x")
			for key, v := range s.data {
				if e, _ := entry.Decode(v); e != nil {
					s.data[key] = garbage
				}
			}
			r := do(t, app, "GET", "/x")
			assert.Equal(t, 200, r.status)
			assert.Equal(t, "x#2", r.body)
			assert.Equal(t, "hit", do(t, app, "GET", "/x").header.Get("X-Cache"), "replaced by a good entry")
		})
	}
}

func TestStorageDownServesTheHandler(t *testing.T) {
	s := newMapStorage()
	var logs bytes.Buffer
	clock := newFakeClock()
	m := NewCache(WithStorage(s), WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))),
		WithStoragePause(200*time.Millisecond), withClock(clock.now))
	app := fiber.New()
	app.Use(m.Handler())
	var k counter
	app.Get("/x", k.handler("x"))
	app.Post("/x", k.handler("post"))
	do(t, app, "GET", "/x")
	s.setFail(errStorageDown)
	r := do(t, app, "GET", "/x")
	assert.Equal(t, 200, r.status)
	assert.Equal(t, "x#2", r.body)
	assert.Equal(t, "", r.header.Get("X-Cache"), "nothing was stored")

	// Meanwhile the storage is left alone, and requests still work.
	s.mu.Lock()
	calls := s.gets + s.sets + s.dels
	s.mu.Unlock()
	assert.Equal(t, 200, do(t, app, "GET", "/x").status)
	assert.Equal(t, 200, do(t, app, "POST", "/x").status)
	s.mu.Lock()
	assert.Equal(t, calls, s.gets+s.sets+s.dels, "paused after a failure")
	s.mu.Unlock()
	assert.Equal(t, 4, k.runs())
	assert.Contains(t, logs.String(), "storage_error")
	assert.Contains(t, logs.String(), "storage down")

	s.setFail(nil)
	clock.advance(250 * time.Millisecond)
	// The POST's invalidation is retried (every pause, in real time) until
	// it lands; then the path is cached again.
	eventually(t, func() bool {
		do(t, app, "GET", "/x")
		return do(t, app, "GET", "/x").header.Get("X-Cache") == "hit"
	}, "back to caching when storage is back")
}

// 10. Logging.

func TestLogs(t *testing.T) {
	// Messages are fixed; what varies is in slog attributes.
	var logs bytes.Buffer
	l := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: LevelTrace}))
	app := fiber.New()
	app.Use(New(WithTTL(2*time.Minute), WithLogger(l)))
	var k counter
	app.Get("/x", k.handler("x"))
	app.Get("/err", k.handler("e", status(500)))
	app.Get("/cookie", k.handler("c", func(c *fiber.Ctx) { c.Cookie(&fiber.Cookie{Name: "a", Value: "b"}) }))
	do(t, app, "GET", "/x")
	do(t, app, "GET", "/x")
	do(t, app, "GET", "/err")
	do(t, app, "GET", "/cookie")
	out := logs.String()
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`level=DEBUG msg="cache_lookup MISS" method=GET url=/x\n`),
		regexp.MustCompile(`level=DEBUG msg=store_in_cache method=GET url=/x .*\bmax_age=120\b.* status=200\n`),
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
	app.Get("/x", k.handler("x"))
	do(t, app, "GET", "/x")
	do(t, app, "GET", "/x")
	assert.Regexp(t, `msg=store_in_cache method=GET url=/x .*\bmax_age=-1\b`, logs.String(), "no TTL: kept until invalidated")
	assert.Contains(t, logs.String(), "cache_lookup HIT")
	assert.NotContains(t, logs.String(), "response_not_cachable", "trace is off at debug")
	assert.NotContains(t, logs.String(), "DEBUG-4")
}

func TestLogLevelFromEnvironment(t *testing.T) {
	for _, v := range []string{"debug", "TRACE", "Debug"} {
		t.Setenv(EnvLogLevel, v)
		assert.NotNil(t, loggerFromEnv(), v)
	}
	for _, v := range []string{"", "info", "verbose"} {
		t.Setenv(EnvLogLevel, v)
		assert.Nil(t, loggerFromEnv(), v)
	}
	t.Setenv(EnvLogLevel, "trace")
	m := NewCache()
	assert.True(t, m.log.enabled(LevelTrace))
	t.Setenv(EnvLogLevel, "")
	assert.False(t, NewCache().log.enabled(slog.LevelError), "silent by default")
}

func TestPartialContentIsNeverStored(t *testing.T) {
	// A 206 is never stored; ranges are answered from a stored 200, and
	// the handler is asked for the whole representation.
	app := fiber.New()
	app.Use(New())
	var k, p counter
	app.Get("/file", func(c *fiber.Ctx) error {
		assert.Empty(t, c.Get(fiber.HeaderRange), "the handler never sees Range")
		return k.handler("0123456789")(c)
	})
	app.Get("/partial", p.handler("pa", status(206), header(fiber.HeaderContentRange, "bytes 0-1/10")))
	r := do(t, app, "GET", "/file", "Range: bytes=0-1")
	assert.Equal(t, 206, r.status)
	assert.Equal(t, "01", r.body)
	assert.Equal(t, "bytes 0-1/12", r.header.Get(fiber.HeaderContentRange))
	full := do(t, app, "GET", "/file")
	assert.Equal(t, 200, full.status)
	assert.Equal(t, "0123456789#1", full.body)
	assert.Equal(t, "hit", full.header.Get("X-Cache"))
	again := do(t, app, "GET", "/file", "Range: bytes=2-3")
	assert.Equal(t, 206, again.status)
	assert.Equal(t, "23", again.body)
	assert.Equal(t, "hit", again.header.Get("X-Cache"))
	assert.Equal(t, 1, k.runs(), "one stored 200 answers every range")

	do(t, app, "GET", "/partial")
	assert.Equal(t, 206, do(t, app, "GET", "/partial").status)
	assert.Equal(t, 2, p.runs(), "a handler's own 206 is not stored")
}

func TestKeyUsesTheHostTheHandlerSees(t *testing.T) {
	// Fiber's c.Hostname() honours X-Forwarded-Host (as it trusts proxies
	// by default). Keyed by the raw Host, a request with a forged
	// X-Forwarded-Host would store links to another site for everyone.
	app := fiber.New()
	app.Use(New())
	var k counter
	app.Get("/", func(c *fiber.Ctx) error { return k.handler("https://" + c.Hostname() + "/login")(c) })
	forged := do(t, app, "GET", "http://example.com/", "X-Forwarded-Host: evil.example")
	assert.Equal(t, "https://evil.example/login#1", forged.body)
	assert.Equal(t, "https://example.com/login#2", do(t, app, "GET", "http://example.com/").body)
	assert.Equal(t, "https://example.com/login#2", do(t, app, "GET", "http://example.com/").body)
	assert.Equal(t, 2, k.runs())
}
