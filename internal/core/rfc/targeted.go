package rfc

import "time"

// ParseTargeted parses a targeted cache-control field such as
// CDN-Cache-Control (RFC 9213) into d, which the caller starts with
// NewResponseDirectives. The field is a Structured Field Dictionary
// (RFC 8941 §3.2): when it is not one, or a directive this package knows
// has a value of the wrong type (max-age="60"), the whole field is
// invalid, ParseTargeted returns false, and the cache ignores it and uses
// Cache-Control (RFC 9213 §2.1). Unknown members are ignored; of a member
// given twice, the last counts (§4.2.2). It does not allocate.
func ParseTargeted(d *ResponseDirectives, v []byte) bool {
	var last [len(targetedDirectives)]struct {
		val  []byte
		kind sfKind
		seen bool
	}
	i := skipSP(v, 0) // §4.2: leading SP is discarded
	for i < len(v) {
		// §4.2.2: a member is a key, then "=" and an item or inner list,
		// or parameters alone (the value true).
		start := i
		if !sfKeyStart(v[i]) {
			return false
		}
		for i < len(v) && sfKeyChar(v[i]) {
			i++
		}
		key := v[start:i]
		var val []byte
		kind := sfBoolean
		if i < len(v) && v[i] == '=' {
			i++
			vs := i
			var ok bool
			if i < len(v) && v[i] == '(' {
				i, ok = sfInnerList(v, i)
				kind = sfOther
			} else {
				i, kind, ok = sfBareItem(v, i)
			}
			if !ok {
				return false
			}
			val = v[vs:i]
		}
		var ok bool
		if i, ok = sfParameters(v, i); !ok {
			return false
		}
		for n, name := range targetedDirectives {
			if string(key) == name {
				last[n].val, last[n].kind, last[n].seen = val, kind, true
			}
		}
		i = skipOWS(v, i)
		if i == len(v) {
			break
		}
		if v[i] != ',' {
			return false
		}
		i = skipOWS(v, i+1)
		if i == len(v) {
			return false // a trailing comma
		}
	}
	for n, m := range last {
		if m.seen && !applyTargeted(d, targetedDirectives[n], m.val, m.kind) {
			return false
		}
	}
	return true
}

// targetedDirectives are the members ParseTargeted reads.
var targetedDirectives = [...]string{
	"max-age", "stale-while-revalidate", "stale-if-error", "no-store", "no-cache",
	"private", "public", "must-revalidate", "proxy-revalidate",
}

// sfKind is the type of a bare item, as far as the directives care.
type sfKind uint8

const (
	sfOther   sfKind = iota // a decimal, string, token, byte sequence or inner list
	sfInteger               // §3.3.1
	sfBoolean               // §3.3.6, or a member without a value
)

// applyTargeted applies one dictionary member; it reports false for a
// known directive whose value has the wrong type.
func applyTargeted(d *ResponseDirectives, key string, val []byte, kind sfKind) bool {
	flag := func(p *bool) bool {
		if kind != sfBoolean {
			return false
		}
		*p = val == nil || val[1] == '1'
		return true
	}
	delta := func(p *time.Duration) bool {
		if kind != sfInteger || val[0] == '-' {
			return false
		}
		n, _ := ParseDeltaSeconds(val)
		*p = n
		return true
	}
	switch key {
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

// sfKeyStart and sfKeyChar are the first and the other characters of a
// key (RFC 8941 §3.1.2).
func sfKeyStart(c byte) bool { return c >= 'a' && c <= 'z' || c == '*' }

func sfKeyChar(c byte) bool {
	return sfKeyStart(c) || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.'
}

// sfParameters skips the parameters at v[i:] (§3.1.2, §4.2.3.2): each a
// ";", SP, a key and optionally "=" and a bare item.
func sfParameters(v []byte, i int) (end int, ok bool) {
	for i < len(v) && v[i] == ';' {
		i = skipSP(v, i+1)
		if i == len(v) || !sfKeyStart(v[i]) {
			return i, false
		}
		for i < len(v) && sfKeyChar(v[i]) {
			i++
		}
		if i < len(v) && v[i] == '=' {
			if i, _, ok = sfBareItem(v, i+1); !ok {
				return i, false
			}
		}
	}
	return i, true
}

// sfInnerList skips the inner list at v[i:], v[i] being "(" (§3.1.1,
// §4.2.1.2): items separated by SP, each with parameters, up to ")".
// The list's own parameters are left to the caller.
func sfInnerList(v []byte, i int) (end int, ok bool) {
	i++
	for {
		i = skipSP(v, i)
		if i == len(v) {
			return i, false
		}
		if v[i] == ')' {
			return i + 1, true
		}
		if i, _, ok = sfBareItem(v, i); !ok {
			return i, false
		}
		if i, ok = sfParameters(v, i); !ok {
			return i, false
		}
		if i == len(v) || v[i] != ' ' && v[i] != ')' {
			return i, false
		}
	}
}

// sfBareItem skips one bare item (RFC 8941 §3.3) at v[i:]: an integer or
// decimal, a string, a token, a byte sequence or a boolean.
func sfBareItem(v []byte, i int) (end int, kind sfKind, ok bool) {
	if i >= len(v) {
		return i, sfOther, false
	}
	switch c := v[i]; {
	case c == '-' || c >= '0' && c <= '9':
		// §3.3.1, §3.3.2: an integer has 1 to 15 digits; a decimal 1 to 12,
		// a dot, then 1 to 3.
		j := i
		if c == '-' {
			j++
		}
		intDigits, fracDigits, dot := 0, 0, false
		for ; j < len(v); j++ {
			if b := v[j]; b >= '0' && b <= '9' {
				if dot {
					fracDigits++
				} else {
					intDigits++
				}
			} else if b == '.' && !dot && intDigits > 0 {
				dot = true
			} else {
				break
			}
		}
		if dot {
			return j, sfOther, intDigits <= 12 && fracDigits >= 1 && fracDigits <= 3
		}
		return j, sfInteger, intDigits >= 1 && intDigits <= 15
	case c == '"': // §3.3.3: printable ASCII; only \" and \\ escaped
		for j := i + 1; j < len(v); j++ {
			switch b := v[j]; {
			case b == '\\':
				if j+1 == len(v) || v[j+1] != '"' && v[j+1] != '\\' {
					return j, sfOther, false
				}
				j++
			case b == '"':
				return j + 1, sfOther, true
			case b < 0x20 || b > 0x7e:
				return j, sfOther, false
			}
		}
		return len(v), sfOther, false
	case c == '?': // §3.3.6
		if i+1 < len(v) && (v[i+1] == '0' || v[i+1] == '1') {
			return i + 2, sfBoolean, true
		}
		return i, sfOther, false
	case c == ':': // §3.3.5: base64 between colons
		for j := i + 1; j < len(v); j++ {
			switch b := v[j]; {
			case b == ':':
				return j + 1, sfOther, true
			case !(b >= 'A' && b <= 'Z' || b >= 'a' && b <= 'z' || b >= '0' && b <= '9' || b == '+' || b == '/' || b == '='):
				return j, sfOther, false
			}
		}
		return len(v), sfOther, false
	case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '*': // §3.3.4
		j := i + 1
		for j < len(v) && (isTchar(v[j]) || v[j] == ':' || v[j] == '/') {
			j++
		}
		return j, sfOther, true
	}
	return i, sfOther, false
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
