package core

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// Filling a Fiber route template: InvalidateRoute names a URL by its route
// and parameters, and the cache keys requests by the path the router
// matches (c.Path()). The path a route names must be the one a client's
// request for it is keyed under, so a value is read as c.Params returns
// it:
//
//   - without UnescapePath, c.Params returns the segment as the client sent
//     it. A value is spelt as clients send it (spellPath): pchar bytes as
//     they are, a valid %XX as it is (so c.Params("id") names the URL it
//     came from), every other byte percent-encoded (so "café" names what
//     browsers request, caf%C3%A9). Bytes some clients send raw and others
//     encoded ([ ] ^ ` { | } and a '%' that starts no %XX) give two paths.
//   - with UnescapePath, c.Params returns the decoded segment: a value is
//     taken as it is ("a+b" is what a client reaches with a%2Bb; "100%",
//     with 100%25), and the path is the decoded one.
//
// Every path filled is then routed by Fiber's own router, in an app of its
// own holding the route alone, with the app's routing options: it must
// give every value back, as c.Params would, or the call is an error. So a
// value that the route would cut short, or that breaks a constraint, never
// invalidates another URL.

// routePaths resolves the route app registered as name and fills its
// parameters: it returns the paths (as c.Path() shows them) the route
// names, or whole when a required parameter is missing, so that the
// route's every URL is meant. An unknown name, a parameter name the route
// does not have, and a value that cannot be that parameter are errors.
func routePaths(app App, a *appInfo, name string, params map[string]any) (paths []string, routePath string, whole bool, err error) {
	if name == "" {
		return nil, "", false, errors.New("fibercache: InvalidateRoute: the route name is empty; pass the name given to the route with .Name(...); nothing was invalidated")
	}
	routePath, ok := app.Route(name)
	if !ok {
		return nil, "", false, unknownRoute(app, name)
	}
	paths, missing, err := fillRoute(app, routePath, params, a)
	if err != nil {
		return nil, "", false, fmt.Errorf("fibercache: InvalidateRoute(%q): route %s: %w; nothing was invalidated", name, routePath, err)
	}
	return paths, routePath, len(missing) > 0, nil
}

// unknownRoute is the error for a route name app does not have: it names
// the routes whose names come close, a group's Name prefix first
// ("api.products" for "products").
func unknownRoute(app App, name string) error {
	names := app.RouteNames()
	msg := fmt.Sprintf("fibercache: InvalidateRoute: no route is named %q", name)
	if len(names) == 0 {
		return errors.New(msg + "; the app has no named route: name one with app.Get(path, handler).Name(name); nothing was invalidated")
	}
	if near := nearNames(name, names, 3); len(near) > 0 {
		quoted := make([]string, len(near))
		for i, n := range near {
			quoted[i] = strconv.Quote(n)
		}
		msg += "; did you mean " + strings.Join(quoted, " or ") + "?"
		if strings.HasSuffix(near[0], "."+name) {
			msg += " (a group's Name prefix is part of its routes' names)"
		}
		return errors.New(msg + " Nothing was invalidated")
	}
	return fmt.Errorf("%s among the app's %d route names (each as given to .Name, after its groups' Name prefixes); nothing was invalidated", msg, len(names))
}

// nearNames returns at most max of names that name may have meant, the
// closest first: one that ends in "."+name (a group's prefix), one equal
// but for case or a group prefix, then one a typo away (two, for a name
// of six bytes or more).
func nearNames(name string, names []string, max int) []string {
	type near struct {
		name string
		rank int
	}
	last := func(s string) string { return s[strings.LastIndexByte(s, '.')+1:] }
	var found []near
	for _, n := range names {
		rank := -1
		switch {
		case strings.HasSuffix(n, "."+name):
			rank = 0
		case strings.EqualFold(n, name):
			rank = 1
		case last(n) == last(name) || strings.HasSuffix(name, "."+n):
			rank = 2
		default:
			bound := 1 // a typo
			if len(name) >= 6 {
				bound = 2
			}
			if d := editDistance(strings.ToLower(n), strings.ToLower(name), bound); d <= bound {
				rank = 2 + d
			}
		}
		if rank >= 0 {
			found = append(found, near{n, rank})
		}
	}
	slices.SortStableFunc(found, func(a, b near) int { return a.rank - b.rank })
	out := make([]string, 0, max)
	for _, f := range found {
		if len(out) == max {
			break
		}
		out = append(out, f.name)
	}
	return out
}

// editDistance returns the Levenshtein distance of a and b, or bound+1
// when it is larger than bound.
func editDistance(a, b string, bound int) int {
	if d := len(a) - len(b); d > bound || -d > bound {
		return bound + 1
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		best := cur[0]
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			best = min(best, cur[j])
		}
		if best > bound {
			return bound + 1
		}
		prev, cur = cur, prev
	}
	return min(prev[len(b)], bound+1)
}

