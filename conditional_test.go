package cache

import (
	"net/http"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Issue 9: conditional and range requests answered from the store.

var lastModified = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)

// docApp serves /doc (ETag "x", Last-Modified) and /v (varies on
// Accept-Language, ETag "v-<lang>") behind one cache.
func docApp(opts ...Option) (*fiber.App, *counter) {
	var k counter
	app := fiber.New()
	app.Use(New(opts...))
	app.Get("/doc", k.handler("doc", header("ETag", `"x"`), header("Last-Modified", lastModified.Format(http.TimeFormat)), header("Cache-Control", "public")))
	app.Get("/v", func(c *fiber.Ctx) error {
		lang := c.Get("Accept-Language")
		c.Vary("Accept-Language")
		c.Set("ETag", `"v-`+lang+`"`)
		return k.handler("v-" + lang)(c)
	})
	return app, &k
}

// assertNotModified checks a 304 from the store: no body, the validators
// and caching headers of the stored response.
func assertNotModified(t *testing.T, r result, etag string, msgAndArgs ...any) {
	t.Helper()
	require.Equal(t, fiber.StatusNotModified, r.status, msgAndArgs...)
	assert.Empty(t, r.body, msgAndArgs...)
	assert.Equal(t, etag, r.header.Get("ETag"), msgAndArgs...)
	assert.NotEmpty(t, r.header.Get("Cache-Control"), msgAndArgs...)
	assert.NotEmpty(t, r.header.Get("Expires"), msgAndArgs...)
	if cl := r.header.Get("Content-Length"); cl != "" {
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
	warm := do(t, app, "GET", "/doc")
	require.Equal(t, 200, warm.status)
	for _, method := range []string{"GET", "HEAD"} {
		for _, tc := range cases {
			r := do(t, app, method, "/doc", tc.headers...)
			if tc.want == 304 {
				assertNotModified(t, r, `"x"`, "%s %s", method, tc.name)
				assert.Equal(t, "public, max-age=3600", r.header.Get("Cache-Control"))
			} else {
				require.Equal(t, 200, r.status, "%s %s", method, tc.name)
				assert.Equal(t, "hit", r.header.Get("X-Cache"))
				if method == "GET" {
					assert.Equal(t, warm.body, r.body, tc.name)
				}
			}
		}
	}
	assert.Equal(t, 1, k.runs(), "every answer came from the store")
}

func TestConditional_OnAMissTheCacheAnswers(t *testing.T) {
	// The handler is asked for the whole response; the cache answers the
	// client's validators from it.
	app, k := docApp()
	var seen string
	app.Get("/seen", func(c *fiber.Ctx) error {
		seen = c.Get("If-None-Match") + c.Get("If-Modified-Since")
		return k.handler("seen", header("ETag", `"s"`))(c)
	})
	assertNotModified(t, do(t, app, "GET", "/doc", `If-None-Match: "x"`), `"x"`)
	assert.Equal(t, 1, k.runs())
	r := do(t, app, "GET", "/seen", `If-None-Match: "s"`, "If-Modified-Since: "+lastModified.Format(http.TimeFormat))
	assertNotModified(t, r, `"s"`)
	assert.Empty(t, seen, "the handler never sees the client's validators")
	assert.Equal(t, "seen#2", do(t, app, "GET", "/seen").body, "the whole response was stored")
}

func TestConditional_VaryRespected(t *testing.T) {
	app, k := docApp(WithTTL(time.Hour))
	require.Equal(t, "v-en#1", do(t, app, "GET", "/v", "Accept-Language: en").body)

	// The fr variant is not stored: its handler runs, and en's tag does
	// not match it.
	r := do(t, app, "GET", "/v", "Accept-Language: fr", `If-None-Match: "v-en"`)
	assert.Equal(t, 200, r.status)
	assert.Equal(t, "v-fr#2", r.body)
	// Stored now: still not en's.
	r = do(t, app, "GET", "/v", "Accept-Language: fr", `If-None-Match: "v-en"`)
	assert.Equal(t, 200, r.status)
	assert.Equal(t, "v-fr#2", r.body)

	r = do(t, app, "GET", "/v", "Accept-Language: en", `If-None-Match: "v-en"`)
	assertNotModified(t, r, `"v-en"`)
	assert.Equal(t, "Accept-Language", r.header.Get("Vary"))
	assertNotModified(t, do(t, app, "HEAD", "/v", "Accept-Language: fr", `If-None-Match: "v-fr"`), `"v-fr"`)
	r = do(t, app, "GET", "/v", "Accept-Language: en", `If-None-Match: "v-fr"`)
	assert.Equal(t, 200, r.status)
	assert.Equal(t, "v-en#1", r.body)
	assert.Equal(t, 2, k.runs())
}

func TestConditional_AutoETag(t *testing.T) {
	etagRE := regexp.MustCompile(`^"fc-[0-9a-z]+-[0-9a-z]+"$`)
	var k counter
	app := fiber.New()
	app.Use(New(WithTTL(time.Hour)))
	app.Get("/a", k.handler("a"))
	app.Get("/b", k.handler("b"))
	miss := do(t, app, "GET", "/a")
	etag := miss.header.Get("ETag")
	assert.Regexp(t, etagRE, etag, "computed at store time")
	hit := do(t, app, "GET", "/a")
	assert.Equal(t, "hit", hit.header.Get("X-Cache"))
	assert.Equal(t, etag, hit.header.Get("ETag"), "the same on the miss and the hit")
	assertNotModified(t, do(t, app, "GET", "/a", "If-None-Match: "+etag), etag)
	assertNotModified(t, do(t, app, "GET", "/a", "If-None-Match: W/"+etag), etag)
	assert.Equal(t, 200, do(t, app, "GET", "/a", `If-None-Match: "fc-0-0"`).status)
	other := do(t, app, "GET", "/b").header.Get("ETag")
	assert.Regexp(t, etagRE, other)
	assert.NotEqual(t, etag, other, "another body, another tag")
	assert.Equal(t, 2, k.runs())

	// WithETag(false): no tag of the cache's; a handler's own is kept.
	var k2 counter
	app = fiber.New()
	app.Use(New(WithTTL(time.Hour), WithETag(false)))
	app.Get("/a", k2.handler("a"))
	app.Get("/own", k2.handler("own", header("ETag", `"mine"`)))
	for range 2 {
		r := do(t, app, "GET", "/a")
		assert.Empty(t, r.header.Get("ETag"))
		assert.Equal(t, "a#1", r.body)
		assert.Equal(t, `"mine"`, do(t, app, "GET", "/own").header.Get("ETag"))
	}
	r := do(t, app, "GET", "/a", "If-None-Match: "+etag)
	assert.Equal(t, 200, r.status)
	assert.Equal(t, "a#1", r.body)
	assert.Equal(t, 2, k2.runs())
}

func TestRange_FromAStoredFullResponse(t *testing.T) {
	const body = "0123456789abcdefghij"
	var k counter
	app := fiber.New()
	app.Use(New(WithTTL(time.Hour)))
	app.Get("/f", func(c *fiber.Ctx) error {
		assert.Empty(t, c.Get("Range"), "the handler is asked for the whole representation")
		return k.handler(body)(c)
	})
	full := do(t, app, "GET", "/f")
	require.Equal(t, 200, full.status)
	n := strconv.Itoa(len(full.body))
	etag := full.header.Get("ETag")
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
		{"suffix", []string{"Range: bytes=-2"}, 206, "bytes " + strconv.Itoa(len(full.body)-2) + "-" + strconv.Itoa(len(full.body)-1) + "/" + n, "#1"},
		{"unsatisfiable", []string{"Range: bytes=100-200"}, 416, "bytes */" + n, ""},
		{"If-Range matches", []string{"Range: bytes=0-9", "If-Range: " + etag}, 206, "bytes 0-9/" + n, "0123456789"},
		{"If-Range does not match", []string{"Range: bytes=0-9", `If-Range: "other"`}, 200, "", full.body},
	}
	for _, tc := range cases {
		r := do(t, app, "GET", "/f", tc.headers...)
		assert.Equal(t, tc.status, r.status, tc.name)
		assert.Equal(t, tc.contentRange, r.header.Get("Content-Range"), tc.name)
		assert.Equal(t, tc.body, r.body, tc.name)
		assert.Equal(t, strconv.Itoa(len(tc.body)), r.header.Get("Content-Length"), tc.name)
		assert.Equal(t, "hit", r.header.Get("X-Cache"), tc.name)
	}
	assert.Equal(t, 1, k.runs(), "every range from the one stored 200")

	// A range asked first: the handler gives the whole, which is stored.
	r := do(t, app, "GET", "/f?cold", "Range: bytes=0-9")
	assert.Equal(t, 206, r.status)
	assert.Equal(t, "0123456789", r.body)
	assert.Equal(t, body+"#2", do(t, app, "GET", "/f?cold").body)
	assert.Equal(t, 2, k.runs())
}
