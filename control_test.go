package cache_test

import (
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/valyala/fasthttp"

	"github.com/fiber-caches/cache"
	"github.com/fiber-caches/cache/internal/testkit"
)

// controlGet sends GET path to app and returns the response.
func controlGet(t *testing.T, app *fiber.App, path string) testkit.Result {
	t.Helper()
	return testkit.Do(t, app, fiber.MethodGet, path)
}

// controlServe runs one request through a route whose handler sends the
// given Cache-Control lines (none when empty), behind Control(ds...), and
// returns the response.
func controlServe(t *testing.T, lines []string, ds ...cache.Directive) testkit.Result {
	t.Helper()
	app := fiber.New()
	app.Get("/x", cache.Control(ds...), func(c *fiber.Ctx) error {
		for _, l := range lines {
			c.Response().Header.Add(fiber.HeaderCacheControl, l)
		}
		return c.SendString("ok")
	})
	return controlGet(t, app, "/x")
}

// controlPatched returns the Cache-Control lines the client receives when
// the handler sends handlerValue (no header when empty) behind
// Control(ds...).
func controlPatched(t *testing.T, handlerValue string, ds ...cache.Directive) []string {
	t.Helper()
	var lines []string
	if handlerValue != "" {
		lines = []string{handlerValue}
	}
	resp := controlServe(t, lines, ds...)
	require.Equal(t, fiber.StatusOK, resp.Status)
	return resp.Header.Values(fiber.HeaderCacheControl)
}

type controlCase struct {
	name    string
	handler string // Cache-Control sent by the handler; "" for none
	ds      []cache.Directive
	want    string // the single Cache-Control line received; "" for none
}

func controlRunCases(t *testing.T, cases []controlCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := controlPatched(t, tc.handler, tc.ds...)
			if tc.want == "" {
				assert.Empty(t, got)
				return
			}
			assert.Equal(t, []string{tc.want}, got)
		})
	}
}

func controlDs(ds ...cache.Directive) []cache.Directive { return ds }

func TestControl_AddsToHandlerDirectivesKeepingOrder(t *testing.T) {
	controlRunCases(t, []controlCase{
		{"no handler header", "", controlDs(cache.MaxAge(time.Minute), cache.Public()), "max-age=60, public"},
		{"appended after handler's", "no-transform, must-revalidate", controlDs(cache.Public(), cache.MaxAge(time.Minute)),
			"no-transform, must-revalidate, public, max-age=60"},
		{"order of directives kept", "", controlDs(cache.Immutable(), cache.SMaxAge(time.Hour), cache.NoTransform()),
			"immutable, s-maxage=3600, no-transform"},
		{"no directives keeps header", "public, max-age=60", nil, "public, max-age=60"},
		{"no directives, no header", "", nil, ""},
	})
}

func TestControl_EveryDirective(t *testing.T) {
	controlRunCases(t, []controlCase{
		{"flags", "", controlDs(
			cache.NoCache(), cache.NoStore(), cache.NoTransform(), cache.MustRevalidate(),
			cache.ProxyRevalidate(), cache.MustUnderstand(), cache.Private(), cache.Immutable()),
			"no-cache, no-store, no-transform, must-revalidate, proxy-revalidate, must-understand, private, immutable"},
		{"public", "", controlDs(cache.Public()), "public"},
		{"durations", "", controlDs(
			cache.MaxAge(time.Minute), cache.SMaxAge(2*time.Minute),
			cache.StaleWhileRevalidate(30*time.Second), cache.StaleIfError(24*time.Hour)),
			"max-age=60, s-maxage=120, stale-while-revalidate=30, stale-if-error=86400"},
		{"zero Directive does nothing", "public", controlDs(cache.Directive{}), "public"},
	})
}

func TestControl_ReplacesRepeatedDirectiveInPlace(t *testing.T) {
	controlRunCases(t, []controlCase{
		{"value replaced in place", "stale-while-revalidate=10, public, immutable",
			controlDs(cache.StaleWhileRevalidate(30 * time.Second)), "stale-while-revalidate=30, public, immutable"},
		{"stale-if-error may grow", "stale-if-error=60, public",
			controlDs(cache.StaleIfError(time.Hour)), "stale-if-error=3600, public"},
		{"flag given again", "no-transform, public", controlDs(cache.NoTransform()), "no-transform, public"},
		{"qualified no-cache becomes unqualified", `no-cache="Set-Cookie", max-age=5`,
			controlDs(cache.NoCache()), "no-cache, max-age=5"},
		{"duplicates collapse to the first position", "immutable, public, immutable",
			controlDs(cache.Immutable()), "immutable, public"},
		{"same directive twice in Control", "",
			controlDs(cache.StaleIfError(time.Minute), cache.StaleIfError(time.Hour)), "stale-if-error=3600"},
	})
}

