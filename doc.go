/*
Package cache is fibercache, an HTTP response cache middleware for Fiber v2
(github.com/fiber-caches/cache/fiberv3 is the same for Fiber v3).
It answers repeated GET and HEAD requests from a store without running the
handler, and drops what it stored when the data changes. It is a Go port of
the design of the Python starlette-caches and of Django's cache middleware.

	app := fiber.New()
	app.Use(cache.New(cache.WithTTL(time.Minute), cache.WithClientTTL(0)))

The cache keeps a response up to a minute; browsers are told no-cache, so
they revalidate every time (the cache answers 304 from its store) and see a
change as soon as it is invalidated. With WithTTL alone they are told
max-age=60, and may show their copy for up to a minute after a change
(see App mode below, and ExampleWithClientTTL).

New returns the middleware. Put it in front of the whole app (app.Use), of
a group (app.Group("/api", cache.New(...))) or of one route
(app.Get("/x", cache.New(...), h)). NewCache builds a *Cache: its Handler
is the same middleware, and its InvalidateURL, InvalidateRoute and
InvalidateAll methods work outside requests, from a background job for example. Close stops what
NewCache started. Only one cache middleware looks a request up. A cache
that steps aside for a GET or HEAD (WithNext says so, a Skip rule or no
rule matches its path, WithTTL(0), closed) leaves it to a group or route
cache further in, and Helper finds that one. When two would both look it
up (an app-wide one plus one on the route, say), the client gets a plain
500, Fiber's error handler an error that wraps ErrDuplicateCaching, and
the log a duplicate_caching error saying what to change. Other methods
pass through both and are invalidated once.

# What is looked up and stored

Only GET and HEAD requests are looked up. A HEAD may be answered from a
stored GET; a stored HEAD never answers a GET. Other methods pass through
(see Invalidation). A GET or HEAD is not looked up (a bypass) when WithNext
says so, when no rule of WithRules can match its path, with WithTTL(0),
while the storage is failing, and after Close; the Cache-Status header
names the reason.

A response is stored when all of these hold:
  - its status is cacheable by default (RFC 9110 §15.1: 200, 203, 204,
    300, 301, 308, 404, 405, 410, 414, 501) and a rule allows it. A 206 is
    never stored: ranges are answered from a stored 200. In shared mode
    302, 303 and 307 are stored too when they carry a lifetime;
  - it has no no-store, no private (qualified or not), no Vary: *, and its
    no-cache, if any, comes with a validator (an ETag or Last-Modified of
    the handler's);
  - it does not set a cookie (Set-Cookie, or the obsolete Set-Cookie2) in
    answer to a request that carried none (in shared mode, it sets none
    unless it says public);
  - the request had no Authorization header (a non-empty value on any of
    its lines), or the response says public, s-maxage or must-revalidate
    (RFC 9111 §3.5);
  - the handler returned no error, the body is not a stream and is at most
    WithMaxBodySize, and it has at most 128 headers, 64 KiB of header bytes
    and 16 Vary names.

A stored entry never holds Set-Cookie or Set-Cookie2 (in app mode),
hop-by-hop headers (Connection and
what it names, Keep-Alive, Transfer-Encoding, ...), Content-Length, Date,
Age, Cache-Status, the WithCacheHeader header, or headers that middleware in
front of the cache had set before the handler ran (that middleware sets
them again on hits). A hit copies the stored body into the response, so
whatever outer middleware does to a response never changes the entry.

Identical requests that miss at the same time are coalesced: one runs the
handler, the others wait for it (at most WithCoalesceWait) and are served
what it stored. With Redis this holds across the instances sharing it,
through a lease in Redis (WithFleetCoalescing); with a plain fiber.Storage
it holds per process. When the run fails, one of the others runs the
handler once more; when its response could not be stored (private, a
Set-Cookie, ...), each runs the handler, and for the next two seconds
identical requests go straight to the handler instead of waiting.

A hit close to its entry's expiry may start one background refresh
(WithEarlyRefresh), so that a hot URL is refreshed before it expires.

# Keys

The key has three parts:
  - the path part: the host the handler sees (c.Hostname(), which is
    X-Forwarded-Host when Fiber trusts the proxy, as it does by default)
    and the path as the app's router matches it: case folded unless
    CaseSensitive, trailing slashes dropped unless StrictRouting, decoded
    with UnescapePath. So /Users/42/ and /users/42 share an entry when the
    router serves them with one route;
  - the request part: the scheme, the raw Host header, the raw
    X-Forwarded-Host, whether the target was in absolute form, the query
    string (as sent, or trimmed by WithQueryIgnore and sorted by
    WithQuerySort) and what WithKeyFunc appends;
  - the Vary part: the request's values of every header the path's
    responses vary on. The names are learnt per path, as the union of every
    Vary seen on it. Accept-Encoding is keyed by the coding Fiber's
    compress middleware would answer with (br, gzip, deflate or identity),
    not by its spelling.

A request whose absolute-form target names another host than its Host
header is not looked up. An entry stores its whole key and a hit compares
it, so a hash collision never serves another request.

In app mode the request's cookies are keyed too, as if the response said
Vary: Cookie (and it tells clients so), unless the response says public or
s-maxage: Fiber's session middleware, unlike Django's, does not add Vary:
Cookie, and a page that reads a session would otherwise be served to
everyone. WithCookieIgnore leaves cookies that do not change the answer
(analytics, consent) out of that; WithCookieIgnore("*") leaves every one
out. Where cookies are not keyed (WithCookieIgnore("*"), shared mode, a
public response), a handler whose answer depends on who asks must say so: Vary: Cookie (one entry per cookie
header), or Cache-Control: private (never stored; see Control). A response
to a request with Authorization is stored only when it says public,
s-maxage or must-revalidate, and is then served to every client whatever
their Authorization: say so only of answers that are the same for all.

# App mode and shared mode

By default the cache works in app mode, for your own handlers:
  - freshness is WithTTL (or the matching Rule's TTL), lowered by the
    response's s-maxage, max-age or Expires. Without WithTTL, a response
    that gives no lifetime of its own stays fresh until it is invalidated
    or evicted;
  - the response's Cache-Control and Expires are rewritten for browsers and
    CDNs: max-age is WithClientTTL, else the TTL, or the handler's own
    max-age when smaller. When that lifetime is 0 (the default without
    WithTTL), clients are told no-cache, with an ETag, and the cache then
    answers their revalidations with 304 from its store. So without WithTTL,
    or with WithClientTTL(0), no lifetime is advertised that an
    invalidation could not take back. With WithTTL alone, clients are told
    max-age = the TTL, and a browser may show its copy that long after an
    invalidation: the cache's own answers are current at once, the
    browser's copy is not;
  - a stored 200 without an ETag gets one, computed from the body when it
    is stored (WithETag(false) turns this off);
  - the request's Cache-Control and Pragma are ignored, so one client's
    reload cannot make every request run the handler.

WithSharedCache makes it an RFC 9111 shared cache, for gateways (Fiber's
proxy middleware behind it). Freshness comes from the upstream's headers
(s-maxage, max-age, Expires, else 10% of the time since Last-Modified, at
most a day), capped by WithTTL. The upstream's Cache-Control and Expires
are passed on as they are, Age is corrected, and the request's
Cache-Control (max-age, max-stale, min-fresh, no-cache, no-store,
only-if-cached) and Pragma: no-cache are honoured.

# Conditional requests and ranges

A request whose If-None-Match (weak comparison) or If-Modified-Since
matches a stored 200 gets a 304 from the store. A GET with a single byte
range gets a 206 (or a 416) cut from a stored 200, If-Range honoured;
several ranges get the whole 200. On a miss
the handler never sees the client's validators or Range: it is asked for
the whole representation, and the cache answers the client's condition or
range from it.

# Stale responses

A response with stale-while-revalidate is served stale for that window,
at once, while one background request (through the app's whole chain)
refreshes it. One with stale-if-error is served stale for that window in
place of a handler error or a 5xx. WithGrace gives both windows to
responses that name none. must-revalidate forbids both. A stale entry
with an ETag or Last-Modified of its handler's is revalidated: the handler
sees If-None-Match or If-Modified-Since, and a 304 refreshes the stored
entry. A no-cache response that was stored is revalidated that way on
every use.

# Invalidation

A POST, PUT, PATCH, DELETE, or any other method but GET, HEAD, OPTIONS,
TRACE and CONNECT, answered 2xx or 3xx, invalidates its path, and the
paths of its Location and Content-Location on the same host. The request
must pass through a cache middleware (any one: see below); WithNext does
not stop it. Invalidating a path makes every stored response of it
unusable: every query string, every Vary variant, GET and HEAD, both
schemes. It reaches every cache of the process (a cache on another route
has its own in-process store) and every instance sharing the storage, in
a constant number of storage operations whatever the number of variants.
Once an invalidation has returned, no response computed before it is
served, even by a handler that was still running when it was made; one
that could not reach the storage is pending (see Storage failures).

Inside a handler, Helper(c) returns a CacheHelper whose InvalidateURL
("/users" or a full URL) and InvalidateRoute (a route name and its
parameters) do the same; outside requests, use the *Cache of NewCache.
A path is named as clients send it: InvalidateRoute reads a parameter value
as c.Params returns it (spelt as clients send it, or decoded with
UnescapePath). An unknown route name, a parameter name the route does not
have, and a value that cannot be that parameter are errors, and nothing is
invalidated. InvalidateRoute with parameters missing invalidates every URL
of that route, and nothing else. InvalidateAll invalidates everything in
one cache's namespace (its storage and key prefix), on every instance
sharing it, and nothing else.

# Tags

Tag(c, tags...) in a handler, or a Surrogate-Key response header, attach
tags to the response being stored; InvalidateTags invalidates every entry
carrying any of them (ExpireTags makes them stale, a soft purge), in every
cache of the process and on every instance sharing the storage, at a
constant cost whatever the number of entries. PurgeHandler serves the same
to a CMS webhook or a deploy script, behind the app's own authentication.

# Storage failures

WithStorage takes any fiber.Storage; github.com/gofiber/storage/redis/v3
is driven through its Redis client, a hit in one round trip. Every storage
call is bounded by WithStorageTimeout (50 ms). A failure or a timeout is
logged, and the storage is left alone for WithStoragePause (1 s): requests
are served by the handler, as without a cache. A stored value that does not
decode is never served. An invalidation that cannot reach the storage is kept
and retried until it lands; until then, that path is not served from the
cache on this instance. At most 1,000 paths are kept: past that, one
invalidation of everything replaces them. An outage logs one warning
(storage_error) and, once over, one info line (storage_recovered). The
in-process store cannot fail.

A fiber.Storage with *WithContext methods (gofiber/storage's have them) is
called through them, and must honour their context for that bound; one
without them, and Redis through its client, are bounded by the cache
itself.

# Near cache

WithNearCache(maxMemory) keeps, in process, copies of the Redis records
hits read, kept coherent by Redis's client-side caching (CLIENT TRACKING,
through github.com/redis/rueidis). Strict (the default): a near hit waits
for one small round trip, shared by every hit waiting, after which no
invalidation acknowledged before the request arrived can still be on its
way: the guarantees are those of Redis alone. WithNearCacheLag(d): near
hits are served at once, and an invalidation acknowledged on another
instance stops being served within d. See docs/redis.md.

# Headers the cache writes

X-Cache (WithCacheHeader) says "hit" when the body came from the store
(a hit, a 304 or a range from it, a coalesced wait, a revalidation the
handler confirmed with 304) and "miss" when the handler's response was
stored; other responses carry none.
Cache-Status (RFC 9211, WithCacheStatus) says what happened and why:

	fibercache; hit; ttl=42
	fibercache; fwd=uri-miss; stored
	fibercache; fwd=uri-miss; detail=private
	fibercache; fwd=bypass; detail=no_rule

The details are Reason names. Every header the cache reads is matched
case-insensitively, DisableHeaderNormalizing included, and every line of it
is read (Accept-Encoding is read as Fiber's compress middleware reads it).
What the cache writes replaces every line of that name, in any spelling,
that middleware in front of it wrote.

# Logs and metrics

WithLogger takes a *slog.Logger: cache_lookup HIT, cache_lookup MISS,
store_in_cache and invalidate at Debug; cache_bypass and
response_not_cachable (with the reason), storage_get (the key) and
storage_set at LevelTrace; storage_error (the first failed call of an
outage), redis_fast_path_off (a Redis older than 7.0, driven through
the plain fiber.Storage path) and near_cache_off (WithNearCache cannot be
had) at Warn; storage_recovered at Info. What varies is in attributes: a request's
logs carry method, url and, when Fiber's requestid middleware ran in front
of the cache, request_id. Without WithLogger the cache is silent, unless
FIBER_CACHES_LOG_LEVEL is debug or trace; the one exception is
duplicate_caching (at Error), which then goes to slog.Default().

WithObserver is told of every Event and Reason. The module
github.com/fiber-caches/cache/cacheprom turns them into Prometheus metrics;
it is built on the engine, not on a Fiber, so its Metrics observes a cache
of either Fiber's adapter (cache.WithObserver(cacheprom.New())).

# Close

Close waits (5 s at most) for background refreshes, tries the pending
invalidations once more (1 s at most in all) and logs those that never
landed (invalidation_lost_at_close), and empties the in-process store: it
returns within 6 s whatever is pending, and blocks no request meanwhile.
The middleware keeps working after Close, without caching. app.Shutdown
calls Close on every cache that served the app.
*/
package cache
