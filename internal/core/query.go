package core

import (
	"bytes"
	"slices"

	"github.com/valyala/fasthttp"
)

// appendQuery appends the query string q as the key sees it: without the
// parameters WithQueryIgnore names, sorted with WithQuerySort, else as
// sent.
func (m *Cache) appendQuery(b, q []byte) []byte {
	if len(m.cfg.queryIgnore) == 0 && !m.cfg.querySort {
		return append(b, q...)
	}
	// Names are compared as the handler reads them, decoded: "a%20b" and
	// "a+b" are one name, whose parameters keep their order.
	type param struct{ raw, name []byte }
	var stack [32]param
	var decoded [512]byte
	params, names := stack[:0], decoded[:0]
	for len(q) > 0 {
		var p []byte
		p, q, _ = bytes.Cut(q, []byte{'&'})
		if len(p) == 0 {
			continue
		}
		name, _, _ := bytes.Cut(p, []byte{'='})
		if bytes.ContainsAny(name, "%+") {
			start := len(names)
			names = fasthttp.AppendUnquotedArg(names, name)
			name = names[start:len(names):len(names)]
		}
		if m.ignoredParam(name) {
			continue
		}
		params = append(params, param{p, name})
	}
	if m.cfg.querySort {
		slices.SortStableFunc(params, func(x, y param) int { return bytes.Compare(x.name, y.name) })
	}
	for i, p := range params {
		if i > 0 {
			b = append(b, '&')
		}
		b = append(b, p.raw...)
	}
	return b
}

// ignoredParam reports whether the decoded name of a query parameter
// matches one of WithQueryIgnore's patterns.
func (m *Cache) ignoredParam(name []byte) bool {
	for _, pat := range m.cfg.queryIgnore {
		if globMatch(pat, name) {
			return true
		}
	}
	return false
}

// globMatch reports whether name matches pattern, where '*' stands for any
// run of bytes and '?' for one byte; everything else matches itself.
func globMatch(pattern string, name []byte) bool {
	px, nx := 0, 0
	starP, starN := -1, 0
	for nx < len(name) {
		switch {
		case px < len(pattern) && pattern[px] == '*':
			starP, starN = px, nx
			px++
		case px < len(pattern) && (pattern[px] == '?' || pattern[px] == name[nx]):
			px++
			nx++
		case starP >= 0:
			starN++
			px, nx = starP+1, starN
		default:
			return false
		}
	}
	for px < len(pattern) && pattern[px] == '*' {
		px++
	}
	return px == len(pattern)
}
