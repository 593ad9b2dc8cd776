package rfc

import (
	"math"
	"time"
)

// MaxDelta is the largest delta-seconds value this package represents,
// 2^31 seconds: RFC 9111 §1.2.2 has a recipient that cannot represent a
// larger value use 2147483648, so bigger values saturate to it.
const MaxDelta = 2147483648 * time.Second

// MaxStaleAny is RequestDirectives.MaxStale for a max-stale directive
// without a value: the client accepts a stale response of any staleness
// (RFC 9111 §5.2.1.2).
const MaxStaleAny = time.Duration(math.MaxInt64)

// ResponseDirectives is what a cache needs of a response's Cache-Control
// field (RFC 9111 §5.2.2, RFC 5861, RFC 8246 for immutable).
//
// Durations are -1 when the directive is absent. Directive names are
// case-insensitive; delta-seconds arguments are accepted in token and
// quoted-string form (RFC 9111 §5.2). Unknown directives are ignored, and
// so is the argument of a directive that takes none.
//
// Invalid and duplicate values follow RFC 9111 §4.2.1, which lets a cache
// consider such a response stale: a max-age, s-maxage, stale-while-
// revalidate or stale-if-error whose argument is missing or not a
// delta-seconds (such as "3600.0", "-1", "'60'" or "= 60") counts as 0, and
// when the directive appears more than once, in one field line or
// several, with different values, it counts as 0 too; repeating one value
// is harmless. A space before the "=" makes the name another one, so
// "max-age =60" is an unknown directive (cache-tests
// freshness-max-age-space-before-equals expects no reuse either way). For the stale-* windows, 0 is also the restrictive choice:
// it turns off a configured default window, which an absent directive
// would not.
type ResponseDirectives struct {
	MaxAge               time.Duration // max-age, RFC 9111 §5.2.2.1
	SMaxAge              time.Duration // s-maxage, RFC 9111 §5.2.2.10
	StaleWhileRevalidate time.Duration // stale-while-revalidate, RFC 5861 §3
	StaleIfError         time.Duration // stale-if-error, RFC 5861 §4

	NoStore bool // no-store, RFC 9111 §5.2.2.5
	// NoCache is the unqualified no-cache (RFC 9111 §5.2.2.4): the response
	// is never reused without successful validation. An empty argument
	// (no-cache="") counts as unqualified, the restrictive reading.
	NoCache bool
	// NoCacheQualified is no-cache with a list of field names
	// (no-cache="Set-Cookie", or the token form no-cache=Set-Cookie): only
	// those fields need validation, so a cache may strip them and reuse
	// the rest.
	NoCacheQualified bool
	Private          bool // unqualified private, RFC 9111 §5.2.2.7
	// PrivateQualified is private with a list of field names: a shared
	// cache may store the response without those fields.
	PrivateQualified bool
	Public           bool // public, RFC 9111 §5.2.2.9
	MustRevalidate   bool // must-revalidate, RFC 9111 §5.2.2.2
	ProxyRevalidate  bool // proxy-revalidate, RFC 9111 §5.2.2.8
	MustUnderstand   bool // must-understand, RFC 9111 §5.2.2.3
	Immutable        bool // immutable, RFC 8246
	NoTransform      bool // no-transform, RFC 9111 §5.2.2.6
}

// NewResponseDirectives returns ResponseDirectives with no directive: the
// durations absent (-1), every flag false. The zero value is not that: its
// zero durations read as max-age=0 and so on.
func NewResponseDirectives() ResponseDirectives {
	return ResponseDirectives{MaxAge: -1, SMaxAge: -1, StaleWhileRevalidate: -1, StaleIfError: -1}
}

// Reset sets d to NewResponseDirectives().
func (d *ResponseDirectives) Reset() { *d = NewResponseDirectives() }

// Parse adds the directives of one Cache-Control field line to d. Call it
// once per field line, after Reset: several lines form one list
// (RFC 9110 §5.3). It does not allocate.
func (d *ResponseDirectives) Parse(v []byte) {
	for e, rest := NextElement(v); len(e) > 0; e, rest = NextElement(rest) {
		name, arg, hasArg := splitDirective(e)
		switch {
		case EqualFold(name, "max-age"):
			setDelta(&d.MaxAge, arg)
		case EqualFold(name, "s-maxage"):
			setDelta(&d.SMaxAge, arg)
		case EqualFold(name, "stale-while-revalidate"):
			setDelta(&d.StaleWhileRevalidate, arg)
		case EqualFold(name, "stale-if-error"):
			setDelta(&d.StaleIfError, arg)
		case EqualFold(name, "no-store"):
			d.NoStore = true
		case EqualFold(name, "no-cache"):
			if fieldList(arg, hasArg) {
				d.NoCacheQualified = true
			} else {
				d.NoCache = true
			}
		case EqualFold(name, "private"):
			if fieldList(arg, hasArg) {
				d.PrivateQualified = true
			} else {
				d.Private = true
			}
		case EqualFold(name, "public"):
			d.Public = true
		case EqualFold(name, "must-revalidate"):
			d.MustRevalidate = true
		case EqualFold(name, "proxy-revalidate"):
			d.ProxyRevalidate = true
		case EqualFold(name, "must-understand"):
			d.MustUnderstand = true
		case EqualFold(name, "immutable"):
			d.Immutable = true
		case EqualFold(name, "no-transform"):
			d.NoTransform = true
		}
	}
}

