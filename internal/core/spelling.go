package core

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/valyala/fasthttp"
)

// A path is keyed as the router matches it, and without UnescapePath that
// is the path as the client spelt it: /users/o'brien and /users/o%27brien
// are two paths to the cache (and to the handler, whose c.Params differ).
// An invalidation must therefore name a path the way clients send it. This
// file says how they do.
//
// RFC 3986's pchar (unreserved, sub-delims "!$&'()*+,;=", ':' and '@') and
// '/' are sent as they are, by browsers, curl and Go's client alike; so is
// a valid %XX. Other bytes must be percent-encoded, and are, except the
// printable ones of lenientBytes: browsers send '[', ']' and '|' raw, some
// '^' too, and curl every one of them, while Go's client and strict ones
// encode them. So is a '%' that starts no valid %XX: browsers and curl send
// it raw, others %25 (Go's client cannot send it). Those are invalidated
// in both spellings.

// pcharOrSlash marks the bytes sent raw in a path by every client: RFC
// 3986's pchar, and '/'.
var pcharOrSlash = byteSet("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=:@/")

// lenientBytes marks the printable bytes outside pchar that some clients
// send raw in a path and others percent-encode.
var lenientBytes = byteSet("[]^`{|}")

func byteSet(s string) (set [256]bool) {
	for i := 0; i < len(s); i++ {
		set[s[i]] = true
	}
	return set
}

const upperHex = "0123456789ABCDEF"

// validEscape reports whether s[i:] starts with '%' and two hex digits.
func validEscape(s string, i int) bool {
	return i+2 < len(s) && s[i] == '%' && isHex(s[i+1]) && isHex(s[i+2])
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c|0x20 && c|0x20 <= 'f'
}

func unhex(c byte) byte {
	if c <= '9' {
		return c - '0'
	}
	return c | 0x20 - 'a' + 10
}

// spellPath returns raw (a path, or a route parameter's value) as a client
// sends it: pchar bytes and '/' as they are, a valid %XX as it is, and any
// other byte percent-encoded in upper case (a lone '%' is %25, non-ASCII
// text its UTF-8 bytes). With lenient, the bytes of lenientBytes are sent
// raw, whether raw or %XX in raw, and so is a lone '%'. (No lenient byte is
// a hex digit, so no %XX appears that raw did not hold.)
func spellPath(raw string, lenient bool) string {
	var b []byte // nil while raw needs no change
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case c == '%' && validEscape(raw, i):
			d := unhex(raw[i+1])<<4 | unhex(raw[i+2])
			switch {
			case lenient && lenientBytes[d]:
				b = append(growTo(b, raw, i), d)
			case b != nil:
				b = append(b, raw[i:i+3]...)
			}
			i += 2
		case pcharOrSlash[c], lenient && (lenientBytes[c] || c == '%'):
			if b != nil {
				b = append(b, c)
			}
		default:
			b = append(growTo(b, raw, i), '%', upperHex[c>>4], upperHex[c&15])
		}
	}
	if b == nil {
		return raw
	}
	return string(b)
}

// growTo returns b, or raw[:i] when b is nil: the bytes spelt so far.
func growTo(b []byte, raw string, i int) []byte {
	if b == nil {
		b = append(make([]byte, 0, len(raw)+16), raw[:i]...)
	}
	return b
}

// requestTarget returns the path a client requests so that an app with
// UnescapePath sees decoded as its c.Path(): every byte outside pchar and
// '/' percent-encoded, and '%' and '+' too (fasthttp.AppendUnquotedArg,
// which decodes the path, reads '+' as a space).
func requestTarget(decoded string) string {
	var b strings.Builder
	for i := 0; i < len(decoded); i++ {
		c := decoded[i]
		if pcharOrSlash[c] && c != '+' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(upperHex[c>>4])
		b.WriteByte(upperHex[c&15])
	}
	return b.String()
}

