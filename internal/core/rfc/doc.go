// Package rfc holds the pure decisions of an HTTP cache, apart from Fiber
// and from storage: parsing Cache-Control, HTTP dates and Range headers,
// computing freshness and age, deciding whether a response may be stored
// and whether a stored response may answer a request, and evaluating
// conditional requests.
//
// It follows RFC 9111 (HTTP Caching), RFC 9110 (HTTP Semantics) and
// RFC 5861 (stale-while-revalidate, stale-if-error). Where those leave a
// choice, the documentation says which one was made and why, preferring
// what the http-tests/cache-tests suite expects.
//
// Conventions: header values are []byte as fasthttp hands them out, and no
// function keeps or allocates on them. Times are Unix nanoseconds (int64),
// 0 meaning absent; durations are time.Duration, -1 meaning absent where a
// duration can be absent.
package rfc
