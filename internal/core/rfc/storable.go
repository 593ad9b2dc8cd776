package rfc

// StoreInput is what Storable decides on.
type StoreInput struct {
	GetOrHead bool // the request method is GET or HEAD, the methods this cache understands
	Status    int  // the response's status code
	// Response holds the response's Cache-Control directives; start from
	// NewResponseDirectives.
	Response       ResponseDirectives
	RequestNoStore bool // the request's Cache-Control has no-store (RFC 9111 §5.2.1.5)
	Authorization  bool // the request has an Authorization field (RFC 9111 §3.5)
	Shared         bool // the cache is shared (RFC 9111 §1)
	HasExpires     bool // the response has an Expires field, valid or not (RFC 9111 §5.3)
	// Extension is set when a Cache-Control extension directive that the
	// caller understands allows storing the response (RFC 9111 §3).
	Extension bool
}

// Why values of Storable, short stable snake_case strings for logs and
// metrics.
const (
	WhyMethod         = "method"           // not GET or HEAD
	WhyStatusCode     = "status_code"      // not a final status, or 304
	WhyMustUnderstand = "must_understand"  // must-understand with a status not Understood
	WhyNoStore        = "no_store"         // the response's no-store
	WhyRequestNoStore = "request_no_store" // the request's no-store
	WhyPrivate        = "private"          // unqualified private, shared cache
	WhyAuthorization  = "authorization"    // Authorization without public, s-maxage or must-revalidate, shared cache
	WhyNoFreshness    = "no_freshness"     // nothing in the response allows storing it
)

// Storable reports whether a cache may store the response (RFC 9111 §3);
// when it may not, why is one of the Why constants, naming the first rule
// that failed, in this order:
//
//   - the method is GET or HEAD (the methods this cache understands);
//   - the status is final, 200 to 599 (RFC 9110 §15), and not 304, which
//     freshens a stored response and is never stored itself (§4.3.4);
//   - with must-understand, the status is Understood (§5.2.2.3), and then
//     the response's no-store is ignored;
//   - neither the response (§5.2.2.5) nor the request (§5.2.1.5) has
//     no-store;
//   - in a shared cache, the response has no unqualified private
//     (§5.2.2.7; with field names it may be stored without those fields,
//     which the caller strips);
//   - in a shared cache, a request with Authorization is stored only with
//     public, s-maxage or must-revalidate (§3.5);
//   - the response has public; or private (qualified or not) in a private
//     cache; or Expires; or max-age; or s-maxage in a shared cache; or an
//     Extension allowing it; or a status that is CacheableByDefault.
//
// A 206 passes when the rules allow it; a cache that does not store
// partial content refuses it itself (§3.3, §3.4). no-cache does not
// prevent storing, only reuse without validation (§5.2.2.4).
func Storable(in StoreInput) (ok bool, why string) {
	d := &in.Response
	switch {
	case !in.GetOrHead:
		return false, WhyMethod
	case in.Status < 200 || in.Status > 599 || in.Status == 304:
		return false, WhyStatusCode
	case d.MustUnderstand && !Understood(in.Status):
		return false, WhyMustUnderstand
	case d.NoStore && !d.MustUnderstand:
		return false, WhyNoStore
	case in.RequestNoStore:
		return false, WhyRequestNoStore
	case in.Shared && d.Private:
		return false, WhyPrivate
	case in.Shared && in.Authorization && !d.Public && d.SMaxAge < 0 && !d.MustRevalidate:
		return false, WhyAuthorization
	case d.Public, !in.Shared && (d.Private || d.PrivateQualified), in.HasExpires, d.MaxAge >= 0,
		in.Shared && d.SMaxAge >= 0, in.Extension, CacheableByDefault(in.Status):
		return true, ""
	}
	return false, WhyNoFreshness
}
