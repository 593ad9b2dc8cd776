package core

import (
	"fmt"
	"log/slog"
	"math"
	"regexp"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Defaults of the options.
const (
	// DefaultCacheHeader is the response header that says "hit" or "miss".
	DefaultCacheHeader = "X-Cache"
	// DefaultKeyPrefix namespaces every storage key unless WithKeyPrefix says otherwise.
	DefaultKeyPrefix = "fibercache:"
	// DefaultMaxBodySize is the largest body stored unless WithMaxBodySize says otherwise.
	DefaultMaxBodySize = 4 << 20
	// DefaultMaxMemory bounds the default in-process store unless WithMaxMemory says otherwise.
	DefaultMaxMemory = 64 << 20
)

// An Option configures the middleware built by New or NewCache.
type Option func(*config)

// config is what the options set.
type config struct {
	ttl            time.Duration // < 0: not given, entries are kept until invalidated
	clientTTL      time.Duration // < 0: not given (the TTL if given, else 0)
	storage        Storage       // nil: the in-process default
	logger         *slog.Logger  // nil: from FIBER_CACHES_LOG_LEVEL, else silent
	rules          []Rule
	cacheHeader    string
	cacheStatus    bool
	keyPrefix      string
	maxBodySize    int
	maxMemory      int
	obs            Observer
	shared         bool // RFC 9111 shared-cache mode, for gateways
	etag           bool
	grace          time.Duration
	storageTimeout time.Duration
	storagePause   time.Duration
	coalesceWait   time.Duration
	fleet          bool    // WithFleetCoalescing: coalesce across instances with a leaser (Redis)
	earlyBeta      float64 // WithEarlyRefresh's beta; 0: off
	ttlJitter      float64 // WithTTLJitter's fraction
	queryIgnore    []string
	querySort      bool
	cookieIgnore   []string      // WithCookieIgnore's patterns
	surrogateKeys  bool          // WithSurrogateKeyHeader(true)
	clockSkew      time.Duration // plain storages' tag sequence margin (sharedstore.go)
	cookiesShared  bool          // WithCookieIgnore("*"): no response is keyed by cookies
	nearMemory     int           // WithNearCache; 0: no near tier
	nearLag        time.Duration // WithNearCacheLag; 0: strict
	nearLagSet     bool
	keyFunc        func(c Ctx, key []byte) []byte
	next           func(c Ctx) bool
	clock          func() time.Time
	errs           []error
}

// DefaultCoalesceWait is how long a request waits for an identical one's
// handler run before it runs the handler itself.
const DefaultCoalesceWait = 5 * time.Second

func defaultConfig() config {
	return config{
		ttl:            -1,
		clientTTL:      -1,
		cacheHeader:    DefaultCacheHeader,
		cacheStatus:    true,
		keyPrefix:      DefaultKeyPrefix,
		maxBodySize:    DefaultMaxBodySize,
		maxMemory:      DefaultMaxMemory,
		etag:           true,
		storageTimeout: DefaultStorageTimeout,
		storagePause:   DefaultStoragePause,
		coalesceWait:   DefaultCoalesceWait,
		fleet:          true,
		earlyBeta:      DefaultEarlyRefresh,
		clockSkew:      clockSkew,
		rules:          []Rule{{}}, // cache every cacheable response
	}
}

// WithTTL sets how long a stored response stays fresh in the cache. A
// response's own s-maxage, max-age or Expires can only shorten it. Clients
// are told the same lifetime (max-age and Expires) unless WithClientTTL
// says otherwise. Without WithTTL, entries are kept until invalidated (or
// evicted), and clients are told to revalidate (no-cache plus a
// validator): no lifetime is advertised that an invalidation could not
// reach. WithTTL(0) stores nothing (caching off). A negative TTL makes New
// panic.
func WithTTL(d time.Duration) Option {
	return func(c *config) {
		if d < 0 {
			c.errs = append(c.errs, fmt.Errorf("WithTTL(%v): the TTL must not be negative; use WithTTL(0) to turn caching off", d))
			return
		}
		c.ttl = d
	}
}

// WithStorage stores responses in s, any fiber.Storage (for example
// github.com/gofiber/storage/redis/v3), in a compact binary format. Without
// it, responses are kept in a bounded in-process store (see WithMaxMemory).
func WithStorage(s Storage) Option {
	return func(c *config) {
		if s == nil {
			c.errs = append(c.errs, fmt.Errorf("WithStorage(nil): pass a fiber.Storage, or leave the option out for the in-process store"))
			return
		}
		c.storage = s
	}
}

// WithLogger sends the middleware's logs to l: hits and misses at
// slog.LevelDebug, key derivation, storage calls and the reason a response
// was not stored at LevelTrace, storage failures at slog.LevelWarn. Without
// it the middleware is silent, unless the environment variable
// FIBER_CACHES_LOG_LEVEL is "debug" or "trace" (any case): then it logs to
// stderr at that level. The one exception is duplicate_caching, a
// configuration error that fails requests: without a logger it goes to
// slog.Default().
func WithLogger(l *slog.Logger) Option {
	return func(c *config) { c.logger = l }
}

// WithRules sets which requests are cached, and for how long. The first rule
// that matches a request (and its response status) wins; a request no rule
// matches is not cached. Without WithRules one rule caches every cacheable
// response.
func WithRules(rules ...Rule) Option {
	return func(c *config) {
		for i, r := range rules {
			if r.TTL < 0 {
				c.errs = append(c.errs, fmt.Errorf("WithRules: rule %d has a negative TTL %v", i, r.TTL))
			}
			if r.Regexp != nil && len(r.Match) > 0 {
				c.errs = append(c.errs, fmt.Errorf("WithRules: rule %d sets both Match and Regexp; use one per rule", i))
			}
		}
		c.rules = append([]Rule(nil), rules...)
	}
}

// WithCacheHeader names the response header that says "hit" or "miss"
// (default "X-Cache"); "" leaves it out.
func WithCacheHeader(name string) Option {
	return func(c *config) { c.cacheHeader = name }
}

// WithKeyPrefix namespaces every storage key (default "fibercache:"), so
// several applications can share one Redis.
func WithKeyPrefix(prefix string) Option {
	return func(c *config) { c.keyPrefix = prefix }
}

// WithMaxBodySize sets the largest body, in bytes, that is stored (default
// 4 MiB). Larger responses are served but not stored.
func WithMaxBodySize(n int) Option {
	return func(c *config) {
		if n < 0 {
			c.errs = append(c.errs, fmt.Errorf("WithMaxBodySize(%d): the size must not be negative", n))
			return
		}
		c.maxBodySize = n
	}
}

// WithMaxMemory bounds, in bytes, the default in-process store (default
// 64 MiB): past it, the entries least likely to be used again are evicted.
// It has no effect with WithStorage.
func WithMaxMemory(bytes int) Option {
	return func(c *config) {
		if bytes <= 0 {
			c.errs = append(c.errs, fmt.Errorf("WithMaxMemory(%d): the bound must be positive", bytes))
			return
		}
		c.maxMemory = bytes
	}
}

// A Rule says whether, and for how long, the responses to some requests are
// cached. A rule matches a request when its path is in Match (empty Match or
// "*" matches every path) or matches Regexp, and the response status is in
// Status (empty: any cacheable status).
type Rule struct {
	Match  []string       // exact request paths; empty or "*" matches every path
	Regexp *regexp.Regexp // alternatively, a pattern matched against the request path
	Status []int          // response statuses the rule applies to; empty: any cacheable status
	TTL    time.Duration  // 0: the middleware's TTL
	Skip   bool           // true: matching requests are never cached
}

// matchPath reports whether the rule matches path. Match entries are
// compared as the app's router compares paths (a: case folded unless
// CaseSensitive, trailing slashes ignored unless StrictRouting), so a rule
// covers every request that shares its key; Regexp sees the path as sent.
func (r *Rule) matchPath(path string, a *appInfo) bool {
	if r.Regexp != nil {
		return r.Regexp.MatchString(path)
	}
	if len(r.Match) == 0 {
		return true
	}
	trim := func(p string) string {
		if a.strict {
			return p
		}
		for len(p) > 1 && p[len(p)-1] == '/' {
			p = p[:len(p)-1]
		}
		return p
	}
	p := trim(path)
	for _, m := range r.Match {
		if m == "*" || m == path {
			return true
		}
		if t := trim(m); t == p || !a.caseSensitive && strings.EqualFold(t, p) {
			return true
		}
	}
	return false
}

func (r *Rule) matchStatus(status int) bool {
	if len(r.Status) == 0 {
		return true
	}
	for _, s := range r.Status {
		if s == status {
			return true
		}
	}
	return false
}

// ruleFor returns the first rule matching path and status, or nil.
func (c *config) ruleFor(path string, status int, a *appInfo) *Rule {
	for i := range c.rules {
		r := &c.rules[i]
		if r.matchPath(path, a) && r.matchStatus(status) {
			return r
		}
	}
	return nil
}

// mayCache reports whether some response to path could be cached, so a
// lookup is worth its cost. It is false when no rule can match the path, or
// when the first rule that matches it whatever the status says Skip.
func (c *config) mayCache(path string, a *appInfo) bool {
	if c.ttl == 0 {
		return false
	}
	for i := range c.rules {
		r := &c.rules[i]
		if !r.matchPath(path, a) {
			continue
		}
		if !r.Skip {
			return true
		}
		if len(r.Status) == 0 {
			return false
		}
	}
	return false
}

// WithObserver tells o of every hit, miss, store, bypass, invalidation and
// storage error (see Observer). The cacheprom package provides one for
// Prometheus.
func WithObserver(o Observer) Option {
	return func(c *config) { c.obs = o }
}

// WithSharedCache makes the middleware an RFC 9111 shared cache, for
// gateways (Fiber's proxy middleware behind it): it stores only what a
// shared cache may store, computes freshness from the upstream's headers
// (heuristically from Last-Modified when they give none), keeps the
// upstream's Cache-Control and Expires as they are, adds Date and Age, and
// honours the request's Cache-Control (max-age, max-stale, min-fresh,
// no-cache, no-store, only-if-cached) and Pragma: no-cache. WithTTL then
// caps the freshness lifetime. The default, app mode, is for caching your
// own handlers: see the package documentation.
func WithSharedCache() Option {
	return func(c *config) { c.shared = true }
}

// WithClientTTL sets the freshness lifetime advertised to browsers and
// CDNs (Cache-Control max-age and Expires), apart from how long the cache
// keeps a response (WithTTL). 0 tells them to revalidate every time
// (Cache-Control: no-cache, with the response's ETag), which the cache then
// answers with a 304 from its store: the server keeps the response, clients
// always ask, and an invalidation reaches everyone at once. A handler's
// own smaller max-age wins. Not given: the TTL when WithTTL is given, else
// 0. It has no effect with WithSharedCache, which never rewrites
// Cache-Control.
func WithClientTTL(d time.Duration) Option {
	return func(c *config) {
		if d < 0 {
			c.errs = append(c.errs, fmt.Errorf("WithClientTTL(%v): the lifetime must not be negative; 0 makes clients revalidate", d))
			return
		}
		c.clientTTL = d
	}
}

// WithETag(false) stops the cache from giving stored responses that carry
// no ETag one of its own (app mode; the shared-cache mode never adds one).
// By default such a response gets a strong ETag computed once, when it is
// stored, from its body (the hit path computes nothing), so clients can
// revalidate and be answered 304 Not Modified.
func WithETag(on bool) Option {
	return func(c *config) { c.etag = on }
}

// WithGrace lets a stale response that names no stale-while-revalidate or
// stale-if-error window of its own be served stale for d: at once, while
// one background request refreshes it, and when the handler fails (an
// error or a 5xx), instead of the failure. It is Varnish's grace. A
// response with must-revalidate is never served stale. Default 0.
func WithGrace(d time.Duration) Option {
	return func(c *config) {
		if d < 0 {
			c.errs = append(c.errs, fmt.Errorf("WithGrace(%v): the grace must not be negative", d))
			return
		}
		c.grace = d
	}
}

// WithStorageTimeout bounds each call to the storage (default 50 ms): a
// lookup that takes longer is a miss, a store that takes longer is
// skipped, and the storage is left alone for WithStoragePause. With the
// in-process store it has no effect. A request therefore waits at most
// about two timeouts for a dead storage, beyond its handler's own time.
func WithStorageTimeout(d time.Duration) Option {
	return func(c *config) {
		if d <= 0 {
			c.errs = append(c.errs, fmt.Errorf("WithStorageTimeout(%v): the timeout must be positive", d))
			return
		}
		c.storageTimeout = d
	}
}

// WithStoragePause sets how long a storage that failed (an error or a
// timeout) is left alone (default 1 s): meanwhile requests are served by
// the handler without the cache, and invalidations wait to be retried.
func WithStoragePause(d time.Duration) Option {
	return func(c *config) {
		if d <= 0 {
			c.errs = append(c.errs, fmt.Errorf("WithStoragePause(%v): the pause must be positive", d))
			return
		}
		c.storagePause = d
	}
}

// WithCoalesceWait bounds how long a request waits for an identical one
// whose handler is already running (default 5 s); past it, it runs the
// handler itself.
func WithCoalesceWait(d time.Duration) Option {
	return func(c *config) {
		if d <= 0 {
			c.errs = append(c.errs, fmt.Errorf("WithCoalesceWait(%v): the wait must be positive", d))
			return
		}
		c.coalesceWait = d
	}
}

// WithFleetCoalescing(false) keeps the coalescing of identical misses per
// process. It is on by default with Redis (a storage with Conn): the
// instances sharing it run the handler once between them, the others
// waiting for its entry (at most WithCoalesceWait), through a lease kept
// in Redis, at the cost of one more round trip per miss (see
// docs/redis.md). A plain fiber.Storage, which has no atomic
// set-if-absent, and the in-process store coalesce per process either
// way.
func WithFleetCoalescing(on bool) Option {
	return func(c *config) { c.fleet = on }
}

// WithEarlyRefresh sets the beta of early refresh (default 1,
// DefaultEarlyRefresh): a fresh hit on an entry close to its expiry starts
// a background refresh with a probability that grows as expiry nears,
// weighted by how long its handler took (XFetch), so that a hot entry is
// refreshed before it expires instead of missing then. A larger beta
// refreshes earlier; 0 turns it off. Entries without a lifetime (no TTL)
// are never refreshed early. A negative or non-finite beta makes New
// panic.
func WithEarlyRefresh(beta float64) Option {
	return func(c *config) {
		if beta < 0 || math.IsNaN(beta) || math.IsInf(beta, 0) {
			c.errs = append(c.errs, fmt.Errorf("WithEarlyRefresh(%v): beta must be a finite number, 0 or more (0 turns early refresh off)", beta))
			return
		}
		c.earlyBeta = beta
	}
}

// WithTTLJitter takes a random part, up to fraction of it, off each
// stored entry's freshness lifetime (default 0: none), so that entries
// stored together do not expire together. What clients are told
// (max-age) is not changed. A fraction outside [0, 1) makes New panic.
func WithTTLJitter(fraction float64) Option {
	return func(c *config) {
		if !(fraction >= 0 && fraction < 1) {
			c.errs = append(c.errs, fmt.Errorf("WithTTLJitter(%v): the fraction must be at least 0 and below 1, e.g. 0.1 for up to 10%%", fraction))
			return
		}
		c.ttlJitter = fraction
	}
}

// WithQueryIgnore leaves the query parameters whose names match one of the
// patterns out of the key, so /p?utm_source=x and /p share an entry.
// Patterns are globs: '*' matches any run of characters, '?' one
// character, e.g. "utm_*", "fbclid". Names are compared decoded.
func WithQueryIgnore(patterns ...string) Option {
	return func(c *config) {
		for _, p := range patterns {
			if p == "" {
				c.errs = append(c.errs, fmt.Errorf("WithQueryIgnore: an empty pattern matches nothing; remove it"))
			}
		}
		c.queryIgnore = append(c.queryIgnore, patterns...)
	}
}

// WithCookieIgnore names the cookies that do not change a response, such
// as analytics or consent cookies ("_ga*", "consent"): globs where '*'
// matches any run of characters and '?' one character, compared with
// cookie names as sent.
//
// In app mode, a request that carries cookies is never answered with an
// entry stored for other cookies: a response is keyed by the request's
// cookies, as if it said Vary: Cookie (and it tells browsers and CDNs so
// with Vary: Cookie), unless it says public or s-maxage. Requests without
// cookies share their entries, and so do requests whose cookies all match
// these patterns. WithCookieIgnore("*") leaves every cookie out: responses
// are then shared whatever cookies a request carries, so per-user pages
// must say private. The shared-cache mode (WithSharedCache) follows RFC
// 9111 and keys cookies only when a response says Vary: Cookie.
func WithCookieIgnore(patterns ...string) Option {
	return func(c *config) {
		for _, p := range patterns {
			switch p {
			case "":
				c.errs = append(c.errs, fmt.Errorf("WithCookieIgnore: an empty pattern matches nothing; remove it"))
			case "*":
				c.cookiesShared = true
			}
		}
		c.cookieIgnore = append(c.cookieIgnore, patterns...)
	}
}

// WithSurrogateKeyHeader(true) passes the Surrogate-Key header on to
// clients, listing every tag of the response (those given to Tag and
// those the handler's own Surrogate-Key named), for a CDN in front of the
// app that purges by them (Fastly's convention). By default the header is
// the cache's business and is removed, as Fastly removes it.
func WithSurrogateKeyHeader(keep bool) Option {
	return func(c *config) { c.surrogateKeys = keep }
}

// WithQuerySort keys the query with its parameters sorted by name, so
// /p?a=1&b=2 and /p?b=2&a=1 share an entry. Parameters of one name keep
// their order.
func WithQuerySort() Option {
	return func(c *config) { c.querySort = true }
}

// WithKeyFunc adds to every key what f appends to key, for answers that
// depend on something else than the URL and the Vary headers: a tenant
// header, a c.Locals value set by middleware in front of the cache. f runs
// on every lookup, hits included: append bytes (key = append(key,
// tenant...)), allocate nothing, and return the result.
//
//	cache.WithKeyFunc(func(c *fiber.Ctx, key []byte) []byte {
//		return append(key, c.Get("X-Tenant")...)
//	})
func WithKeyFunc(f func(c Ctx, key []byte) []byte) Option {
	return func(c *config) { c.keyFunc = f }
}

// WithNext skips the cache for the requests f returns true for, as Fiber's
// middleware Next fields do: they are neither looked up nor stored, and a
// cache further in the chain (a group's, a route's) may handle them.
// Unsafe requests still invalidate.
func WithNext(f func(c Ctx) bool) Option {
	return func(c *config) { c.next = f }
}

// WithCacheStatus(false) leaves out the Cache-Status response header (RFC
// 9211), which is on by default: "fibercache; hit; ttl=42",
// "fibercache; fwd=uri-miss; stored", "fibercache; fwd=bypass;
// detail=no_rule", ...
func WithCacheStatus(on bool) Option {
	return func(c *config) { c.cacheStatus = on }
}

// WithNearCache puts an in-process tier of at most maxMemory bytes in
// front of a Redis storage (WithStorage with a Conn method, such as
// gofiber/storage/redis): copies of the records a hit reads, kept coherent
// by Redis's client-side caching (CLIENT TRACKING, through
// github.com/redis/rueidis on connections of its own). A hit it can answer
// sends no entry over the network. By default (strict) a near hit waits
// for one small round trip that many requests share: once it returns, no
// invalidation acknowledged before the request arrived is still on its way
// to this instance, so the guarantee is the same as without it.
// WithNearCacheLag trades that round trip for a bounded delay. Where Redis
// cannot track keys (older than 6, RESP3 refused, CLIENT TRACKING denied),
// or the storage's client cannot be carried over (Sentinel, Ring), the near
// tier turns itself off with one warning and the cache works as without
// it. Without a Redis storage, New panics. See docs/redis.md.
func WithNearCache(maxMemory int) Option {
	return func(c *config) {
		if maxMemory <= 0 {
			c.errs = append(c.errs, fmt.Errorf("WithNearCache(%d): the bound must be positive", maxMemory))
			return
		}
		c.nearMemory = maxMemory
	}
}

// WithNearCacheLag(d), with d > 0, lets the near tier (WithNearCache)
// answer at once: an invalidation acknowledged on another instance stops
// being served here within d. A heartbeat checks every d/4 that Redis's
// invalidations reach this instance; when that cannot be ensured within d
// (a late heartbeat, a lost connection) the near tier is dropped and
// requests read Redis until it can. Invalidations made through this
// instance are never served stale here. 0 (the default) is strict.
func WithNearCacheLag(d time.Duration) Option {
	return func(c *config) {
		if d < 0 {
			c.errs = append(c.errs, fmt.Errorf("WithNearCacheLag(%v): the lag must not be negative; 0 is strict", d))
			return
		}
		c.nearLag, c.nearLagSet = d, true
	}
}

// checkNear reports options that cannot work together with the near tier.
func (c *config) checkNear() {
	if c.nearLagSet && c.nearMemory == 0 {
		c.errs = append(c.errs, fmt.Errorf("WithNearCacheLag without WithNearCache does nothing; add WithNearCache(maxMemory)"))
	}
	if c.nearMemory == 0 {
		return
	}
	if _, ok := c.storage.(interface{ Conn() redis.UniversalClient }); !ok {
		c.errs = append(c.errs, fmt.Errorf("WithNearCache needs a Redis storage (WithStorage with a Conn() redis.UniversalClient method, "+
			"such as github.com/gofiber/storage/redis/v3); without one there is nothing for it to stand in front of: remove it, or use WithMaxMemory for the in-process store"))
	}
}

// maxKeep is how long a path record is kept in a storage that cannot
// extend it safely: as long as any entry may be (0: forever).
func (c *config) maxKeep() time.Duration {
	if c.ttl < 0 {
		return 0
	}
	longest := c.ttl
	for _, r := range c.rules {
		longest = max(longest, r.TTL)
	}
	return longest + max(c.grace, staleKeep) + pendingPathTTL
}

// WithClock makes the cache read time from clock instead of the request
// and time.Now: tests move time without sleeping. It is for the adapters'
// tests; the adapters do not export it.
func WithClock(clock func() time.Time) Option { return withClock(clock) }

// WithClockSkew sets the margin of a plain storage's tag sequence
// (clockSkew), for tests whose instances share one clock. It is for the
// adapters' tests; the adapters do not export it.
func WithClockSkew(d time.Duration) Option {
	return func(c *config) { c.clockSkew = d }
}

// withClock makes the cache read time from clock instead of the request
// and time.Now: tests move time without sleeping.
func withClock(clock func() time.Time) Option {
	return func(c *config) { c.clock = clock }
}
