package rfc

import "time"

// ParseTargeted parses a targeted cache-control field such as
// CDN-Cache-Control (RFC 9213) into d, which the caller starts with
// NewResponseDirectives. The field is a Structured Field Dictionary
// (RFC 8941 §3.2): when it is not one, or a directive this package knows
// has a value of the wrong type (max-age="60"), the whole field is
// invalid, ParseTargeted returns false, and the cache ignores it and uses
// Cache-Control (RFC 9213 §2.1). Unknown members are ignored. It does not
// allocate.
func ParseTargeted(d *ResponseDirectives, v []byte) bool {
	i := skipSP(v, 0)
	for i < len(v) {
		// key
		start := i
		if c := v[i]; !(c >= 'a' && c <= 'z' || c == '*') {
			return false
		}
		for i < len(v) && sfKeyChar(v[i]) {
			i++
		}
		key := v[start:i]
		var val []byte
		isInt, isBool := false, true
		if i < len(v) && v[i] == '=' {
			i++
			vs := i
			var ok bool
			i, isInt, ok = sfBareItem(v, i)
			if !ok {
				return false
			}
			val = v[vs:i]
			isBool = len(val) == 2 && val[0] == '?'
		}
		// parameters
		for i < len(v) && v[i] == ';' {
			i = skipSP(v, i+1)
			ps := i
			for i < len(v) && sfKeyChar(v[i]) {
				i++
			}
			if i == ps {
				return false
			}
			if i < len(v) && v[i] == '=' {
				var ok bool
				if i, _, ok = sfBareItem(v, i+1); !ok {
					return false
				}
			}
		}
		if !applyTargeted(d, key, val, isInt, isBool) {
			return false
		}
		i = skipOWS(v, i)
		if i == len(v) {
			return true
		}
		if v[i] != ',' {
			return false
		}
		i = skipOWS(v, i+1)
		if i == len(v) {
			return false // a trailing comma
		}
	}
	return true
}

// applyTargeted applies one dictionary member; it reports false for a
// known directive whose value has the wrong type.
func applyTargeted(d *ResponseDirectives, key, val []byte, isInt, isBool bool) bool {
	flag := func(p *bool) bool {
		if !isBool {
			return false
		}
		*p = val == nil || val[1] == '1'
		return true
	}
	delta := func(p *time.Duration) bool {
		if !isInt || val[0] == '-' {
			return false
		}
		n, _ := ParseDeltaSeconds(val)
		*p = n
		return true
	}
	switch string(key) {
	case "max-age":
		return delta(&d.MaxAge)
	case "stale-while-revalidate":
		return delta(&d.StaleWhileRevalidate)
	case "stale-if-error":
		return delta(&d.StaleIfError)
	case "no-store":
		return flag(&d.NoStore)
	case "no-cache":
		return flag(&d.NoCache)
	case "private":
		return flag(&d.Private)
	case "public":
		return flag(&d.Public)
	case "must-revalidate":
		return flag(&d.MustRevalidate)
	case "proxy-revalidate":
		return flag(&d.ProxyRevalidate)
	}
	return true
}

func sfKeyChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.' || c == '*'
}

// sfBareItem skips one bare item (RFC 8941 §3.3) at v[i:]: an integer or
// decimal, a string, a token, a byte sequence or a boolean.
func sfBareItem(v []byte, i int) (end int, isInt, ok bool) {
	if i >= len(v) {
		return i, false, false
	}
	switch c := v[i]; {
	case c == '-' || c >= '0' && c <= '9':
		j := i
		if c == '-' {
			j++
		}
		digits, dot := 0, false
		for ; j < len(v); j++ {
			switch {
			case v[j] >= '0' && v[j] <= '9':
				digits++
			case v[j] == '.' && !dot && digits > 0:
				dot = true
			default:
				return j, !dot, digits > 0 && digits <= 15 && v[j-1] != '.'
			}
		}
		return j, !dot, digits > 0 && digits <= 15 && v[j-1] != '.'
	case c == '"':
		for j := i + 1; j < len(v); j++ {
			switch v[j] {
			case '\\':
				j++
			case '"':
				return j + 1, false, true
			}
		}
		return len(v), false, false
	case c == '?':
		return i + 2, false, i+1 < len(v) && (v[i+1] == '0' || v[i+1] == '1')
	case c == ':':
		for j := i + 1; j < len(v); j++ {
			if v[j] == ':' {
				return j + 1, false, true
			}
		}
		return len(v), false, false
	case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '*':
		j := i + 1
		for j < len(v) && (isTchar(v[j]) || v[j] == ':' || v[j] == '/') {
			j++
		}
		return j, false, true
	}
	return i, false, false
}

func skipSP(v []byte, i int) int {
	for i < len(v) && v[i] == ' ' {
		i++
	}
	return i
}

func skipOWS(v []byte, i int) int {
	for i < len(v) && (v[i] == ' ' || v[i] == '\t') {
		i++
	}
	return i
}
