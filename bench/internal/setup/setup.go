// Package setup builds the caching middlewares that the benchmarks, the
// stampede test and the load program compare, configured alike: fibercache
// and Fiber's own cache middleware, each on its in-process store and on
// Redis.
package setup

import (
	"fmt"
	"net"
	"strconv"
	"time"

	fibercache "github.com/fiber-caches/cache"
	"github.com/gofiber/fiber/v2"
	fibermw "github.com/gofiber/fiber/v2/middleware/cache"
	"github.com/gofiber/storage/redis/v3"
)

// Impl is one way of serving a route: without a cache, or through one of
// the caches on one of the storages.
type Impl string

// The ways of serving that are compared.
const (
	Raw             Impl = "raw"              // no cache: the handler runs on every request
	FibercacheMem   Impl = "fibercache-mem"   // fibercache, default in-process store
	FibercacheRedis Impl = "fibercache-redis" // fibercache, github.com/gofiber/storage/redis/v3
	FibercacheNear  Impl = "fibercache-near"  // fibercache, Redis with a near cache (strict)
	FibercacheLag   Impl = "fibercache-lag"   // fibercache, Redis with a near cache (relaxed: WithNearCacheLag(NearLag))
	FiberMem        Impl = "fiber-mem"        // Fiber's middleware/cache, its in-memory storage
	FiberRedis      Impl = "fiber-redis"      // Fiber's middleware/cache, github.com/gofiber/storage/redis/v3
)

// Impls lists every Impl, Raw first.
var Impls = []Impl{Raw, FibercacheMem, FibercacheRedis, FibercacheNear, FibercacheLag, FiberMem, FiberRedis}

// Caches lists the Impls that cache.
var Caches = Impls[1:]

// UsesRedis reports whether impl needs a Redis.
func (i Impl) UsesRedis() bool {
	return i == FibercacheRedis || i == FibercacheNear || i == FibercacheLag || i == FiberRedis
}

// NearLag is the lag of the relaxed near cache case.
const NearLag = 100 * time.Millisecond

// IsFiber reports whether impl is Fiber's own cache middleware.
func (i Impl) IsFiber() bool { return i == FiberMem || i == FiberRedis }

// TTL is how long every cache keeps a response: longer than any run.
const TTL = 10 * time.Minute

// StorageTimeout is fibercache's storage deadline here (the default is
// 50 ms; Fiber's middleware has none). A loaded machine, or the race
// detector, can stall a Redis call past 50 ms; the storage is then paused
// and requests bypass the cache, by design: a benchmark would measure
// bypasses (it fails instead), a stampede would run the handler again.
const StorageTimeout = 5 * time.Second

// MaxMemory bounds both in-process stores alike (fibercache's
// WithMaxMemory, Fiber's MaxBytes).
const MaxMemory = 64 << 20

// CacheHeader is the response header both caches answer "hit" or "miss" in.
const CacheHeader = "X-Cache"

// Middleware returns the caching middleware of impl, nil for Raw.
// redisAddr (host:port) is used by the Redis impls. Fiber's middleware is
// told to replay the handler's response headers (StoreResponseHeaders), so
// both caches answer the handler's headers (the benchmarks check it);
// fibercache adds its own (Cache-Control and Expires for clients, Age,
// Cache-Status), Fiber's only X-Cache. opts are added to fibercache's.
func Middleware(impl Impl, redisAddr string, opts ...fibercache.Option) (fiber.Handler, error) {
	var store fiber.Storage
	if impl.UsesRedis() {
		s, err := Redis(redisAddr)
		if err != nil {
			return nil, err
		}
		store = s
	}
	switch impl {
	case Raw:
		return nil, nil
	case FibercacheMem:
		return fibercache.New(append([]fibercache.Option{fibercache.WithTTL(TTL), fibercache.WithMaxMemory(MaxMemory)}, opts...)...), nil
	case FibercacheRedis:
		return fibercache.New(append([]fibercache.Option{fibercache.WithTTL(TTL), fibercache.WithStorage(store), fibercache.WithStorageTimeout(StorageTimeout)}, opts...)...), nil
	case FibercacheNear, FibercacheLag:
		near := []fibercache.Option{fibercache.WithTTL(TTL), fibercache.WithStorage(store), fibercache.WithStorageTimeout(StorageTimeout),
			fibercache.WithNearCache(MaxMemory)}
		if impl == FibercacheLag {
			near = append(near, fibercache.WithNearCacheLag(NearLag))
		}
		return fibercache.New(append(near, opts...)...), nil
	case FiberMem:
		return fibermw.New(fibermw.Config{Expiration: TTL, StoreResponseHeaders: true, MaxBytes: MaxMemory}), nil
	case FiberRedis:
		return fibermw.New(fibermw.Config{Expiration: TTL, StoreResponseHeaders: true, Storage: store}), nil
	}
	return nil, fmt.Errorf("unknown impl %q", impl)
}

// Redis returns a Redis storage on addr (host:port).
func Redis(addr string) (s *redis.Storage, err error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		return nil, fmt.Errorf("redis address %q: %w", addr, err)
	}
	defer func() {
		// redis.New panics when Redis does not answer.
		if r := recover(); r != nil {
			err = fmt.Errorf("redis on %s: %v", addr, r)
		}
	}()
	return redis.New(redis.Config{Host: host, Port: p}), nil
}

// App returns an app that serves every GET through impl's middleware and
// then h. opts are added to fibercache's options.
func App(impl Impl, redisAddr string, h fiber.Handler, opts ...fibercache.Option) (*fiber.App, error) {
	mw, err := Middleware(impl, redisAddr, opts...)
	if err != nil {
		return nil, err
	}
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	if mw != nil {
		app.Use(mw)
	}
	app.Get("/*", h)
	return app, nil
}
