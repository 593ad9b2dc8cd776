package rfc

import (
	"bytes"
	"time"
)

// Outcome is the result of evaluating a request's preconditions against a
// stored response; see EvaluateConditional.
type Outcome uint8

// The values of Outcome.
const (
	Full        Outcome = iota // send the full response
	NotModified                // send 304 Not Modified
)

// EvaluateConditional evaluates If-None-Match and If-Modified-Since
// against a stored response with the given ETag and Last-Modified (Unix
// nanoseconds, 0 when absent), with the precedence of RFC 9110 §13.2.2:
//
//   - a method other than GET and HEAD gives Full: a cache does not answer
//     those, and If-None-Match on them means 412, which is the origin's
//     business;
//   - when If-None-Match is present (non-empty), it alone decides:
//     NotModified if it matches (IfNoneMatchMatches), Full otherwise, and
//     If-Modified-Since is ignored (§13.1.3);
//   - otherwise If-Modified-Since decides (NotModifiedSince).
//
// If-Match, If-Unmodified-Since and If-Range are not evaluated: a cache
// forwards requests carrying the first two, and If-Range only concerns
// Range (IfRangeAllows). For If-Modified-Since, RFC 9111 §4.3.2 lets a
// cache without a stored Last-Modified use the stored Date, or failing
// that the time it received the response; the caller passes that as
// lastModified.
func EvaluateConditional(isGetOrHead bool, ifNoneMatch, ifModifiedSince, etag []byte, lastModified int64) Outcome {
	switch {
	case !isGetOrHead:
		return Full
	case len(TrimOWS(ifNoneMatch)) > 0:
		if IfNoneMatchMatches(ifNoneMatch, etag) {
			return NotModified
		}
		return Full
	case NotModifiedSince(ifModifiedSince, lastModified):
		return NotModified
	}
	return Full
}

// IfNoneMatchMatches reports whether an If-None-Match field value matches
// the stored response's entity tag (RFC 9110 §13.1.2), that is whether
// the condition is false and a GET or HEAD gets 304. The value is "*",
// which matches any current representation (the caller has one, so it
// matches even without an ETag), or a list of entity tags compared with
// the weak comparison of §8.8.3.2: W/ prefixes are ignored and the quoted
// opaque tags must be identical. A comma inside an entity tag does not
// split the list. It does not allocate.
func IfNoneMatchMatches(header, etag []byte) bool {
	etag = opaqueTag(TrimOWS(etag))
	for e, rest := NextElement(header); len(e) > 0; e, rest = NextElement(rest) {
		if len(e) == 1 && e[0] == '*' {
			return true
		}
		if len(etag) > 0 && bytes.Equal(opaqueTag(e), etag) {
			return true
		}
	}
	return false
}

// NotModifiedSince reports whether an If-Modified-Since field value makes
// a GET or HEAD get 304 (RFC 9110 §13.1.3): it is a valid HTTP-date and
// the representation was last modified at or before it, compared to the
// second. An invalid date, a list of dates or an absent lastModified (0)
// gives false. The caller applies the precedence of §13.2.2: this is
// evaluated only when the request has no If-None-Match, and only for GET
// and HEAD; EvaluateConditional does both.
func NotModifiedSince(ifModifiedSince []byte, lastModified int64) bool {
	if lastModified == 0 {
		return false
	}
	t, ok := ParseHTTPDate(ifModifiedSince)
	return ok && seconds(lastModified) <= seconds(t)
}

// NotModifiedHeader reports whether a 304 response carries the field name,
// compared case-insensitively, when the 200 response would: RFC 9110
// §15.4.5 lists Content-Location, Date, ETag and Vary, and Cache-Control
// and Expires. Other representation metadata, Last-Modified included, is
// not listed; §15.4.5 discourages it unless it guides cache updates.
func NotModifiedHeader(name []byte) bool {
	switch len(name) {
	case 4:
		return EqualFold(name, "date") || EqualFold(name, "etag") || EqualFold(name, "vary")
	case 7:
		return EqualFold(name, "expires")
	case 13:
		return EqualFold(name, "cache-control")
	case 16:
		return EqualFold(name, "content-location")
	}
	return false
}

// opaqueTag strips the weakness indicator W/ (RFC 9110 §8.8.3) from an
// entity tag.
func opaqueTag(e []byte) []byte {
	if len(e) >= 2 && e[0] == 'W' && e[1] == '/' {
		return e[2:]
	}
	return e
}

// seconds truncates t, in Unix nanoseconds, to whole seconds (rounding
// down), the precision of HTTP dates.
func seconds(t int64) int64 {
	s := t / int64(time.Second)
	if t%int64(time.Second) < 0 {
		s--
	}
	return s
}
