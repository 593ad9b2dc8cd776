package testkit

import (
	"net"

	"github.com/gofiber/fiber/v3"
)

// Not generated: what the Fiber v3 suite needs that the v2 one does not
// (v3gen rewrites the v2 suite to call these).

// NewApp returns fiber.New(cfg...) trusting every proxy, as a Fiber v2 app
// does by default (v2 trusts every proxy unless EnableTrustedProxyCheck),
// so that the suite written on v2 runs on v3 as written. A cfg that sets
// TrustProxy keeps its own trust.
//
// Loopback and private addresses are trusted by TrustProxyConfig's flags,
// the others by the ranges: Fiber v3's IsProxyTrusted allocates (it looks
// the address up as a string) for an address no flag covers.
func NewApp(cfg ...fiber.Config) *fiber.App {
	var c fiber.Config
	if len(cfg) > 0 {
		c = cfg[0]
	}
	if !c.TrustProxy {
		c.TrustProxy = true
		c.TrustProxyConfig = TrustedProxies(false, nil)
	}
	return fiber.New(c)
}

// TrustedProxies is the v3 TrustProxyConfig of a Fiber v2 app's
// EnableTrustedProxyCheck: check, TrustedProxies: proxies: those proxies
// when check, else every one.
func TrustedProxies(check bool, proxies []string) fiber.TrustProxyConfig {
	if !check {
		return fiber.TrustProxyConfig{Proxies: []string{"0.0.0.0/0", "::/0"}, Loopback: true, Private: true, LinkLocal: true, UnixSocket: true}
	}
	return fiber.TrustProxyConfig{Proxies: proxies}
}

// AllParams is Fiber v2's c.AllParams(), which v3 does not have: the
// route's parameters, by name, as c.Params returns them.
func AllParams(c fiber.Ctx) map[string]string {
	names := c.Route().Params
	params := make(map[string]string, len(names))
	for _, n := range names {
		params[n] = c.Params(n)
	}
	return params
}

// Loopback returns a client address on 127.0.0.1, for a fasthttp context
// made by hand (ctx.Init): without one, fasthttp gives 0.0.0.0, which
// Fiber v3's IsProxyTrusted looks up as a string, allocating, when the app
// trusts proxies (see NewApp).
func Loopback() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1234} }