func TestControl_Drop(t *testing.T) {
	controlRunCases(t, []controlCase{
		{"drop one", "no-transform, must-revalidate", controlDs(cache.Drop("must-revalidate")), "no-transform"},
		{"case-insensitive", "Must-Revalidate, public", controlDs(cache.Drop("MUST-REVALIDATE")), "public"},
		{"every occurrence", "public, must-revalidate, max-age=1, must-revalidate", controlDs(cache.Drop("must-revalidate")), "public, max-age=1"},
		{"with a value", "max-age=600, public", controlDs(cache.Drop("max-age")), "public"},
		{"extension directive", "x-edge=1, public", controlDs(cache.Drop("X-Edge")), "public"},
		{"absent is fine", "public", controlDs(cache.Drop("immutable")), "public"},
		{"last directive removes the header", "must-revalidate", controlDs(cache.Drop("must-revalidate")), ""},
		{"then add again", "must-revalidate, public", controlDs(cache.Drop("must-revalidate"), cache.MustRevalidate()), "public, must-revalidate"},
		{"drop what Control added before", "", controlDs(cache.Immutable(), cache.Public(), cache.Drop("immutable")), "public"},
	})
}

func TestControl_DropPanicsOnInvalidName(t *testing.T) {
	for _, name := range []string{"", "  ", "a b", "max-age=1", "x,y", `"q"`} {
		assert.PanicsWithValue(t, fmt.Sprintf("cache.Drop: invalid directive name %q", name),
			func() { cache.Drop(name) }, "name %q", name)
	}
}

func TestControl_MaxAgeSmallerWins(t *testing.T) {
	controlRunCases(t, []controlCase{
		{"existing smaller kept", "max-age=10, public", controlDs(cache.MaxAge(time.Minute)), "max-age=10, public"},
		{"existing bigger lowered", "public, max-age=600", controlDs(cache.MaxAge(time.Minute)), "public, max-age=60"},
		{"equal kept", "max-age=60", controlDs(cache.MaxAge(time.Minute)), "max-age=60"},
		{"existing zero kept", "max-age=0, must-revalidate", controlDs(cache.MaxAge(time.Hour)), "max-age=0, must-revalidate"},
		{"quoted existing understood", `max-age="30"`, controlDs(cache.MaxAge(time.Minute)), `max-age="30"`},
		{"huge existing lowered", "max-age=99999999999999999999999", controlDs(cache.MaxAge(time.Minute)), "max-age=60"},
		// RFC 9111 4.2.1: invalid freshness information means stale.
		{"malformed existing counts as zero", "public, Max-Age=abc", controlDs(cache.MaxAge(time.Minute)), "public, max-age=0"},
		{"malformed and valid zero", "max-age=x, max-age=0", controlDs(cache.MaxAge(time.Minute)), "max-age=0"},
		{"empty value counts as zero", "max-age=", controlDs(cache.MaxAge(time.Minute)), "max-age=0"},
		{"smallest duplicate kept at first position", "max-age=100, public, max-age=20",
			controlDs(cache.MaxAge(time.Minute)), "max-age=20, public"},
		{"twice in Control", "", controlDs(cache.MaxAge(time.Hour), cache.MaxAge(time.Minute)), "max-age=60"},
		{"does not touch s-maxage", "s-maxage=600", controlDs(cache.MaxAge(time.Hour)), "s-maxage=600, max-age=3600"},
	})
}

func TestControl_SMaxAgeSmallerWins(t *testing.T) {
	controlRunCases(t, []controlCase{
		{"existing smaller kept", "s-maxage=10, public", controlDs(cache.SMaxAge(time.Minute)), "s-maxage=10, public"},
		{"existing bigger lowered", "s-maxage=3600, max-age=60", controlDs(cache.SMaxAge(5 * time.Minute)), "s-maxage=300, max-age=60"},
		{"malformed existing counts as zero", "s-maxage=1h", controlDs(cache.SMaxAge(time.Minute)), "s-maxage=0"},
		{"case-insensitive match", "S-MaxAge=3600", controlDs(cache.SMaxAge(time.Minute)), "s-maxage=60"},
		{"does not touch max-age", "max-age=10", controlDs(cache.SMaxAge(time.Hour)), "max-age=10, s-maxage=3600"},
	})
}