// RequestDirectives is what a cache needs of a request's Cache-Control
// field (RFC 9111 §5.2.1). Durations are -1 when absent; MaxStale is
// MaxStaleAny for max-stale without a value.
//
// A directive whose argument is not a valid delta-seconds is ignored (a
// request directive only states a preference, and guessing one could
// serve staler content than asked). When a directive is repeated with
// different values, the most restrictive wins: the smallest max-age and
// max-stale, the largest min-fresh (RFC 9111 §4.2.1 for conflicts).
type RequestDirectives struct {
	MaxAge   time.Duration // max-age, RFC 9111 §5.2.1.1
	MaxStale time.Duration // max-stale, RFC 9111 §5.2.1.2
	MinFresh time.Duration // min-fresh, RFC 9111 §5.2.1.3

	NoCache      bool // no-cache, RFC 9111 §5.2.1.4
	NoStore      bool // no-store, RFC 9111 §5.2.1.5
	OnlyIfCached bool // only-if-cached, RFC 9111 §5.2.1.7
}

// NewRequestDirectives returns RequestDirectives with no directive: the
// durations absent (-1), every flag false.
func NewRequestDirectives() RequestDirectives {
	return RequestDirectives{MaxAge: -1, MaxStale: -1, MinFresh: -1}
}

// Reset sets d to NewRequestDirectives().
func (d *RequestDirectives) Reset() { *d = NewRequestDirectives() }

// Parse adds the directives of one Cache-Control field line of a request
// to d. Call it once per field line, after Reset. It does not allocate.
func (d *RequestDirectives) Parse(v []byte) {
	for e, rest := NextElement(v); len(e) > 0; e, rest = NextElement(rest) {
		name, arg, hasArg := splitDirective(e)
		switch {
		case EqualFold(name, "max-age"):
			if n, ok := deltaArg(arg); ok {
				d.MaxAge = restrict(d.MaxAge, n, false)
			}
		case EqualFold(name, "max-stale"):
			if !hasArg {
				d.MaxStale = restrict(d.MaxStale, MaxStaleAny, false)
			} else if n, ok := deltaArg(arg); ok {
				d.MaxStale = restrict(d.MaxStale, n, false)
			}
		case EqualFold(name, "min-fresh"):
			if n, ok := deltaArg(arg); ok {
				d.MinFresh = restrict(d.MinFresh, n, true)
			}
		case EqualFold(name, "no-cache"):
			d.NoCache = true
		case EqualFold(name, "no-store"):
			d.NoStore = true
		case EqualFold(name, "only-if-cached"):
			d.OnlyIfCached = true
		}
	}
}

// PragmaNoCache reports whether a Pragma field value holds the no-cache
// directive (RFC 9111 §5.4), case-insensitively. RFC 9111 deprecates
// Pragma; RFC 7234 §5.4 had caches treat a request's "Pragma: no-cache" as
// "Cache-Control: no-cache" only when the request has no Cache-Control
// field at all, which the caller checks before consulting this.
func PragmaNoCache(v []byte) bool {
	for e, rest := NextElement(v); len(e) > 0; e, rest = NextElement(rest) {
		if EqualFold(e, "no-cache") {
			return true
		}
	}
	return false
}

// ParseDeltaSeconds parses delta-seconds (RFC 9111 §1.2.2): one or more
// ASCII digits, nothing else (no sign, space or fraction). Values above
// 2^31 seconds saturate to MaxDelta. It parses the Age field too
// (RFC 9111 §5.1); cache-tests' age-parse checks expect a cache to ignore
// an Age it cannot parse, so the caller treats !ok there as absent.
func ParseDeltaSeconds(b []byte) (time.Duration, bool) {
	if len(b) == 0 {
		return 0, false
	}
	const limit = int64(MaxDelta / time.Second)
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = min(n*10+int64(c-'0'), limit)
	}
	return time.Duration(n) * time.Second, true
}

// splitDirective splits a cache-directive, token [ "=" ( token /
// quoted-string ) ], into its name and raw argument. The name is what
// precedes the first "=", not trimmed: "max-age =1" has the name
// "max-age ", which matches nothing (cache-tests
// freshness-max-age-space-before-equals).
func splitDirective(e []byte) (name, arg []byte, hasArg bool) {
	for i, c := range e {
		if c == '=' {
			return e[:i], e[i+1:], true
		}
	}
	return e, nil, false
}

// deltaArg parses a delta-seconds argument in token or quoted-string form
// (RFC 9111 §5.2: "max-age=\"60\"" is accepted).
func deltaArg(arg []byte) (time.Duration, bool) {
	s, ok := unquote(arg)
	if !ok {
		return 0, false
	}
	return ParseDeltaSeconds(s)
}

// setDelta records a response delta-seconds directive with the rules of
// ResponseDirectives: invalid or conflicting values count as 0.
func setDelta(p *time.Duration, arg []byte) {
	n, ok := deltaArg(arg)
	if !ok || (*p >= 0 && *p != n) {
		n = 0
	}
	*p = n
}

// restrict merges a repeated request directive: the smaller value, or the
// larger one when larger is more restrictive; -1 is absent.
func restrict(old, n time.Duration, larger bool) time.Duration {
	switch {
	case old < 0:
		return n
	case larger:
		return max(old, n)
	}
	return min(old, n)
}

// fieldList reports whether a no-cache or private argument is a
// non-empty field-name list; a malformed argument counts as none, so the
// directive keeps its unqualified, restrictive meaning.
func fieldList(arg []byte, hasArg bool) bool {
	if !hasArg {
		return false
	}
	s, ok := unquote(arg)
	if !ok {
		return false
	}
	e, _ := NextElement(s)
	return len(e) > 0
}
