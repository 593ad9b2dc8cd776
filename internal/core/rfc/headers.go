package rfc

// EqualFold reports whether a equals lowerName, ignoring ASCII case.
// lowerName must already be lower case; only ASCII letters fold, so the
// comparison is the one RFC 9110 §5.1 requires for field names and that
// directive names, range units and the like share.
func EqualFold(a []byte, lowerName string) bool {
	if len(a) != len(lowerName) {
		return false
	}
	for i := range len(a) {
		c := a[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lowerName[i] {
			return false
		}
	}
	return true
}

// HopByHop reports whether name, compared case-insensitively, is a
// connection-specific header field that a cache must neither store nor
// forward (RFC 9110 §7.6.1): Connection, Keep-Alive, Proxy-Connection,
// Proxy-Authenticate, Proxy-Authorization, TE, Trailer, Transfer-Encoding
// and Upgrade. Fields named by the Connection field are hop-by-hop too;
// the caller finds those with NextElement.
func HopByHop(name []byte) bool {
	switch len(name) {
	case 2:
		return EqualFold(name, "te")
	case 7:
		return EqualFold(name, "trailer") || EqualFold(name, "upgrade")
	case 10:
		return EqualFold(name, "connection") || EqualFold(name, "keep-alive")
	case 16:
		return EqualFold(name, "proxy-connection")
	case 17:
		return EqualFold(name, "transfer-encoding")
	case 18:
		return EqualFold(name, "proxy-authenticate")
	case 19:
		return EqualFold(name, "proxy-authorization")
	}
	return false
}

// NextElement splits the first element off the comma-separated list v
// (the #rule of RFC 9110 §5.6.1), for Connection, Vary, If-None-Match,
// Cache-Control and the like. elem has optional whitespace trimmed; empty
// elements are skipped; a comma inside a quoted-string (RFC 9110 §5.6.4),
// where a backslash escapes the next byte, does not end the element. When
// no element is left, elem is empty. Loop as
//
//	for e, rest := rfc.NextElement(v); len(e) > 0; e, rest = rfc.NextElement(rest) { ... }
//
// It never allocates; elem and rest alias v.
func NextElement(v []byte) (elem, rest []byte) {
	for len(v) > 0 {
		i, quoted := 0, false
	scan:
		for ; i < len(v); i++ {
			switch c := v[i]; {
			case quoted && c == '\\':
				i++
			case c == '"':
				quoted = !quoted
			case !quoted && c == ',':
				break scan
			}
		}
		i = min(i, len(v))
		elem, v = TrimOWS(v[:i]), v[min(i+1, len(v)):]
		if len(elem) > 0 {
			return elem, v
		}
	}
	return nil, nil
}

// ForEachToken calls f with each element of the comma-separated list v,
// as NextElement splits them; tok aliases v.
func ForEachToken(v []byte, f func(tok []byte)) {
	for e, rest := NextElement(v); len(e) > 0; e, rest = NextElement(rest) {
		f(e)
	}
}

// ValidFieldName reports whether b is a syntactically valid field name: a
// non-empty token (RFC 9110 §5.1, §5.6.2).
func ValidFieldName(b []byte) bool {
	return isToken(b)
}

// ValidFieldValue reports whether b may be written out as a field value:
// it holds no CR, LF or NUL, the characters RFC 9110 §5.5 makes invalid
// and dangerous. Other control characters are tolerated, as §5.5 allows.
func ValidFieldValue(b []byte) bool {
	for _, c := range b {
		if c == '\r' || c == '\n' || c == 0 {
			return false
		}
	}
	return true
}

// isTchar reports whether c is a tchar (RFC 9110 §5.6.2).
func isTchar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
		return true
	}
	return false
}

// isToken reports whether b is a non-empty token (RFC 9110 §5.6.2).
func isToken(b []byte) bool {
	for _, c := range b {
		if !isTchar(c) {
			return false
		}
	}
	return len(b) > 0
}

// TrimOWS trims optional whitespace, SP and HTAB (RFC 9110 §5.6.3), from
// both ends of b.
func TrimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// unquote returns the content of b if b is exactly one well-formed
// quoted-string (RFC 9110 §5.6.4), escapes left in place, or b itself if b
// is a non-empty token; ok is false for anything else.
func unquote(b []byte) (content []byte, ok bool) {
	if len(b) == 0 || b[0] != '"' {
		return b, isToken(b)
	}
	for i := 1; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return b[1:i], i == len(b)-1
		}
	}
	return nil, false
}
