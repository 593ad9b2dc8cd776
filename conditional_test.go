package cache

import (
	"net/http"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/fiber-caches/cache/internal/testkit"
	"github.com/gofiber/fiber/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Issue 9: conditional and range requests answered from the store.

var lastModified = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)

// docApp serves /doc (ETag "x", Last-Modified) and /v (varies on
// Accept-Language, ETag "v-<lang>") behind one cache.
func docApp(opts ...Option) (*fiber.App, *testkit.Counter) {
	var k testkit.Counter
	app := fiber.New()
	app.Use(New(opts...))
	app.Get("/doc", k.Handler("doc", testkit.Header("ETag", `"x"`), testkit.Header("Last-Modified", lastModified.Format(http.TimeFormat)), testkit.Header("Cache-Control", "public")))
	app.Get("/v", func(c *fiber.Ctx) error {
		lang := c.Get("Accept-Language")
		c.Vary("Accept-Language")
		c.Set("ETag", `"v-`+lang+`"`)
		return k.Handler("v-" + lang)(c)
	})
	return app, &k
}

// assertNotModified checks a 304 from the store: no body, the validators
// and caching headers of the stored response.
func assertNotModified(t *testing.T, r testkit.Result, etag string, msgAndArgs ...any) {
	t.Helper()
	require.Equal(t, fiber.StatusNotModified, r.Status, msgAndArgs...)
	assert.Empty(t, r.Body, msgAndArgs...)
	assert.Equal(t, etag, r.Header.Get("ETag"), msgAndArgs...)
	assert.NotEmpty(t, r.Header.Get("Cache-Control"), msgAndArgs...)
	assert.NotEmpty(t, r.Header.Get("Expires"), msgAndArgs...)
	if cl := r.Header.Get("Content-Length"); cl != "" {
		assert.Equal(t, "0", cl, msgAndArgs...)
	}
}

func TestConditional_FromTheStore(t *testing.T) {
	imsAt := func(d time.Duration) string {
		return "If-Modified-Since: " + lastModified.Add(d).Format(http.TimeFormat)
	}
	cases := []struct {
		name    string
		headers []string
		want    int
	}{
		{"exact", []string{`If-None-Match: "x"`}, 304},
		{"weak against strong", []string{`If-None-Match: W/"x"`}, 304},
		{"star", []string{`If-None-Match: *`}, 304},
		{"list", []string{`If-None-Match: "a", W/"b", "x"`}, 304},
		{"list without it", []string{`If-None-Match: "a", W/"b"`}, 200},
		{"another tag", []string{`If-None-Match: "y"`}, 200},
		{"modified since: same date", []string{imsAt(0)}, 304},
		{"modified since: later", []string{imsAt(time.Hour)}, 304},
		{"modified since: earlier", []string{imsAt(-time.Second)}, 200},
		{"If-None-Match wins over If-Modified-Since", []string{`If-None-Match: "y"`, imsAt(time.Hour)}, 200},
		{"If-None-Match wins, matching", []string{`If-None-Match: "x"`, imsAt(-time.Hour)}, 304},
	}
	app, k := docApp(WithTTL(time.Hour))
	warm := testkit.Do(t, app, "GET", "/doc")
	require.Equal(t, 200, warm.Status)
	for _, method := range []string{"GET", "HEAD"} {
		for _, tc := range cases {
			r := testkit.Do(t, app, method, "/doc", tc.headers...)
			if tc.want == 304 {
				assertNotModified(t, r, `"x"`, "%s %s", method, tc.name)
				assert.Equal(t, "public, max-age=3600", r.Header.Get("Cache-Control"))
			} else {
				require.Equal(t, 200, r.Status, "%s %s", method, tc.name)
				assert.Equal(t, "hit", r.Header.Get("X-Cache"))
				if method == "GET" {
					assert.Equal(t, warm.Body, r.Body, tc.name)
				}
			}
		}
	}
	assert.Equal(t, 1, k.Runs(), "every answer came from the store")
}

func TestConditional_OnAMissTheCacheAnswers(t *testing.T) {
	// The handler is asked for the whole response; the cache answers the
	// client's validators from it.
	app, k := docApp()
	var seen string
	app.Get("/seen", func(c *fiber.Ctx) error {
		seen = c.Get("If-None-Match") + c.Get("If-Modified-Since")
		return k.Handler("seen", testkit.Header("ETag", `"s"`))(c)
	})
	assertNotModified(t, testkit.Do(t, app, "GET", "/doc", `If-None-Match: "x"`), `"x"`)
	assert.Equal(t, 1, k.Runs())
	r := testkit.Do(t, app, "GET", "/seen", `If-None-Match: "s"`, "If-Modified-Since: "+lastModified.Format(http.TimeFormat))
	assertNotModified(t, r, `"s"`)
	assert.Empty(t, seen, "the handler never sees the client's validators")
	assert.Equal(t, "seen#2", testkit.Do(t, app, "GET", "/seen").Body, "the whole response was stored")
}

