// Package setup builds the apps that the benchmarks, the stampede test and
// the load program compare, configured alike: no cache, fibercache and
// Fiber's own cache middleware, each on its in-process store and on Redis.
//
// An Impl names one of them, on one framework; the handler behind it is a
// Handler, on fasthttp's context, so that every case serves the same
// handler. Each framework adapter has a file: fiberv2.go builds the Fiber
// v2 apps, fiberv3.go the Fiber v3 ones. Another adapter adds its Impls to
// the list below, a case to New and a file of its own.
package setup

import (
	"fmt"
	"net"
	"slices"
	"strconv"
	"time"

	fibercache "github.com/fiber-caches/cache"
	"github.com/gofiber/storage/redis/v3"
	"github.com/valyala/fasthttp"
)

// Impl is one way of serving a route: without a cache, or through one of
// the caches on one of the storages, in one framework.
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

	// In Fiber v3: the Fiber v3 module of fibercache and Fiber v3's own
	// middleware/cache. A case's name with "fibercache-" replaced by
	// "fiber-" is Fiber's cache on the same framework and storage (what
	// bench/table compares it with).
	RawV3             Impl = "raw-v3"              // no cache, Fiber v3
	FibercacheV3Mem   Impl = "fibercache-v3-mem"   // fibercache/fiberv3, default in-process store
	FibercacheV3Redis Impl = "fibercache-v3-redis" // fibercache/fiberv3, github.com/gofiber/storage/redis/v3
	FiberV3Mem        Impl = "fiber-v3-mem"        // Fiber v3's middleware/cache, its in-memory storage
	FiberV3Redis      Impl = "fiber-v3-redis"      // Fiber v3's middleware/cache, github.com/gofiber/storage/redis/v3
)

// Impls lists every Impl: the Fiber v2 ones, Raw first, then the Fiber v3
// ones, RawV3 first.
var Impls = []Impl{
	Raw, FibercacheMem, FibercacheRedis, FibercacheNear, FibercacheLag, FiberMem, FiberRedis,
	RawV3, FibercacheV3Mem, FibercacheV3Redis, FiberV3Mem, FiberV3Redis,
}

// Caches lists the Impls that cache.
var Caches = slices.DeleteFunc(slices.Clone(Impls), func(i Impl) bool { return i.IsRaw() })

// UsesRedis reports whether impl needs a Redis.
func (i Impl) UsesRedis() bool {
	switch i {
	case FibercacheRedis, FibercacheNear, FibercacheLag, FiberRedis, FibercacheV3Redis, FiberV3Redis:
		return true
	}
	return false
}

// IsRaw reports whether impl serves without a cache (Raw, RawV3).
func (i Impl) IsRaw() bool { return i == Raw || i == RawV3 }

// IsV3 reports whether impl runs in Fiber v3.
func (i Impl) IsV3() bool {
	switch i {
	case RawV3, FibercacheV3Mem, FibercacheV3Redis, FiberV3Mem, FiberV3Redis:
		return true
	}
	return false
}

// NearLag is the lag of the relaxed near cache case.
const NearLag = 100 * time.Millisecond

// IsFiber reports whether impl is Fiber's own cache middleware.
func (i Impl) IsFiber() bool {
	return i == FiberMem || i == FiberRedis || i == FiberV3Mem || i == FiberV3Redis
}

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

// A Handler is the route's handler, the same whatever serves it: it
// writes the response into ctx. An error is the framework's to answer (a
// 500).
type Handler func(ctx *fasthttp.RequestCtx) error

// App is one app: every GET goes through its Impl's cache, if any, then
// the Handler.
type App interface {
	// Handler returns the app's handler, for requests served in process.
	Handler() fasthttp.RequestHandler
	// Listener serves on ln until Shutdown.
	Listener(ln net.Listener) error
	// Shutdown stops serving, waiting up to a few seconds for requests in
	// flight.
	Shutdown() error
}

// New returns the app of impl in front of h. redisAddr (host:port) is used
// by the Redis impls; opts are added to fibercache's options (the Options
// of every fibercache adapter are one type).
func New(impl Impl, redisAddr string, h Handler, opts ...fibercache.Option) (App, error) {
	if !slices.Contains(Impls, impl) {
		return nil, fmt.Errorf("unknown impl %q", impl)
	}
	if impl.IsV3() {
		return newFiberV3(impl, redisAddr, h, opts...)
	}
	return newFiberV2(impl, redisAddr, h, opts...)
}

// fibercacheOptions returns the options of fibercache's impls, in every
// adapter, but the storage (WithStorage takes the framework's Storage
// type): the adapter adds that for the impls that use Redis. opts come
// last.
func fibercacheOptions(impl Impl, opts []fibercache.Option) []fibercache.Option {
	o := []fibercache.Option{fibercache.WithTTL(TTL)}
	if impl.UsesRedis() {
		o = append(o, fibercache.WithStorageTimeout(StorageTimeout))
	} else {
		o = append(o, fibercache.WithMaxMemory(MaxMemory))
	}
	if impl == FibercacheNear || impl == FibercacheLag {
		o = append(o, fibercache.WithNearCache(MaxMemory))
	}
	if impl == FibercacheLag {
		o = append(o, fibercache.WithNearCacheLag(NearLag))
	}
	return append(o, opts...)
}

// storage returns the Redis storage on redisAddr for the impls that use
// Redis, nil for the others.
func storage(impl Impl, redisAddr string) (*redis.Storage, error) {
	if !impl.UsesRedis() {
		return nil, nil
	}
	return Redis(redisAddr)
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
