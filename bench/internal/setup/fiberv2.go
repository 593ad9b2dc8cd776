package setup

import (
	"fmt"
	"net"
	"time"

	fibercache "github.com/fiber-caches/cache"
	"github.com/gofiber/fiber/v2"
	fibermw "github.com/gofiber/fiber/v2/middleware/cache"
	"github.com/valyala/fasthttp"
)

// The Fiber v2 apps: fibercache's Fiber v2 middleware (the root module)
// and Fiber v2's own middleware/cache.

// newFiberV2 is New for the Fiber v2 impls. Fiber's middleware is told to
// replay the handler's response headers (StoreResponseHeaders), so both
// caches answer the handler's headers (the benchmarks check it);
// fibercache adds its own (Cache-Control and Expires for clients, Age,
// Cache-Status), Fiber's only X-Cache.
func newFiberV2(impl Impl, redisAddr string, h Handler, opts ...fibercache.Option) (App, error) {
	store, err := storage(impl, redisAddr)
	if err != nil {
		return nil, err
	}
	var mw fiber.Handler
	switch impl {
	case Raw:
	case FibercacheMem:
		mw = fibercache.New(fibercacheOptions(impl, opts)...)
	case FibercacheRedis, FibercacheNear, FibercacheLag:
		mw = fibercache.New(append([]fibercache.Option{fibercache.WithStorage(store)}, fibercacheOptions(impl, opts)...)...)
	case FiberMem:
		mw = fibermw.New(fibermw.Config{Expiration: TTL, StoreResponseHeaders: true, MaxBytes: MaxMemory})
	case FiberRedis:
		mw = fibermw.New(fibermw.Config{Expiration: TTL, StoreResponseHeaders: true, Storage: store})
	default:
		return nil, fmt.Errorf("impl %q does not run in Fiber v2", impl)
	}
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	if mw != nil {
		app.Use(mw)
	}
	app.Get("/*", func(c *fiber.Ctx) error { return h(c.Context()) })
	return fiberV2App{app}, nil
}

// fiberV2App is a Fiber v2 app as an App.
type fiberV2App struct{ app *fiber.App }

func (a fiberV2App) Handler() fasthttp.RequestHandler { return a.app.Handler() }
func (a fiberV2App) Listener(ln net.Listener) error   { return a.app.Listener(ln) }
func (a fiberV2App) Shutdown() error                  { return a.app.ShutdownWithTimeout(5 * time.Second) }
