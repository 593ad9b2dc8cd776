package setup

import (
	"fmt"
	"net"
	"time"

	fibercache "github.com/fiber-caches/cache"
	fibercachev3 "github.com/fiber-caches/cache/fiberv3"
	"github.com/gofiber/fiber/v3"
	fibermw "github.com/gofiber/fiber/v3/middleware/cache"
	"github.com/valyala/fasthttp"
)

// The Fiber v3 apps: fibercache's Fiber v3 middleware (the fiberv3
// module) and Fiber v3's own middleware/cache.

// newFiberV3 is New for the Fiber v3 impls, configured as the Fiber v2
// ones (see newFiberV2): the same TTL, the same bound on the in-process
// stores, the same Redis storage (github.com/gofiber/storage/redis/v3
// implements v3's fiber.Storage, the *WithContext methods included), and
// Fiber's middleware replaying the handler's headers (StoreResponseHeaders,
// which v3.1.0 still has). Fiber v3's middleware adds Age and Date to a
// hit besides X-Cache; its key is the path and the method.
func newFiberV3(impl Impl, redisAddr string, h Handler, opts ...fibercache.Option) (App, error) {
	store, err := storage(impl, redisAddr)
	if err != nil {
		return nil, err
	}
	var mw fiber.Handler
	switch impl {
	case RawV3:
	case FibercacheV3Mem:
		mw = fibercachev3.New(fibercacheOptions(impl, opts)...)
	case FibercacheV3Redis:
		mw = fibercachev3.New(append([]fibercache.Option{fibercachev3.WithStorage(store)}, fibercacheOptions(impl, opts)...)...)
	case FiberV3Mem:
		mw = fibermw.New(fibermw.Config{Expiration: TTL, StoreResponseHeaders: true, MaxBytes: MaxMemory})
	case FiberV3Redis:
		mw = fibermw.New(fibermw.Config{Expiration: TTL, StoreResponseHeaders: true, Storage: store})
	default:
		return nil, fmt.Errorf("impl %q does not run in Fiber v3", impl)
	}
	app := fiber.New()
	if mw != nil {
		app.Use(mw)
	}
	app.Get("/*", func(c fiber.Ctx) error { return h(c.RequestCtx()) })
	return fiberV3App{app}, nil
}

// fiberV3App is a Fiber v3 app as an App.
type fiberV3App struct{ app *fiber.App }

func (a fiberV3App) Handler() fasthttp.RequestHandler { return a.app.Handler() }
func (a fiberV3App) Listener(ln net.Listener) error {
	return a.app.Listener(ln, fiber.ListenConfig{DisableStartupMessage: true})
}
func (a fiberV3App) Shutdown() error { return a.app.ShutdownWithTimeout(5 * time.Second) }
