package testkit

import "github.com/gofiber/fiber/v3"

// Not generated: what the Fiber v3 suite needs that the v2 one does not
// (v3gen rewrites the v2 suite to call these).

// NewApp returns fiber.New(cfg...) trusting every proxy, as a Fiber v2 app
// does by default (v2 trusts every proxy unless EnableTrustedProxyCheck),
// so that the suite written on v2 runs on v3 as written. A cfg that sets
// TrustProxy keeps its own trust.
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
		return fiber.TrustProxyConfig{Proxies: []string{"0.0.0.0/0", "::/0"}, UnixSocket: true}
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
