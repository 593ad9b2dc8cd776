package core

import (
	"bytes"
	"encoding/binary"
	"slices"
	"unsafe"

	"github.com/fiber-caches/cache/internal/core/rfc"
	"github.com/valyala/fasthttp"
)

// keyVersion is part of every key, in memory and in storage: a change of
// the key material or of the entry format never reads old values.
const keyVersion = "v3"

// keys is the key material of one request, built once into one buffer:
//
//	path part   effective host, path as the app's router matches it
//	request     scheme, Host header, X-Forwarded-Host, target form, query, WithKeyFunc's bytes
//	variant     for each Vary name the path learnt: the name and the request's values
//
// The path part names the path record (its generation and Vary names);
// all three name the entry. An entry keeps its whole material and a hit
// compares it, so a hash collision can never answer another request.
type keys struct {
	buf      []byte
	pathLen  int      // end of the path part
	baseLen  int      // end of the request part
	pathHash uint64   // of the path part, with the cache's seed
	names    []string // the names the entry material was last built with
	learnt   []string // the names the lookup found learnt for the path
	ignore   []string // WithCookieIgnore's patterns, for cookieName
}

// path returns the material naming the path record.
func (k *keys) path() []byte { return k.buf[:k.pathLen] }

// variant returns the material naming the entry for the request's values
// of names, and remembers names.
func (k *keys) variant(h *fasthttp.RequestHeader, names []string, fold bool) []byte {
	k.buf = k.buf[:k.baseLen]
	k.names = names
	for _, name := range names {
		k.buf = append(append(k.buf, name...), 0)
		k.buf = appendVaryValue(k.buf, h, name, fold, k.ignore)
		k.buf = append(k.buf, 0)
	}
	return k.buf
}

// full returns the entry material last built by variant.
func (k *keys) full() []byte { return k.buf }

// build fills k for the request in c. It returns false when the request
// must bypass the cache (an absolute-form target naming another host than
// the Host header). rh must have scanned the request: the effective host
// and the scheme are what the framework's Host and Scheme return; under
// Fiber v2 they are read from rh's one pass instead of two more passes
// over the headers.
func (m *Cache) buildKeys(c Ctx, a *appInfo, rh *reqHeaders, k *keys) bool {
	req := c.Request()
	h := &req.Header
	u := req.URI()
	v2 := m.fw.FiberV2Headers()
	trusted := v2 && m.fw.ProxyTrusted(c)
	k.ignore = m.cfg.cookieIgnore
	b := append(k.buf[:0], keyVersion...)
	b = append(b, 0)
	switch {
	case !v2:
		b = appendLower(b, m.fw.Host(c))
	case trusted && len(rh.fwdHost) > 0:
		b = appendLower(b, rh.fwdHost) // c.Hostname(): X-Forwarded-Host
	default:
		b = appendLower(b, u.Host())
	}
	b = append(b, 0)
	b = appendRoutedPath(b, c.Path(), a)
	k.pathLen = len(b)

	b = append(b, 0)
	switch { // Fiber v2's c.Protocol()
	case !v2:
		b = append(b, m.fw.Scheme(c)...)
	case m.fw.RequestCtx(c).IsTLS():
		b = append(b, "https"...)
	case trusted && rh.scheme != nil:
		b = append(b, rh.scheme...)
	default:
		b = append(b, "http"...)
	}
	b = append(b, 0)
	host := h.Host()
	b = appendLower(b, host)
	b = append(b, 0)
	if rh.anyFwdHost {
		// Every line, as the handler can read them (c.Get: the first,
		// whole; c.Hostname: the first up to a comma, keyed above).
		b = appendRequestValues(b, h, "x-forwarded-host", a.rawHeaders)
	}
	b = append(b, 0)
	// The request target's form: a handler reading c.OriginalURL() or the
	// URI sees the scheme and host of an absolute-form target.
	if uri := h.RequestURI(); len(uri) > 0 && uri[0] != '/' {
		if len(host) > 0 && !bytes.EqualFold(u.Host(), host) {
			k.buf = b
			return false
		}
		b = append(append(append(b, 'A'), u.Scheme()...), 0)
	} else {
		b = append(b, 'O', 0)
	}
	b = m.appendQuery(b, u.QueryString())
	b = append(b, 0)
	if m.cfg.keyFunc != nil {
		b = m.cfg.keyFunc(c, b)
		b = append(b, 0)
	}
	k.baseLen = len(b)
	k.buf = b
	return true
}