func TestConditional_VaryRespected(t *testing.T) {
	app, k := docApp(WithTTL(time.Hour))
	require.Equal(t, "v-en#1", testkit.Do(t, app, "GET", "/v", "Accept-Language: en").Body)

	// The fr variant is not stored: its handler runs, and en's tag does
	// not match it.
	r := testkit.Do(t, app, "GET", "/v", "Accept-Language: fr", `If-None-Match: "v-en"`)
	assert.Equal(t, 200, r.Status)
	assert.Equal(t, "v-fr#2", r.Body)
	// Stored now: still not en's.
	r = testkit.Do(t, app, "GET", "/v", "Accept-Language: fr", `If-None-Match: "v-en"`)
	assert.Equal(t, 200, r.Status)
	assert.Equal(t, "v-fr#2", r.Body)

	r = testkit.Do(t, app, "GET", "/v", "Accept-Language: en", `If-None-Match: "v-en"`)
	assertNotModified(t, r, `"v-en"`)
	assert.Equal(t, "Accept-Language", r.Header.Get("Vary"))
	assertNotModified(t, testkit.Do(t, app, "HEAD", "/v", "Accept-Language: fr", `If-None-Match: "v-fr"`), `"v-fr"`)
	r = testkit.Do(t, app, "GET", "/v", "Accept-Language: en", `If-None-Match: "v-fr"`)
	assert.Equal(t, 200, r.Status)
	assert.Equal(t, "v-en#1", r.Body)
	assert.Equal(t, 2, k.Runs())
}

func TestConditional_AutoETag(t *testing.T) {
	etagRE := regexp.MustCompile(`^"fc-[0-9a-z]+-[0-9a-z]+"$`)
	var k testkit.Counter
	app := fiber.New()
	app.Use(New(WithTTL(time.Hour)))
	app.Get("/a", k.Handler("a"))
	app.Get("/b", k.Handler("b"))
	miss := testkit.Do(t, app, "GET", "/a")
	etag := miss.Header.Get("ETag")
	assert.Regexp(t, etagRE, etag, "computed at store time")
	hit := testkit.Do(t, app, "GET", "/a")
	assert.Equal(t, "hit", hit.Header.Get("X-Cache"))
	assert.Equal(t, etag, hit.Header.Get("ETag"), "the same on the miss and the hit")
	assertNotModified(t, testkit.Do(t, app, "GET", "/a", "If-None-Match: "+etag), etag)
	assertNotModified(t, testkit.Do(t, app, "GET", "/a", "If-None-Match: W/"+etag), etag)
	assert.Equal(t, 200, testkit.Do(t, app, "GET", "/a", `If-None-Match: "fc-0-0"`).Status)
	other := testkit.Do(t, app, "GET", "/b").Header.Get("ETag")
	assert.Regexp(t, etagRE, other)
	assert.NotEqual(t, etag, other, "another body, another tag")
	assert.Equal(t, 2, k.Runs())

	// WithETag(false): no tag of the cache's; a handler's own is kept.
	var k2 testkit.Counter
	app = fiber.New()
	app.Use(New(WithTTL(time.Hour), WithETag(false)))
	app.Get("/a", k2.Handler("a"))
	app.Get("/own", k2.Handler("own", testkit.Header("ETag", `"mine"`)))
	for range 2 {
		r := testkit.Do(t, app, "GET", "/a")
		assert.Empty(t, r.Header.Get("ETag"))
		assert.Equal(t, "a#1", r.Body)
		assert.Equal(t, `"mine"`, testkit.Do(t, app, "GET", "/own").Header.Get("ETag"))
	}
	r := testkit.Do(t, app, "GET", "/a", "If-None-Match: "+etag)
	assert.Equal(t, 200, r.Status)
	assert.Equal(t, "a#1", r.Body)
	assert.Equal(t, 2, k2.Runs())
}

func TestRange_FromAStoredFullResponse(t *testing.T) {
	const body = "0123456789abcdefghij"
	var k testkit.Counter
	app := fiber.New()
	app.Use(New(WithTTL(time.Hour)))
	app.Get("/f", func(c *fiber.Ctx) error {
		assert.Empty(t, c.Get("Range"), "the handler is asked for the whole representation")
		return k.Handler(body)(c)
	})
	full := testkit.Do(t, app, "GET", "/f")
	require.Equal(t, 200, full.Status)
	n := strconv.Itoa(len(full.Body))
	etag := full.Header.Get("ETag")
	require.NotEmpty(t, etag)

	cases := []struct {
		name         string
		headers      []string
		status       int
		contentRange string
		body         string
	}{
		{"first ten", []string{"Range: bytes=0-9"}, 206, "bytes 0-9/" + n, "0123456789"},
		{"middle", []string{"Range: bytes=10-14"}, 206, "bytes 10-14/" + n, "abcde"},
		{"suffix", []string{"Range: bytes=-2"}, 206, "bytes " + strconv.Itoa(len(full.Body)-2) + "-" + strconv.Itoa(len(full.Body)-1) + "/" + n, "#1"},
		{"unsatisfiable", []string{"Range: bytes=100-200"}, 416, "bytes */" + n, ""},
		{"If-Range matches", []string{"Range: bytes=0-9", "If-Range: " + etag}, 206, "bytes 0-9/" + n, "0123456789"},
		{"If-Range does not match", []string{"Range: bytes=0-9", `If-Range: "other"`}, 200, "", full.Body},
	}
	for _, tc := range cases {
		r := testkit.Do(t, app, "GET", "/f", tc.headers...)
		assert.Equal(t, tc.status, r.Status, tc.name)
		assert.Equal(t, tc.contentRange, r.Header.Get("Content-Range"), tc.name)
		assert.Equal(t, tc.body, r.Body, tc.name)
		assert.Equal(t, strconv.Itoa(len(tc.body)), r.Header.Get("Content-Length"), tc.name)
		assert.Equal(t, "hit", r.Header.Get("X-Cache"), tc.name)
	}
	assert.Equal(t, 1, k.Runs(), "every range from the one stored 200")

	// A range asked first: the handler gives the whole, which is stored.
	r := testkit.Do(t, app, "GET", "/f?cold", "Range: bytes=0-9")
	assert.Equal(t, 206, r.Status)
	assert.Equal(t, "0123456789", r.Body)
	assert.Equal(t, body+"#2", testkit.Do(t, app, "GET", "/f?cold").Body)
	assert.Equal(t, 2, k.Runs())
}
