package rfc

import (
	"bytes"
	"math"
	"strconv"
)

// RangeOutcome is what ParseRange makes of a Range header field.
type RangeOutcome uint8

// The values of RangeOutcome.
const (
	// RangeNone: ignore the Range field and send the full representation
	// with 200 (RFC 9110 §14.2 allows ignoring Range).
	RangeNone RangeOutcome = iota
	// RangeSatisfiable: send bytes start through end, inclusive, with 206
	// and a Content-Range (RFC 9110 §15.3.7).
	RangeSatisfiable
	// RangeUnsatisfiable: send 416 with "Content-Range: bytes */size"
	// (RFC 9110 §15.5.17); AppendContentRange(dst, -1, -1, size) writes it.
	RangeUnsatisfiable
)

// ParseRange evaluates a Range field value (RFC 9110 §14.2) against a
// representation of size bytes. Only the bytes unit is supported
// (§14.1.2, compared case-insensitively) and only a single range:
//
//   - "bytes=500-999": bytes 500 to 999, end clamped to size-1;
//   - "bytes=9500-": from 9500 to the end;
//   - "bytes=-500": the last 500 bytes, or all of them when fewer;
//
// with RangeSatisfiable and start <= end < size. A first-pos at or past
// size, or the suffix "-0", is RangeUnsatisfiable (§14.1.1). Anything else
// gives RangeNone, which §14.2 allows: an absent field, another unit, a
// syntactically invalid range set (last-pos before first-pos included,
// §14.1.1), and several ranges, which this cache answers with the full
// representation rather than multipart/byteranges. A suffix range of an
// empty representation is satisfiable per §14.1.1 but selects no byte, so
// it gives RangeNone too. start and end are -1 unless RangeSatisfiable.
// It does not allocate.
func ParseRange(header []byte, size int64) (start, end int64, outcome RangeOutcome) {
	v := TrimOWS(header)
	if size < 0 || len(v) < 6 || !EqualFold(v[:5], "bytes") || v[5] != '=' {
		return -1, -1, RangeNone
	}
	spec, rest := NextElement(v[6:])
	if next, _ := NextElement(rest); len(spec) == 0 || len(next) > 0 {
		return -1, -1, RangeNone
	}
	i := bytes.IndexByte(spec, '-')
	if i < 0 {
		return -1, -1, RangeNone
	}
	if i == 0 { // suffix-range
		n, ok := rangeInt(spec[1:])
		switch {
		case !ok:
			return -1, -1, RangeNone
		case n == 0:
			return -1, -1, RangeUnsatisfiable
		case size == 0:
			return -1, -1, RangeNone
		}
		return size - min(n, size), size - 1, RangeSatisfiable
	}
	first, ok := rangeInt(spec[:i])
	if !ok {
		return -1, -1, RangeNone
	}
	last := int64(math.MaxInt64)
	if i+1 < len(spec) {
		if last, ok = rangeInt(spec[i+1:]); !ok || last < first {
			return -1, -1, RangeNone
		}
	}
	if first >= size {
		return -1, -1, RangeUnsatisfiable
	}
	return first, min(last, size-1), RangeSatisfiable
}

// AppendContentRange appends a Content-Range field value for a byte range
// (RFC 9110 §14.4) to dst: "bytes start-end/size", or "bytes */size" for
// a 416 response when start is negative.
func AppendContentRange(dst []byte, start, end, size int64) []byte {
	dst = append(dst, "bytes "...)
	if start < 0 {
		dst = append(dst, '*')
	} else {
		dst = strconv.AppendInt(dst, start, 10)
		dst = append(dst, '-')
		dst = strconv.AppendInt(dst, end, 10)
	}
	dst = append(dst, '/')
	return strconv.AppendInt(dst, size, 10)
}

// IfRangeAllows reports whether an If-Range field value lets the Range
// field apply (RFC 9110 §13.1.5); when it does not, the full
// representation is sent. An empty value (no If-Range) allows it. An
// entity tag must match the stored ETag with the strong comparison of
// §8.8.3.2: neither may be weak, and they must be identical. A date must
// be a valid HTTP-date exactly equal, to the second, to lastModified (Unix
// nanoseconds; 0 when absent, which fails). §13.1.5 further requires the
// Last-Modified to be a strong validator (§8.8.2.2: at least a second
// before the Date); a caller that cannot tell passes 0.
func IfRangeAllows(ifRange []byte, etag []byte, lastModified int64) bool {
	v := TrimOWS(ifRange)
	switch {
	case len(v) == 0:
		return true
	case v[0] == '"':
		return isOpaqueTag(v) && bytes.Equal(v, TrimOWS(etag))
	case len(v) >= 2 && v[0] == 'W' && v[1] == '/':
		return false // a weak tag never matches strongly
	}
	t, ok := ParseHTTPDate(v)
	return ok && lastModified != 0 && seconds(t) == seconds(lastModified)
}

// isOpaqueTag reports whether b is an opaque-tag, a strong entity tag
// (RFC 9110 §8.8.3): DQUOTE *etagc DQUOTE, etagc being any visible
// character but DQUOTE, or obs-text.
func isOpaqueTag(b []byte) bool {
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
		return false
	}
	for _, c := range b[1 : len(b)-1] {
		if c <= ' ' || c == '"' || c == 0x7f {
			return false
		}
	}
	return true
}

// rangeInt parses a first-pos, last-pos or suffix-length: one or more
// digits, saturating at math.MaxInt64.
func rangeInt(b []byte) (int64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		if n > (math.MaxInt64-9)/10 {
			n = math.MaxInt64
		} else {
			n = n*10 + int64(c-'0')
		}
	}
	return n, true
}