// appendRoutedPath appends p as the app's router matches it (Fiber's
// detection path): case folded unless CaseSensitive, trailing slashes
// dropped unless StrictRouting. c.Path() is already unescaped when
// UnescapePath is set, as Fiber routes it.
func appendRoutedPath(b []byte, p string, a *appInfo) []byte {
	if !a.strict && len(p) > 1 {
		for len(p) > 1 && p[len(p)-1] == '/' {
			p = p[:len(p)-1]
		}
	}
	if a.caseSensitive {
		return append(b, p...)
	}
	return appendLower(b, p)
}

// appendLower appends s in ASCII lower case, eight bytes at a time, read
// from s (lowering in place what append just wrote would stall on it).
func appendLower[S ~string | ~[]byte](b []byte, s S) []byte {
	var src []byte
	switch v := any(s).(type) {
	case string:
		src = unsafe.Slice(unsafe.StringData(v), len(v))
	case []byte:
		src = v
	default:
		src = []byte(s)
	}
	n := len(b)
	b = slices.Grow(b, len(src))[:n+len(src)]
	d := b[n:]
	i := 0
	for ; i+8 <= len(src); i += 8 {
		w := binary.LittleEndian.Uint64(src[i:])
		binary.LittleEndian.PutUint64(d[i:], w|upperBits(w)>>2)
	}
	if i < len(src) && len(src) >= 8 {
		// The last word, overlapping the one before.
		w := binary.LittleEndian.Uint64(src[len(src)-8:])
		binary.LittleEndian.PutUint64(d[len(src)-8:], w|upperBits(w)>>2)
		return b
	}
	for ; i < len(src); i++ {
		c := src[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		d[i] = c
	}
	return b
}

// upperBits has the high bit of each byte of w set where that byte is an
// ASCII capital letter, and no other bit.
func upperBits(w uint64) uint64 {
	const (
		ones = 0x0101010101010101
		high = 0x8080808080808080
	)
	low7 := w &^ high
	geA := low7 + (0x80-'A')*ones   // high bit: byte >= 'A'
	gtZ := low7 + (0x80-'Z'-1)*ones // high bit: byte > 'Z'
	return geA &^ gtZ &^ w & high
}

// appendRequestValues appends the lines of the request header name
// (lower case) as a handler can tell them apart: each line's value, with
// its length, in order, then 'E'. Joining them as a recipient may (RFC
// 9110 §5.3) would key "a, b" on one line with "a" and "b" on two, which
// c.Get reads as "a": one request could then plant the answer to "a" for
// clients sending "a, b". With fold (header normalizing disabled, where
// c.Get matches names byte for byte), lines are found case-insensitively
// and each line's name is appended as received, too.
//
// Accept-Encoding is the exception: its value is the content coding the
// request would be answered in (servedEncoding), not the header as sent.
func appendRequestValues(b []byte, h *fasthttp.RequestHeader, name string, fold bool) []byte {
	if name == "accept-encoding" {
		return appendLine(b, servedEncoding(h))
	}
	if !fold {
		for _, v := range h.PeekAll(name) {
			b = appendLine(b, v)
		}
		return append(b, 'E')
	}
	h.VisitAll(func(k, v []byte) {
		if rfc.EqualFold(k, name) {
			b = appendLine(b, k)
			b = binary.AppendUvarint(b, uint64(len(v)))
			b = append(b, v...)
		}
	})
	return append(b, 'E')
}

// appendVaryValue appends what the key holds of the request for one of
// the names a path varies on: the lines of that header, or, for
// cookieName, the request's cookies but those ignore leaves out.
func appendVaryValue(b []byte, h *fasthttp.RequestHeader, name string, fold bool, ignore []string) []byte {
	if name == cookieName {
		return appendCookies(b, h, ignore)
	}
	return appendRequestValues(b, h, name, fold)
}

// appendLine appends 'L', the length of v and v.
func appendLine[S ~string | ~[]byte](b []byte, v S) []byte {
	b = binary.AppendUvarint(append(b, 'L'), uint64(len(v)))
	return append(b, v...)
}

// requestHas reports whether the request has a line of the header lower
// (its lower-case name), matched case-insensitively whatever fiber.Config
// says, whose value is not empty. Every line counts, not only the first:
// an empty first line must not hide a credential on the second.
func requestHas(h *fasthttp.RequestHeader, lower string) bool {
	found := false
	h.VisitAll(func(k, v []byte) {
		found = found || len(v) > 0 && rfc.EqualFold(k, lower)
	})
	return found
}