func TestControl_WholeSeconds(t *testing.T) {
	controlRunCases(t, []controlCase{
		{"truncated", "", controlDs(cache.MaxAge(1500 * time.Millisecond)), "max-age=1"},
		{"below a second is zero", "", controlDs(cache.SMaxAge(999 * time.Millisecond)), "s-maxage=0"},
		{"negative is zero", "", controlDs(cache.MaxAge(-time.Minute)), "max-age=0"},
		{"stale-while-revalidate", "", controlDs(cache.StaleWhileRevalidate(90*time.Second + 900*time.Millisecond)), "stale-while-revalidate=90"},
		{"stale-if-error negative", "", controlDs(cache.StaleIfError(-1)), "stale-if-error=0"},
		{"a year", "", controlDs(cache.MaxAge(365 * 24 * time.Hour)), "max-age=31536000"},
	})
}

func TestControl_PrivateAndPublicReplaceEachOther(t *testing.T) {
	controlRunCases(t, []controlCase{
		{"private replaces public in place", "public, max-age=60", controlDs(cache.Private()), "private, max-age=60"},
		{"public replaces private in place", "max-age=60, private", controlDs(cache.Public()), "max-age=60, public"},
		{"public replaces qualified private", `private="Set-Cookie", max-age=60`, controlDs(cache.Public()), "public, max-age=60"},
		{"private replaces both", "PUBLIC, max-age=60, private", controlDs(cache.Private()), "private, max-age=60"},
		{"private kept", "private, max-age=60", controlDs(cache.Private()), "private, max-age=60"},
	})
}

func TestControl_PrivateAndPublicTogetherPanics(t *testing.T) {
	const msg = "cache.Control: Private() and Public() are mutually exclusive; use one"
	assert.PanicsWithValue(t, msg, func() { cache.Control(cache.Private(), cache.Public()) })
	assert.PanicsWithValue(t, msg, func() { cache.Control(cache.Public(), cache.MaxAge(time.Minute), cache.Private()) })

	var h fasthttp.ResponseHeader
	assert.PanicsWithValue(t, "cache.PatchCacheControl: Private() and Public() are mutually exclusive; use one",
		func() { cache.PatchCacheControl(&h, cache.Private(), cache.Public()) })

	// Dropping one and adding the other is not a conflict.
	assert.NotPanics(t, func() { cache.Control(cache.Drop("public"), cache.Private()) })
}

func TestControl_QuotedValuesWithCommasKept(t *testing.T) {
	controlRunCases(t, []controlCase{
		{"no-cache field list", `no-cache="Set-Cookie, Authorization", max-age=600`,
			controlDs(cache.MaxAge(time.Minute)), `no-cache="Set-Cookie, Authorization", max-age=60`},
		{"private field list", `private="Set-Cookie,X-User", max-age=600`,
			controlDs(cache.Drop("max-age")), `private="Set-Cookie,X-User"`},
		{"escaped quote in extension", `x-note="a \"b, c\" d", public`,
			controlDs(cache.Private()), `x-note="a \"b, c\" d", private`},
	})
}

func TestControl_OddSpacingAndCase(t *testing.T) {
	// Known directives are written lowercase without the spaces; unknown
	// (extension) directives are kept verbatim.
	controlRunCases(t, []controlCase{
		{"mixed", "  Max-Age = 600 ,PUBLIC,,\tX-Custom = Foo  ,No-Cache=\"Set-Cookie\"",
			controlDs(cache.MustRevalidate()),
			`max-age=600, public, X-Custom = Foo, no-cache="Set-Cookie", must-revalidate`},
		{"known names matched case-insensitively", "NO-STORE, Max-Age=600",
			controlDs(cache.NoStore(), cache.MaxAge(time.Minute)), "no-store, max-age=60"},
		{"only normalizing", "Public,Max-Age=60", nil, "public, max-age=60"},
		{"empty elements removed", " , ,", controlDs(cache.Public()), "public"},
	})
}

