package cache

import (
	"bytes"
	"crypto/sha256"
	"slices"
	"strings"

	"github.com/fiber-caches/cache/internal/entry"
	"github.com/valyala/fasthttp"
)

// digest is a storage key before prefixing: a SHA-256 over a tag byte and
// the key's parts, each followed by a zero byte, so no two different inputs
// share one (short of a SHA-256 collision).
type digest = [32]byte

// Tags that keep the kinds of keys apart.
const (
	tagURL     = 'u' // the response, or the Vary record, of a URL
	tagVariant = 'v' // one Vary variant of a URL's response
	tagGen     = 'g' // the invalidation generation of a URL
	tagPath    = 'p' // the request headers the responses of a URL path vary on
)

// urlDigest keys the URL scheme://host/path?query (path and query as sent).
// GET and HEAD share it: an entry says which method stored it.
func urlDigest(tag byte, scheme, host string, path, query []byte) digest {
	var buf [512]byte
	b := append(buf[:0], tag)
	b = append(append(b, scheme...), 0)
	b = append(append(b, host...), 0)
	b = append(append(b, path...), 0)
	if tag != tagPath {
		b = append(append(b, query...), 0)
	}
	return sha256.Sum256(b)
}

// variantDigest keys the variant of the URL u whose request has, for each
// name of the Vary record rec, the value the request header h gives it.
func variantDigest(u *digest, rec *entry.Entry, h *fasthttp.RequestHeader) digest {
	var buf [512]byte
	b := append(buf[:0], tagVariant)
	b = append(b, u[:]...)
	b = append(b, rec.Nonce[:]...)
	for _, name := range rec.Names {
		b = append(append(b, name...), 0)
		b = appendHeaderValues(b, h, name)
		b = append(b, 0)
	}
	return sha256.Sum256(b)
}

// appendHeaderValues appends every value of the request header name, joined
// by ", ", as a recipient would combine repeated fields (RFC 9110 §5.3).
// Zero bytes inside values are dropped so they cannot forge a separator.
func appendHeaderValues(b []byte, h *fasthttp.RequestHeader, name string) []byte {
	n := 0
	for _, v := range h.PeekAll(name) {
		if n > 0 {
			b = append(b, ", "...)
		}
		n++
		for _, c := range v {
			if c != 0 {
				b = append(b, c)
			}
		}
	}
	return b
}

// varyNames parses the response's Vary header fields into sorted, lower-case,
// de-duplicated names. star reports "Vary: *", which no request can match.
func varyNames(h *fasthttp.ResponseHeader) (names []string, star bool) {
	for _, v := range h.PeekAll(fasthttp.HeaderVary) {
		for len(v) > 0 {
			var item []byte
			item, v, _ = bytes.Cut(v, []byte{','})
			item = bytes.TrimSpace(item)
			switch {
			case len(item) == 0:
			case len(item) == 1 && item[0] == '*':
				star = true
			default:
				names = append(names, strings.ToLower(string(item)))
			}
		}
	}
	slices.Sort(names)
	return slices.Compact(names), star
}

// unionNames merges two sorted name lists.
func unionNames(a, b []string) []string {
	if len(b) == 0 {
		return a
	}
	if len(a) == 0 {
		return b
	}
	u := append(append(make([]string, 0, len(a)+len(b)), a...), b...)
	slices.Sort(u)
	return slices.Compact(u)
}
