package main

import (
	"errors"
	"net"
	"net/http"
	"time"

	cache "github.com/fiber-caches/cache/fiberv3"
	"github.com/gofiber/fiber/v3"
	fibercache "github.com/gofiber/fiber/v3/middleware/cache"
	"github.com/gofiber/fiber/v3/middleware/proxy"
	"github.com/gofiber/storage/redis/v3"
)

// The proxy in Fiber v3 (-adapter v3): fibercache's fiberv3 module, or
// github.com/gofiber/fiber/v3/middleware/cache. The same layers and the
// same forwarding fixes as in Fiber v2 (fiberv2.go): Fiber v3's
// proxy.Balancer deletes Connection and re-serialises the request's URI as
// v2's does.

// newAppV3 builds the proxy in Fiber v3, as newAppV2 does in Fiber v2.
func newAppV3(o options, originAddr string, store *redis.Storage) proxyApp {
	app := fiber.New(fiber.Config{
		// fasthttp replaces the response's Date with its own clock and adds
		// a Content-Type unless told not to; a proxy passes both through.
		DisableDefaultDate:        true,
		DisableDefaultContentType: true,
		ReadBufferSize:            64 << 10, // request headers up to 64 KiB
		ErrorHandler: func(c fiber.Ctx, err error) error {
			code := fiber.StatusInternalServerError
			if fe := (*fiber.Error)(nil); errors.As(err, &fe) {
				code = fe.Code
			}
			writeError(c.Response(), code, err)
			return nil
		},
		// Fiber answers 400 (v3: 501) to a method it does not know; the
		// suite also sends M-SEARCH (an unknown method that must
		// invalidate).
		RequestMethods: append(append([]string(nil), fiber.DefaultMethods...), "M-SEARCH"),
	})
	app.Use(func(c fiber.Ctx) error {
		c.Locals(targetKey{}, dropHopByHop(c.Request()))
		return c.Next()
	})

	switch o.impl {
	case "fiber":
		app.Use(fibercache.New(fiberConfigV3(o, store)))
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
		ModifyRequest: func(c fiber.Ctx) error {
			if raw, ok := c.Locals(targetKey{}).([]byte); ok {
				c.Request().SetRequestURIBytes(raw)
			}
			return nil
		},
		ModifyResponse: func(c fiber.Ctx) error {
			restoreConnection(&c.Response().Header)
			return nil
		},
		Client: newUpstream(originAddr),
	}))
	return fiberV3App{app}
}

// fiberConfigV3 is Fiber v3's own cache middleware configured as
// fiberConfigV2 configures v2's: StoreResponseHeaders and Cache-Control for
// clients on; "rfc" keys the query and takes the lifetime from
// responseLifetime, capped at Expiration (v3.1.0 reads max-age, s-maxage
// and Expires by itself, but would keep a response without any for
// Expiration: a lifetime of 0 makes it store nothing instead); "plain" is
// a fixed Expiration keyed by path. Unlike v2's, v3's cache reads the
// request's Cache-Control, Vary, Authorization and must-revalidate by
// itself.
func fiberConfigV3(o options, store *redis.Storage) fibercache.Config {
	cfg := fibercache.Config{
		StoreResponseHeaders: true,
		Expiration:           o.fiberExpiration,
		KeyGenerator: func(c fiber.Ctx) string {
			return o.prefix + c.Path()
		},
	}
	if o.fiberConfig == "rfc" {
		cfg.KeyGenerator = func(c fiber.Ctx) string {
			return o.prefix + c.OriginalURL()
		}
		cfg.ExpirationGenerator = func(c fiber.Ctx, cfg *fibercache.Config) time.Duration {
			return min(responseLifetime(&c.Response().Header, time.Now()), cfg.Expiration)
		}
	}
	if store != nil {
		cfg.Storage = store
	}
	return cfg
}

// fiberV3App is a Fiber v3 app as a proxyApp.
type fiberV3App struct{ app *fiber.App }

func (a fiberV3App) Listener(ln net.Listener) error {
	return a.app.Listener(ln, fiber.ListenConfig{DisableStartupMessage: true})
}
func (a fiberV3App) Shutdown() error { return a.app.ShutdownWithTimeout(5 * time.Second) }
func (a fiberV3App) Test(req *http.Request) (*http.Response, error) {
	return a.app.Test(req, fiber.TestConfig{Timeout: 5 * time.Second})
}
