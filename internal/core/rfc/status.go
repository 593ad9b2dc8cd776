package rfc

// CacheableByDefault reports whether responses with this status code are
// heuristically cacheable (RFC 9110 §15.1): a cache may store them and
// compute a heuristic freshness lifetime without explicit freshness
// information.
func CacheableByDefault(status int) bool {
	switch status {
	case 200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414, 501:
		return true
	}
	return false
}

// Understood reports whether this cache understands and conforms to the
// requirements of the status code, for the must-understand response
// directive (RFC 9111 §5.2.2.3): a response carrying must-understand is
// stored only if its status is understood, and then its no-store is
// ignored.
//
// The set is the heuristically cacheable statuses (CacheableByDefault) plus
// the redirects 302, 303 and 307, whose caching rules RFC 9110 fully
// defines and which need nothing beyond ordinary storage. It is kept small
// on purpose: must-understand exists so that caches stay away from status
// codes whose caching semantics they cannot honour, and understanding a
// status turns its no-store off. 304 is not in it because a 304 is never
// stored as a response, it freshens one (RFC 9111 §4.3.4). 206 is, as
// RFC 9110 makes it cacheable by default; a cache that cannot combine or
// serve partial content must refuse 206 itself.
func Understood(status int) bool {
	switch status {
	case 302, 303, 307:
		return true
	}
	return CacheableByDefault(status)
}