// clientPaths returns the paths c.Path() shows for the requests clients
// send for raw, a path as written (in a URL, a Location header): its
// spellings (spellPath, strict and lenient), or with UnescapePath the one
// path they decode to.
func clientPaths(raw string, a *appInfo) []string {
	strict := spellPath(raw, false)
	if a.unescape {
		return []string{string(fasthttp.AppendUnquotedArg(nil, []byte(strict)))}
	}
	if lenient := spellPath(raw, true); lenient != strict {
		return []string{strict, lenient}
	}
	return []string{strict}
}

// A reqBase is what references resolve against: a request's scheme, host
// and path as it was sent.
type reqBase struct{ scheme, host, path string }

// requestBase returns c's reqBase. It copies what it keeps, so it stays
// valid after the request.
func requestBase(fw Framework, c Ctx) reqBase {
	return reqBase{
		scheme: strings.Clone(fw.Scheme(c)), // both may alias the request
		host:   strings.Clone(fw.Host(c)),
		path:   string(c.Request().URI().PathOriginal()),
	}
}

// resolve resolves ref (a URL or a reference relative to b, as written in
// a Location header or passed to InvalidateURL) as a client does, RFC 3986
// §5.2: it returns the scheme and host of the URL ref names and its path
// as spelt in ref, dot segments removed. Only http and https URLs are
// accepted; a query or fragment is left out.
func (b reqBase) resolve(ref string) (scheme, host, path string, err error) {
	if i := strings.IndexFunc(ref, func(r rune) bool { return r < ' ' || r == 0x7f }); i >= 0 {
		return "", "", "", fmt.Errorf("%q holds a control character", ref)
	}
	// RFC 3986 Appendix B, by hand: url.Parse takes no lone '%', and
	// re-encodes a path it finds invalid, where clients send it as written.
	rest := ref
	if i := strings.IndexAny(rest, "?#"); i >= 0 {
		rest = rest[:i]
	}
	if i := strings.IndexAny(rest, ":/"); i > 0 && rest[i] == ':' {
		scheme, rest = strings.ToLower(rest[:i]), rest[i+1:]
	}
	authority, hasAuthority := "", strings.HasPrefix(rest, "//")
	if hasAuthority {
		rest = rest[2:]
		i := strings.IndexByte(rest, '/')
		if i < 0 {
			i = len(rest)
		}
		authority, rest = rest[:i], rest[i:]
	}
	path = rest
	switch {
	case scheme != "" && !hasAuthority:
		return "", "", "", fmt.Errorf("%q is not a URL with a host and a path", ref)
	case scheme != "":
	case hasAuthority:
		scheme = b.scheme
	default:
		scheme, host = b.scheme, b.host
		switch {
		case path == "":
			path = b.path
		case path[0] != '/':
			path = b.path[:strings.LastIndexByte(b.path, '/')+1] + path // merge, §5.2.3
		}
	}
	if scheme != "http" && scheme != "https" {
		return "", "", "", errors.New("the scheme must be http or https")
	}
	if hasAuthority {
		u, err := url.Parse("http://" + authority)
		if err != nil {
			return "", "", "", err
		}
		host = u.Host // without user information
	}
	if host == "" {
		return "", "", "", errors.New("the URL has no host")
	}
	return scheme, host, removeDotSegments(path), nil
}

// removeDotSegments removes the "." and ".." segments of an absolute path,
// RFC 3986 §5.2.4, as clients do before sending it. An empty path is "/".
func removeDotSegments(p string) string {
	if !strings.Contains(p, ".") {
		if p == "" {
			return "/"
		}
		return p
	}
	var out []string // the segments kept, each with its leading '/'
	for len(p) > 0 {
		i := strings.IndexByte(p[1:], '/') + 1
		if i == 0 {
			i = len(p)
		}
		seg, rest := p[:i], p[i:] // "/name" (or "name" first, in a relative path)
		name := strings.TrimPrefix(seg, "/")
		switch name {
		case ".":
			if rest == "" {
				out = append(out, "/")
			}
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
			if rest == "" {
				out = append(out, "/")
			}
		default:
			out = append(out, "/"+name)
		}
		p = rest
	}
	if len(out) == 0 {
		return "/"
	}
	return strings.Join(out, "")
}