// A patternParam is one parameter of a route pattern.
type patternParam struct {
	name       string // as c.Params names it: "id", "*1", "+2"
	start, end int    // pattern[start:end]: the parameter, its constraint and '?'
	optional   bool   // ":id?" and "*"
	greedy     bool   // "*" and "+": the value may hold slashes
}

// parsePattern finds the parameters of a Fiber route pattern as Fiber's
// parser does: ":name" (ended by one of ? : \ / - . or a constraint
// "<...>"), optional ":name?", and the wildcards "*" and "+", numbered from
// 1 in their order. A byte after '\' is literal.
func parsePattern(p string) []patternParam {
	var out []patternParam
	var nWild, nPlus int
	for i := 0; i < len(p); i++ {
		if i > 0 && p[i-1] == '\\' {
			continue
		}
		switch c := p[i]; c {
		case '*', '+':
			n := &nWild
			if c == '+' {
				n = &nPlus
			}
			*n++
			out = append(out, patternParam{name: string(c) + strconv.Itoa(*n), start: i, end: i + 1, optional: c == '*', greedy: true})
		case ':':
			if i+1 < len(p) && strings.IndexByte(":*+", p[i+1]) >= 0 {
				continue // Fiber starts the parameter at the next one
			}
			j := i + 1
			for j < len(p) && strings.IndexByte("?:\\/-.<", p[j]) < 0 {
				j++
			}
			name := p[i+1 : j]
			if j < len(p) && p[j] == '<' {
				j = constraintEnd(p, j)
			}
			optional := j < len(p) && p[j] == '?'
			if optional {
				j++
			}
			out = append(out, patternParam{name: name, start: i, end: j, optional: optional})
			i = j - 1
		}
	}
	return out
}

// constraintEnd returns the index after the '>' that closes the parameter
// constraint opening at path[open], skipping escaped bytes and what is
// inside parentheses (a regex may hold '>').
func constraintEnd(path string, open int) int {
	depth := 0
	for j := open + 1; j < len(path); j++ {
		switch path[j] {
		case '\\':
			j++
		case '(':
			depth++
		case ')':
			if depth > 0 {
				depth--
			}
		case '>':
			if depth == 0 {
				return j + 1
			}
		}
	}
	return len(path)
}

// bindParams maps the keys of params to the route's parameter names as
// c.Params matches them ("*" is "*1", "+" is "+1"; another case matches
// unless the app is CaseSensitive) and returns the values by name, nil
// ones left out. A key the route has no parameter for is an error.
func bindParams(names []string, params map[string]any, caseSensitive bool) (map[string]string, error) {
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	slices.Sort(keys) // the same error for the same call
	values := make(map[string]string, len(params))
	boundBy := map[string]string{}
	for _, k := range keys {
		key := k
		if key == "*" || key == "+" {
			key += "1"
		}
		i := slices.IndexFunc(names, func(n string) bool {
			return n == key || !caseSensitive && asciiEqualFold(n, key) // as c.Params
		})
		if i < 0 {
			return nil, unknownParam(k, names, caseSensitive)
		}
		if other, ok := boundBy[names[i]]; ok {
			return nil, fmt.Errorf("the keys %q and %q both name its parameter %q; pass one", other, k, names[i])
		}
		boundBy[names[i]] = k
		if v, ok := paramString(params[k]); ok {
			values[names[i]] = v
		}
	}
	return values, nil
}

func unknownParam(key string, names []string, caseSensitive bool) error {
	if len(names) == 0 {
		return fmt.Errorf("it has no parameter, so not %q; pass nil params", key)
	}
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = strconv.Quote(n)
	}
	how := "case-insensitively, as c.Params does"
	if caseSensitive {
		how = "with their case, as c.Params does in a CaseSensitive app"
	}
	return fmt.Errorf("it has no parameter %q: its parameters are %s (matched %s; \"*\" and \"+\" are \"*1\" and \"+1\")", key, strings.Join(quoted, ", "), how)
}

// paramString returns v as a parameter value, and false for nil (a
// parameter not given).
func paramString(v any) (string, bool) {
	switch x := v.(type) {
	case nil:
		return "", false
	case string:
		return x, true
	case []byte:
		return string(x), true
	default:
		return fmt.Sprint(x), true
	}
}

