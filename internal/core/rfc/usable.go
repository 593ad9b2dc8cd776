package rfc

import "time"

// Use is what a cache may do with a stored response for a request; see
// Usable.
type Use uint8

// The values of Use.
const (
	// UseMiss: the stored response cannot be used. Before contacting the
	// origin, fetch from it unconditionally (there is no validator to
	// revalidate with); after the origin failed, pass its failure on.
	UseMiss Use = iota
	// UseFresh: serve the stored response, it is fresh enough.
	UseFresh
	// UseStale: serve the stale stored response, which the request's
	// max-stale accepts (RFC 9111 §5.2.1.2), without refreshing it.
	UseStale
	// UseStaleWhileRevalidate: serve the stale stored response now and
	// refresh it in the background (RFC 5861 §3).
	UseStaleWhileRevalidate
	// UseRevalidate: ask the origin with a conditional request built from
	// the stored validators (RFC 9111 §4.3.1) before using the response.
	UseRevalidate
	// UseStaleIfError: the origin failed; serve the stored response in
	// place of its error (RFC 5861 §4, RFC 9111 §4.2.4 and §4.3.3).
	UseStaleIfError
	// UseOnlyIfCachedGatewayTimeout: the request has only-if-cached and
	// nothing stored may answer it without the origin: respond 504
	// (RFC 9111 §5.2.1.7).
	UseOnlyIfCachedGatewayTimeout
)

// String returns the constant's name without the Use prefix, such as
// "Fresh".
func (u Use) String() string {
	switch u {
	case UseMiss:
		return "Miss"
	case UseFresh:
		return "Fresh"
	case UseStale:
		return "Stale"
	case UseStaleWhileRevalidate:
		return "StaleWhileRevalidate"
	case UseRevalidate:
		return "Revalidate"
	case UseStaleIfError:
		return "StaleIfError"
	case UseOnlyIfCachedGatewayTimeout:
		return "OnlyIfCachedGatewayTimeout"
	}
	return "Use(?)"
}

// UseInput is what Usable decides on.
type UseInput struct {
	Age      time.Duration // current age of the stored response (CurrentAge)
	Lifetime time.Duration // its freshness lifetime (FreshnessLifetime, or a heuristic one)

	// StaleWhileRevalidate and StaleIfError are the response's windows
	// (ResponseDirectives), -1 when absent.
	StaleWhileRevalidate, StaleIfError time.Duration
	// GraceWhileRevalidate and GraceIfError are configured windows used
	// in place of the response's when it has none (-1); 0 or less means
	// none. A response's own window, even 0, overrides them.
	GraceWhileRevalidate, GraceIfError time.Duration

	MustRevalidate bool // the response's must-revalidate (RFC 9111 §5.2.2.2)
	// ProxyRevalidate is the response's proxy-revalidate (RFC 9111
	// §5.2.2.8), honoured when Shared. RFC 9111 §5.2.2.10 gives s-maxage
	// the same meaning in a shared cache (cache-tests stale-close-s-maxage
	// expects no stale on error with it); a caller that follows that sets
	// ProxyRevalidate when SMaxAge >= 0, knowing that it also turns off
	// stale-while-revalidate for "s-maxage=N, stale-while-revalidate=M".
	ProxyRevalidate bool
	NoCache         bool // the response's unqualified no-cache (RFC 9111 §5.2.2.4)
	Shared          bool // the cache is shared (RFC 9111 §1)
	HasValidator    bool // the stored response has an ETag or Last-Modified

	// Request holds the request's directives, considered only when
	// HonorRequest is set; otherwise they are all taken as absent.
	Request      RequestDirectives
	HonorRequest bool

	// OriginFailed is set when the cache asked the origin and got an error
	// or a 5xx response: Usable then only decides between UseStaleIfError
	// and UseMiss.
	OriginFailed bool
}

// Usable decides how the stored response may answer the request (RFC 9111
// §4), in this order:
//
//  1. Freshness (§4.2): the response is fresh while Age < Lifetime; its
//     staleness is Age - Lifetime. Honoured request directives narrow what
//     is fresh enough: max-age (§5.2.1.1) requires Age <= max-age, min-fresh
//     (§5.2.1.3) requires Lifetime - Age >= min-fresh.
//  2. Origin failed: a response with no-cache is never served (§5.2.2.4),
//     nor a stale one with must-revalidate, or proxy-revalidate in a shared
//     cache (§5.2.2.2, §5.2.2.8, §4.2.4). Otherwise UseStaleIfError when the
//     response is still fresh (§4.3.3 allows a stored response in place of a
//     5xx, subject to the stale rules only), when its staleness is within
//     the stale-if-error window, measured from when it became stale
//     (RFC 5861 §4; GraceIfError by default), or within the request's
//     max-stale (§5.2.1.2). Else UseMiss.
//  3. UseFresh when fresh enough, unless the response has no-cache or the
//     request no-cache (§5.2.1.4), which always need validation.
//  4. Stale serving, never with no-cache, must-revalidate or (shared)
//     proxy-revalidate: UseStaleWhileRevalidate while the staleness is
//     within the stale-while-revalidate window (RFC 5861 §3;
//     GraceWhileRevalidate by default), if the request has no max-age or
//     min-fresh (with max-age alone the client does not want a stale
//     response, §5.2.1.1); else UseStale while the staleness is within the
//     request's max-stale, if the request's max-age, if any, is met and it
//     has no min-fresh.
//  5. Otherwise the origin must be asked: UseOnlyIfCachedGatewayTimeout if
//     the request has only-if-cached (§5.2.1.7), UseRevalidate with a
//     validator, UseMiss without one.
func Usable(in UseInput) Use {
	req := NewRequestDirectives()
	if in.HonorRequest {
		req = in.Request
	}
	staleness := addSat(in.Age, -in.Lifetime)
	fresh := in.Age < in.Lifetime
	ageOK := req.MaxAge < 0 || in.Age <= req.MaxAge
	freshEnough := fresh && ageOK && (req.MinFresh < 0 || addSat(in.Lifetime, -in.Age) >= req.MinFresh)
	noStale := in.NoCache || in.MustRevalidate || in.Shared && in.ProxyRevalidate
	maxStaleOK := req.MaxStale >= 0 && staleness <= req.MaxStale

	if in.OriginFailed {
		switch {
		case in.NoCache, !fresh && noStale:
			return UseMiss
		case fresh, staleness < window(in.StaleIfError, in.GraceIfError), maxStaleOK:
			return UseStaleIfError
		}
		return UseMiss
	}
	revalidate := in.NoCache || req.NoCache
	switch {
	case freshEnough && !revalidate:
		return UseFresh
	case fresh || noStale || revalidate:
	case req.MaxAge < 0 && req.MinFresh < 0 &&
		staleness < window(in.StaleWhileRevalidate, in.GraceWhileRevalidate):
		return UseStaleWhileRevalidate
	case maxStaleOK && ageOK && req.MinFresh < 0:
		return UseStale
	}
	switch {
	case req.OnlyIfCached:
		return UseOnlyIfCachedGatewayTimeout
	case in.HasValidator:
		return UseRevalidate
	}
	return UseMiss
}

// window returns the response's stale window, or the configured grace
// when the response has none.
func window(resp, grace time.Duration) time.Duration {
	if resp >= 0 {
		return resp
	}
	return max(grace, 0)
}
