package cache

import (
	"github.com/fiber-caches/cache/internal/entry"
	"github.com/fiber-caches/cache/internal/rfc"
)

// acceptable reports whether a request whose Accept-Encoding lines are ae
// (each followed by ',') may be answered with e: an entry whose body has a
// content coding is only served to a request that names that coding (or
// "*") with a non-zero q (RFC 9110 §12.5.3). Variants are keyed by the
// coding the compress middleware would pick; this check keeps a handler
// that negotiates otherwise from serving, say, gzip bytes to a client that
// did not ask for them.
func acceptable(ae []byte, e *entry.Entry) bool {
	if len(e.Encoding) == 0 || rfc.EqualFold(e.Encoding, "identity") {
		return true
	}
	ok := false
	for elem, rest := rfc.NextElement(ae); len(elem) > 0; elem, rest = rfc.NextElement(rest) {
		coding, params := elem, []byte(nil)
		for i, c := range elem {
			if c == ';' {
				coding, params = trimSpace(elem[:i]), elem[i+1:]
				break
			}
		}
		if !equalFoldBytes(coding, e.Encoding) && !(len(coding) == 1 && coding[0] == '*') {
			continue
		}
		if zeroQ(params) {
			if !(len(coding) == 1 && coding[0] == '*') {
				return false // named with q=0: refused outright
			}
			continue
		}
		ok = true
	}
	return ok
}

// zeroQ reports whether the parameters of an Accept-Encoding element say
// q=0 (0, 0.0, 0.000).
func zeroQ(params []byte) bool {
	p := trimSpace(params)
	if len(p) < 3 || (p[0] != 'q' && p[0] != 'Q') || p[1] != '=' {
		return false
	}
	for _, c := range p[2:] {
		if c != '0' && c != '.' && c != ' ' {
			return false
		}
	}
	return true
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

func equalFoldBytes(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
