package core

import (
	"bytes"
	"slices"

	"github.com/fiber-caches/cache/internal/core/entry"
	"github.com/fiber-caches/cache/internal/core/rfc"
)

// acceptable reports whether a request whose Accept-Encoding lines are ae
// (each followed by ',') may be answered with e, whose path varies on
// names. Variants of a response that varies on Accept-Encoding are keyed
// by the coding the compress middleware would pick, not by the header; so
// such an entry with a content coding is only served to a request that
// names that coding (or "*") with a non-zero q (RFC 9110 §12.5.3): a
// handler that negotiates otherwise never has, say, its gzip bytes served
// to a client that did not ask for them. A response that does not vary on
// Accept-Encoding is the same for everyone, as its origin said.
func acceptable(ae []byte, e *entry.Entry, names []string) bool {
	if len(e.Encoding) == 0 || rfc.EqualFold(e.Encoding, "identity") || !slices.Contains(names, "accept-encoding") {
		return true
	}
	ok := false
	for elem, rest := rfc.NextElement(ae); len(elem) > 0; elem, rest = rfc.NextElement(rest) {
		coding, params := elem, []byte(nil)
		for i, c := range elem {
			if c == ';' {
				coding, params = bytes.TrimSpace(elem[:i]), elem[i+1:]
				break
			}
		}
		if !bytes.EqualFold(coding, e.Encoding) && !(len(coding) == 1 && coding[0] == '*') {
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
	p := bytes.TrimSpace(params)
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
