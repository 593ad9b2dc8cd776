package cache

import (
	"testing"

	"github.com/fiber-caches/cache/internal/core"
	"github.com/fiber-caches/cache/internal/core/entry"
	"github.com/fiber-caches/cache/internal/testkit"
	"github.com/gofiber/fiber/v2"
	"github.com/stretchr/testify/assert"
)

// RFC 9110 §12.5.3: an entry with a content coding only answers a request
// that accepts it.
func TestAcceptable(t *testing.T) {
	gz := &entry.Entry{Encoding: []byte("gzip")}
	ae := []string{"accept-encoding"}
	for _, tc := range []struct {
		ae   string
		want bool
	}{
		{"", false},
		{"gzip,", true},
		{"GZip,", true},
		{"br, gzip;q=0.5,", true},
		{"gzip;q=0,", false},
		{"gzip;q=0.000,", false},
		{"br,", false},
		{"*,", true},
		{"*, gzip;q=0,", false},
		{"identity,", false},
		{"br,gzip,", true},
	} {
		assert.Equal(t, tc.want, core.Acceptable([]byte(tc.ae), gz, ae), "%q", tc.ae)
	}
	assert.True(t, core.Acceptable(nil, &entry.Entry{}, ae), "no coding: always")
	assert.True(t, core.Acceptable(nil, &entry.Entry{Encoding: []byte("identity")}, ae))
	assert.True(t, core.Acceptable(nil, gz, nil), "a response that does not vary on Accept-Encoding is the same for everyone")
}

// A handler that negotiates the coding itself (q-values the compress
// middleware would not read alike) never gets its gzip answer served to a
// client that did not ask for gzip.
func TestNegotiatingHandlerNeverServesAnUnaskedCoding(t *testing.T) {
	var k testkit.Counter
	app := fiber.New()
	app.Use(New())
	app.Get("/p", func(c *fiber.Ctx) error {
		c.Vary(fiber.HeaderAcceptEncoding)
		if c.AcceptsEncodings("gzip", "identity") == "gzip" {
			c.Set(fiber.HeaderContentEncoding, "gzip")
			return k.Handler("GZIP-BYTES")(c)
		}
		return k.Handler("plain")(c)
	})
	r := testkit.Do(t, app, "GET", "/p", "Accept-Encoding: gzip;q=1.0, identity;q=0.5")
	assert.Equal(t, "gzip", r.Header.Get("Content-Encoding"))
	// Keyed alike (the compress middleware would not pick gzip for
	// either), but the stored gzip answer is not served to this one.
	r = testkit.Do(t, app, "GET", "/p", "Accept-Encoding: identity")
	assert.Empty(t, r.Header.Get("Content-Encoding"), "no gzip bytes without Accept-Encoding: gzip")
	assert.Equal(t, "plain#2", r.Body)
}
