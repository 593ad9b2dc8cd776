package core

import (
	"slices"

	"github.com/valyala/fasthttp"
)

// cookieName is the name, among a path's learnt Vary names, under which
// the app mode keys a response by the request's cookies (those
// WithCookieIgnore does not leave out), as if it said Vary: Cookie. It is
// not a header a request can send: the key reads it from the request's
// cookies (appendCookies), whatever headers the request carries.
const cookieName = "cookie*"

// keysCookies reports whether a response read as ri is keyed by the
// request's cookies: in app mode, unless WithCookieIgnore("*") turned it
// off or the response says it may be shared (public, s-maxage).
//
// Fiber's session middleware, unlike Django's, does not add Vary: Cookie
// to the pages that read a session; without this, the first user to load
// a personalised page would have it served to everyone.
func (m *Cache) keysCookies(ri *responseInfo) bool {
	return !m.cfg.shared && !m.cfg.cookiesShared && !ri.cc.Public && ri.cc.SMaxAge < 0
}

// withCookieName returns names (sorted) with cookieName added.
func withCookieName(names []string) []string {
	if slices.Contains(names, cookieName) {
		return names
	}
	out := append(append(make([]string, 0, len(names)+1), names...), cookieName)
	slices.Sort(out)
	return out
}

// appendCookies appends the request's cookies, as the handler reads them
// (every Cookie line, whatever its spelling, parsed into name and value
// pairs as c.Cookies sees them), but those whose names match one of
// ignore: each name and value length-prefixed, in order, then 'E'. A
// request without cookies, or with ignored ones only, appends only 'E':
// such requests share their entries.
func appendCookies(b []byte, h *fasthttp.RequestHeader, ignore []string) []byte {
	h.VisitAllCookie(func(k, v []byte) {
		for _, p := range ignore {
			if globMatch(p, k) {
				return
			}
		}
		b = appendLine(b, k)
		b = appendLine(b, v)
	})
	return append(b, 'E')
}
