package main

import (
	"errors"
	"net"
	"net/http"
	"time"

	cache "github.com/fiber-caches/cache"
	"github.com/gofiber/fiber/v2"
	fibercache "github.com/gofiber/fiber/v2/middleware/cache"
	"github.com/gofiber/fiber/v2/middleware/proxy"
	"github.com/gofiber/fiber/v2/utils"
	"github.com/gofiber/storage/redis/v3"
)

// The proxy in Fiber v2 (-adapter v2): fibercache's root module, or
// github.com/gofiber/fiber/v2/middleware/cache.

// newAppV2 builds the proxy in Fiber v2: hop-by-hop request fields
// dropped, then the cache under test, then Fiber's proxy middleware
// forwarding to the origin.
func newAppV2(o options, originAddr string, store *redis.Storage) proxyApp {
	app := fiber.New(fiber.Config{
		DisableStartupMessage: true,
		// fasthttp replaces the response's Date with its own clock and adds
		// a Content-Type unless told not to; a proxy passes both through.
		DisableDefaultDate:        true,
		DisableDefaultContentType: true,
		ReadBufferSize:            64 << 10, // request headers up to 64 KiB
		ErrorHandler: func(c *fiber.Ctx, err error) error {
			code := fiber.StatusInternalServerError
			if fe := (*fiber.Error)(nil); errors.As(err, &fe) {
				code = fe.Code
			}
			writeError(c.Response(), code, err)
			return nil
		},
		// Fiber answers 400 to a method it does not know; the suite also
		// sends M-SEARCH (an unknown method that must invalidate).
		RequestMethods: append(append([]string(nil), fiber.DefaultMethods...), "M-SEARCH"),
	})
	app.Use(func(c *fiber.Ctx) error {
		c.Locals(targetKey{}, dropHopByHop(c.Request()))
		return c.Next()
	})

	switch o.impl {
	case "fiber":
		app.Use(fibercache.New(fiberConfigV2(o, store)))
	case "none":
		// no cache: the forwarding alone, to tell its effects from the cache's
	case "fibercache":
		opts := []cache.Option{cache.WithSharedCache(), cache.WithKeyPrefix(o.prefix)}
		if store != nil {
			opts = append(opts, cache.WithStorage(store))
		}
		app.Use(cache.New(opts...))
	}

	app.Use(proxy.Balancer(proxy.Config{
		Servers: []string{"http://" + originAddr}, // unused: Client is set
		Timeout: upstreamTimeout,
		ModifyRequest: func(c *fiber.Ctx) error {
			if raw, ok := c.Locals(targetKey{}).([]byte); ok {
				c.Request().SetRequestURIBytes(raw)
			}
			return nil
		},
		ModifyResponse: func(c *fiber.Ctx) error {
			restoreConnection(&c.Response().Header)
			return nil
		},
		Client: newUpstream(originAddr),
	}))
	return fiberV2App{app}
}

// fiberConfigV2 is Fiber v2's own cache middleware configured as close to
// RFC 9111 as its Config allows. "plain" is the Config the issue names:
// CacheControl, StoreResponseHeaders and a fixed Expiration, keyed by path
// (Fiber's default key). "rfc" adds what its other fields allow: an
// ExpirationGenerator that takes the lifetime from the response's
// Cache-Control (s-maxage, then max-age; none for no-store, no-cache,
// private) or Expires (against Date), capped at Expiration, and nothing
// reusable without them; and a key with the query string. Fiber v2's cache
// has no notion of Vary, validation, request directives beyond a substring
// test for no-store and no-cache, or Age.
func fiberConfigV2(o options, store *redis.Storage) fibercache.Config {
	cfg := fibercache.Config{
		CacheControl:         true,
		StoreResponseHeaders: true,
		Expiration:           o.fiberExpiration,
		KeyGenerator: func(c *fiber.Ctx) string {
			return o.prefix + utils.CopyString(c.Path())
		},
	}
	if o.fiberConfig == "rfc" {
		cfg.KeyGenerator = func(c *fiber.Ctx) string {
			return o.prefix + utils.CopyString(c.OriginalURL())
		}
		cfg.ExpirationGenerator = func(c *fiber.Ctx, cfg *fibercache.Config) time.Duration {
			return min(responseLifetime(&c.Response().Header, time.Now()), cfg.Expiration)
		}
	}
	if store != nil {
		cfg.Storage = store
	}
	return cfg
}

// fiberV2App is a Fiber v2 app as a proxyApp.
type fiberV2App struct{ app *fiber.App }

func (a fiberV2App) Listener(ln net.Listener) error { return a.app.Listener(ln) }
func (a fiberV2App) Shutdown() error                { return a.app.ShutdownWithTimeout(5 * time.Second) }
func (a fiberV2App) Test(req *http.Request) (*http.Response, error) {
	return a.app.Test(req, 5000)
}
