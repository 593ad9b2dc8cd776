package cache

import (
	"fmt"
	"log/slog"
	"regexp"
	"time"

	"github.com/gofiber/fiber/v2"
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

// foreverMaxAge is what responses advertise when no TTL was given.
const foreverMaxAge = 365 * 24 * time.Hour

// An Option configures the middleware built by New or NewCache.
type Option func(*config)

// config is what the options set.
type config struct {
	ttl         time.Duration // < 0: not given, entries never expire
	storage     fiber.Storage // nil: the in-process default
	logger      *slog.Logger  // nil: from FIBER_CACHES_LOG_LEVEL, else silent
	rules       []Rule
	cacheHeader string
	keyPrefix   string
	maxBodySize int
	maxMemory   int
	obs         Observer
	shared      bool // RFC 9111 shared-cache mode, for gateways
	errs        []error
}

func defaultConfig() config {
	return config{
		ttl:         -1,
		cacheHeader: DefaultCacheHeader,
		keyPrefix:   DefaultKeyPrefix,
		maxBodySize: DefaultMaxBodySize,
		maxMemory:   DefaultMaxMemory,
		rules:       []Rule{{}}, // cache every cacheable response
	}
}

// WithTTL sets how long a stored response stays fresh. A response's own
// s-maxage, max-age or Expires can only shorten it. Without WithTTL entries
// never expire on their own and responses advertise a max-age of one year;
// WithTTL(0) stores nothing (caching off). A negative TTL makes New panic.
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
func WithStorage(s fiber.Storage) Option {
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
// stderr at that level.
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

func (r *Rule) matchPath(path string) bool {
	if r.Regexp != nil {
		return r.Regexp.MatchString(path)
	}
	if len(r.Match) == 0 {
		return true
	}
	for _, m := range r.Match {
		if m == "*" || m == path {
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
func (c *config) ruleFor(path string, status int) *Rule {
	for i := range c.rules {
		r := &c.rules[i]
		if r.matchPath(path) && r.matchStatus(status) {
			return r
		}
	}
	return nil
}

// mayCache reports whether some response to path could be cached, so a
// lookup is worth its cost. It is false when no rule can match the path, or
// when the first rule that matches it whatever the status says Skip.
func (c *config) mayCache(path string) bool {
	if c.ttl == 0 {
		return false
	}
	for i := range c.rules {
		r := &c.rules[i]
		if !r.matchPath(path) {
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

// WithSharedCache makes the middleware behave as an RFC 9111 shared cache,
// for gateways (Fiber's proxy middleware behind it): it stores only what a
// shared cache may store, keeps the upstream's Cache-Control and Expires
// as they are, and honours the request's Cache-Control directives.
func WithSharedCache() Option {
	return func(c *config) { c.shared = true }
}
