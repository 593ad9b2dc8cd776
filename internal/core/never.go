package core

import (
	"strings"

	"github.com/valyala/fasthttp"
)

// Headers set by Never.
const (
	// NeverCacheControl is the exact Cache-Control header Never sends.
	NeverCacheControl = "max-age=0, no-cache, no-store, must-revalidate, private"
	// NeverExpires is the Expires header Never sends: a date in the past,
	// for HTTP/1.0 caches that do not read Cache-Control.
	NeverExpires = "Thu, 01 Jan 1970 00:00:00 GMT"
)

// Never returns a handler for a route or group whose responses must never
// be stored by any cache: not by New, not by a CDN or proxy, not by the
// browser.
//
// After the rest of the chain ran, Never sets Cache-Control to exactly
// NeverCacheControl, replacing whatever the handler set there (other
// directives such as no-transform are not kept, so the header is always
// the same), and Expires to NeverExpires. It does so even when the rest of
// the chain returns an error, which it then returns unchanged: an error
// page must not be cached either.
//
// Never wins over Control wherever they are in the chain: a Control that
// runs after Never (for example app.Use(cache.Control(cache.Public())) in
// front of a route with Never) leaves the response alone.
//
// New never stores a response carrying no-store or private, so Never
// works on a route under an app-wide New:
//
//	app.Use(cache.New(cache.WithTTL(time.Minute)))
//	app.Get("/me", cache.Never(), profileHandler)
func Never() func(c Ctx) error {
	return func(c Ctx) error {
		err := c.Next()
		c.Locals(controlNeverKey{}, true)
		h := &c.Response().Header
		controlDelHeader(h, fasthttp.HeaderCacheControl)
		controlDelHeader(h, fasthttp.HeaderExpires)
		h.Set(fasthttp.HeaderCacheControl, NeverCacheControl)
		h.Set(fasthttp.HeaderExpires, NeverExpires)
		return err
	}
}

// controlNeverKey marks, in c.Locals, a request whose response Never made
// uncacheable; Control leaves such responses alone.
type controlNeverKey struct{}

// controlDelHeader deletes every line of the header key from h, in any
// spelling (possible when header normalizing is disabled, or where a line
// was set with SetCanonical).
func controlDelHeader(h *fasthttp.ResponseHeader, key string) {
	delLines(h, func(k []byte) bool { return strings.EqualFold(string(k), key) })
}