func TestControl_MultipleHeaderLinesAreOneList(t *testing.T) {
	resp := controlServe(t, []string{"public", "max-age=600, no-transform", "immutable"}, cache.MaxAge(time.Minute))
	assert.Equal(t, []string{"public, max-age=60, no-transform, immutable"}, resp.Header.Values(fiber.HeaderCacheControl))

	resp = controlServe(t, []string{"public", "max-age=600"}, cache.Drop("max-age"))
	assert.Equal(t, []string{"public"}, resp.Header.Values(fiber.HeaderCacheControl))
}

func TestControl_MalformedHeaderKept(t *testing.T) {
	controlRunCases(t, []controlCase{
		// The unterminated quoted string stays last, so that it cannot
		// swallow the directives added after it.
		{"brief example", `max-age=abc, ,,="x`, controlDs(cache.Public()), `max-age=abc, public, ="x`},
		{"unterminated qualified no-cache", `max-age=600, no-cache="Set-Cookie`,
			controlDs(cache.MaxAge(time.Minute), cache.Private()), `max-age=60, private, no-cache="Set-Cookie`},
		{"lone equals and empty value", `=, max-age=, public`, controlDs(cache.Immutable()), `=, max-age=, public, immutable`},
		{"garbage", `;;; {}[] , @@`, controlDs(cache.NoStore()), `;;; {}[], @@, no-store`},
		{"trailing backslash in quote", `x="a\`, controlDs(cache.Public()), `public, x="a\`},
	})
}

func TestControl_MalformedHeaderNeverFails(t *testing.T) {
	inputs := []string{
		`"`, `""`, `\`, `="`, `,"`, `max-age="`, `max-age="1`, `max-age=-1`, `max-age=1.5`,
		`max-age==1`, `max-age=1=2`, `private=`, `public="`, `"a,b"c,d"`, strings.Repeat(`a="`, 100),
		strings.Repeat(",", 1000), "max-age=\x00", "\xff\xfe", `no-cache="Set-Cookie", "`,
	}
	ds := []cache.Directive{cache.MaxAge(time.Minute), cache.SMaxAge(time.Hour), cache.Private(), cache.Drop("no-cache"), cache.NoStore()}
	for _, in := range inputs {
		resp := controlServe(t, []string{in}, ds...)
		assert.Equal(t, fiber.StatusOK, resp.Status, "input %q", in)
		got := resp.Header.Get(fiber.HeaderCacheControl)
		for _, want := range []string{"max-age=", "s-maxage=3600", "private", "no-store"} {
			assert.Contains(t, got, want, "input %q", in)
		}
	}
}

func TestControl_HandlerErrorPassedThroughUnpatched(t *testing.T) {
	sentinel := errors.New("boom")
	var got error
	app := fiber.New(fiber.Config{ErrorHandler: func(c *fiber.Ctx, err error) error {
		got = err
		return c.Status(fiber.StatusTeapot).SendString(err.Error())
	}})
	app.Get("/x", cache.Control(cache.Private(), cache.MaxAge(time.Minute)), func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderCacheControl, "public, max-age=600")
		return sentinel
	})

	resp := controlGet(t, app, "/x")
	assert.Same(t, sentinel, got)
	assert.Equal(t, fiber.StatusTeapot, resp.Status)
	assert.Equal(t, []string{"public, max-age=600"}, resp.Header.Values(fiber.HeaderCacheControl))
}

func TestControl_PatchesNon200Responses(t *testing.T) {
	app := fiber.New()
	app.Get("/x", cache.Control(cache.MaxAge(10*time.Second)), func(c *fiber.Ctx) error {
		return c.Status(fiber.StatusNotFound).SendString("nope")
	})
	resp := controlGet(t, app, "/x")
	assert.Equal(t, fiber.StatusNotFound, resp.Status)
	assert.Equal(t, "max-age=10", resp.Header.Get(fiber.HeaderCacheControl))
}

func TestControl_StoresNothingWithoutNew(t *testing.T) {
	var runs atomic.Int32
	app := fiber.New()
	app.Get("/x", cache.Control(cache.Public(), cache.MaxAge(time.Hour)), func(c *fiber.Ctx) error {
		runs.Add(1)
		return c.SendString("ok")
	})
	for range 3 {
		resp := controlGet(t, app, "/x")
		assert.Equal(t, "public, max-age=3600", resp.Header.Get(fiber.HeaderCacheControl))
		assert.Empty(t, resp.Header.Get("X-Cache"))
	}
	assert.Equal(t, int32(3), runs.Load())
}