// fillRoute fills the parameters of the route pattern with params for an
// app of a's routing options. It returns the paths the route names, as
// c.Path() shows a client's request for them (two when clients spell a
// value in two ways; with an omitted optional parameter, the path with and
// without the slash before it, when the router takes both), or the
// required parameters params lacks. See the top of this file for how a
// value is read.
func fillRoute(app App, pattern string, params map[string]any, a *appInfo) (paths, missing []string, err error) {
	r := app.NewRouter(pattern)
	occ := parsePattern(pattern)
	names := make([]string, len(occ))
	for i, p := range occ {
		names[i] = p.name
	}
	if !slices.Equal(names, r.Params()) {
		return nil, nil, fmt.Errorf("fibercache reads its parameters as %q, Fiber as %q: name the URL with InvalidateURL instead", names, r.Params())
	}
	values, err := bindParams(r.Params(), params, a.caseSensitive)
	if err != nil {
		return nil, nil, err
	}
	omitted := false
	for _, p := range occ {
		v, ok := values[p.name]
		switch {
		case !ok && !p.optional:
			if !slices.Contains(missing, p.name) {
				missing = append(missing, p.name)
			}
		case strings.ContainsAny(v, "\x00\r\n"):
			return nil, nil, fmt.Errorf("the value of %q (%q) holds a NUL, CR or LF byte, which InvalidateRoute refuses (a value read with its line end, most likely)", p.name, v)
		case !p.greedy && strings.Contains(v, "/"):
			return nil, nil, fmt.Errorf("the value of %q (%q) holds a '/', which ends a path segment: only a wildcard (* or +) takes one", p.name, v)
		case v == "" && !p.optional:
			return nil, nil, fmt.Errorf("the value of %q is empty: Fiber routes no empty value to it", p.name)
		case v == "":
			omitted = true
		}
	}
	if len(missing) > 0 {
		return nil, missing, nil
	}
	type candidate struct {
		lenient, dropSlash bool
	}
	cands := []candidate{{false, false}}
	if !a.unescape {
		for _, v := range values {
			if spellPath(v, true) != spellPath(v, false) { // clients spell it in two ways
				cands = append(cands, candidate{true, false})
				break
			}
		}
	}
	if omitted {
		for _, c := range cands {
			cands = append(cands, candidate{c.lenient, true})
		}
	}
	var firstErr error
	for _, c := range cands {
		filled, want := fillPattern(pattern, occ, values, a.unescape, c.lenient, c.dropSlash)
		if err := checkDotSegments(filled, a.unescape); err != nil {
			return nil, nil, err
		}
		target := filled
		if a.unescape {
			target = requestTarget(filled)
		}
		gotPath, gotParams, ok := r.Route(target)
		switch {
		case !ok:
			if firstErr == nil {
				firstErr = fmt.Errorf("Fiber routes no request for %q to it: a value breaks a constraint of its parameter, or holds what ends it in the route", target)
			}
		case !maps.Equal(gotParams, want):
			if firstErr == nil {
				firstErr = fmt.Errorf("Fiber routes %q to it with %s, not %s: a value holding what follows its parameter in the route is cut there", target, describeParams(r.Params(), gotParams), describeParams(r.Params(), want))
			}
		case !slices.Contains(paths, gotPath):
			paths = append(paths, gotPath)
		}
	}
	if len(paths) == 0 {
		return nil, nil, firstErr
	}
	return paths, nil, nil
}

// describeParams shows values as name="value", in the route's order.
func describeParams(names []string, values map[string]string) string {
	parts := make([]string, 0, len(names))
	for _, n := range names {
		parts = append(parts, n+"="+strconv.Quote(values[n]))
	}
	return strings.Join(parts, ", ")
}

// fillPattern writes pattern with its parameters occ replaced by values:
// spelt as clients send them (with lenient, lenientBytes raw), or as they
// are with unescape. With dropSlash, the '/' before an omitted optional
// parameter goes too. It returns the path and the value c.Params must give
// for each parameter name.
func fillPattern(pattern string, occ []patternParam, values map[string]string, unescape, lenient, dropSlash bool) (string, map[string]string) {
	var b []byte
	want := make(map[string]string, len(occ))
	constant := func(s string) {
		b = append(b, strings.ReplaceAll(s, "\\", "")...) // as Fiber's RemoveEscapeChar
	}
	at := 0
	for _, p := range occ {
		constant(pattern[at:p.start])
		at = p.end
		v := values[p.name]
		if !unescape {
			v = spellPath(v, lenient)
		}
		if _, seen := want[p.name]; !seen {
			want[p.name] = v
		}
		if v == "" && dropSlash && len(b) > 1 && b[len(b)-1] == '/' {
			b = b[:len(b)-1]
		}
		b = append(b, v...)
	}
	constant(pattern[at:])
	return string(b), want
}

// checkDotSegments refuses a path with a "." or ".." segment (spelt %2E
// too, without unescape): clients resolve those away before sending
// (RFC 3986 §5.2.4; browsers read %2E as '.'), so no request is keyed so.
func checkDotSegments(path string, unescape bool) error {
	for _, seg := range strings.Split(path, "/") {
		dots := seg
		if !unescape {
			dots = strings.ReplaceAll(strings.ReplaceAll(seg, "%2E", "."), "%2e", ".")
		}
		if dots == "." || dots == ".." {
			return fmt.Errorf("the path %q has the segment %q, which clients resolve away before sending (RFC 3986 §5.2.4): no request is named by it", path, seg)
		}
	}
	return nil
}

// asciiEqualFold reports whether a and b are equal, ASCII letters
// compared case-insensitively (as Fiber compares parameter names).
func asciiEqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
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