func TestControl_OnGroup(t *testing.T) {
	app := fiber.New()
	api := app.Group("/api", cache.Control(cache.Private(), cache.MaxAge(time.Minute)))
	api.Get("/me", func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderCacheControl, "public, max-age=600, no-transform")
		return c.SendString("me")
	})
	resp := controlGet(t, app, "/api/me")
	assert.Equal(t, []string{"private, max-age=60, no-transform"}, resp.Header.Values(fiber.HeaderCacheControl))
}

func TestControl_HeaderNormalizingDisabled(t *testing.T) {
	app := fiber.New(fiber.Config{DisableHeaderNormalizing: true})
	app.Get("/x", cache.Control(cache.MaxAge(time.Minute)), func(c *fiber.Ctx) error {
		c.Response().Header.Add("cache-control", "public")
		c.Response().Header.Add("CACHE-CONTROL", "max-age=600")
		return c.SendString("ok")
	})
	resp := controlGet(t, app, "/x")
	assert.Equal(t, []string{"public, max-age=60"}, resp.Header.Values(fiber.HeaderCacheControl))
}

func TestPatchCacheControl(t *testing.T) {
	var h fasthttp.ResponseHeader
	h.Add(fiber.HeaderCacheControl, "Public, max-age=600")
	h.Add(fiber.HeaderCacheControl, "must-revalidate")
	cache.PatchCacheControl(&h, cache.MaxAge(time.Minute), cache.Drop("must-revalidate"), cache.Immutable())

	var lines []string
	for _, v := range h.PeekAll(fiber.HeaderCacheControl) {
		lines = append(lines, string(v))
	}
	assert.Equal(t, []string{"public, max-age=60, immutable"}, lines)

	cache.PatchCacheControl(&h, cache.Drop("public"), cache.Drop("max-age"), cache.Drop("immutable"))
	assert.Empty(t, h.PeekAll(fiber.HeaderCacheControl))
}

func TestControl_ConcurrentRequests(t *testing.T) {
	app := fiber.New()
	app.Get("/x", cache.Control(cache.MaxAge(time.Minute), cache.Private()), func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderCacheControl, "public, max-age="+c.Query("age")+`, no-cache="Set-Cookie, X-A"`)
		return c.SendString("ok")
	})
	done := make(chan struct{})
	for i := range 8 {
		go func() {
			defer func() { done <- struct{}{} }()
			for range 20 {
				resp, err := app.Test(httptest.NewRequest(fiber.MethodGet, "/x?age="+string(rune('1'+i)), nil), -1)
				if !assert.NoError(t, err) {
					return
				}
				_ = resp.Body.Close()
				assert.Equal(t, "private, max-age="+string(rune('1'+i))+`, no-cache="Set-Cookie, X-A"`, resp.Header.Get(fiber.HeaderCacheControl))
			}
		}()
	}
	for range 8 {
		<-done
	}
}

// FuzzPatchCacheControl checks that any header survives patching without a
// panic, that the added directives are there, and that patching is
// idempotent.
func FuzzPatchCacheControl(f *testing.F) {
	for _, s := range []string{
		"", "public, max-age=600", `no-cache="Set-Cookie, Authorization"`, `max-age=abc, ,,="x`,
		`x="a\"b", y`, "  Max-Age = 600 ,PUBLIC,,", `private="`, `\`, "max-age=1, max-age=2",
	} {
		f.Add(s)
	}
	ds := []cache.Directive{cache.MaxAge(time.Minute), cache.Private(), cache.Drop("no-transform"), cache.StaleIfError(time.Second)}
	f.Fuzz(func(t *testing.T, in string) {
		if strings.ContainsAny(in, "\r\n") {
			t.Skip("not a header value")
		}
		var h fasthttp.ResponseHeader
		h.Set(fiber.HeaderCacheControl, in)
		cache.PatchCacheControl(&h, ds...)
		once := string(h.Peek(fiber.HeaderCacheControl))
		for _, want := range []string{"max-age=", "private", "stale-if-error=1"} {
			if !strings.Contains(once, want) {
				t.Fatalf("%q -> %q: %s missing", in, once, want)
			}
		}
		cache.PatchCacheControl(&h, ds...)
		if twice := string(h.Peek(fiber.HeaderCacheControl)); twice != once {
			t.Fatalf("%q -> %q -> %q: not idempotent", in, once, twice)
		}
	})
}
