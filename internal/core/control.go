package core

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fiber-caches/cache/internal/core/rfc"
	"github.com/valyala/fasthttp"
)

// Directive is one change that Control or PatchCacheControl makes to a
// response's Cache-Control header: a directive to add or replace, a
// max-age style bound, or a directive to remove.
//
// Build Directives with the constructors in this package (MaxAge, NoStore,
// Private, Drop, ...). The zero Directive changes nothing.
type Directive struct {
	op    ccOp
	name  string // lowercase directive name
	delta bool   // written with "=" and secs, e.g. "max-age=30"
	secs  int64  // the value of a delta directive, in seconds
}

type ccOp uint8

const (
	ccOpNone ccOp = iota // zero Directive: no-op
	ccOpSet              // add the directive, or replace an existing one in place
	ccOpMin              // like ccOpSet, but an existing smaller value wins
	ccOpDrop             // remove every occurrence of the directive
)

// Names of the response directives this package knows (RFC 9111 section
// 5.2.2, RFC 5861, RFC 8246). Known directives are written lowercase;
// other names are kept as they were received.
const (
	ccMaxAge               = "max-age"
	ccSMaxAge              = "s-maxage"
	ccStaleWhileRevalidate = "stale-while-revalidate"
	ccStaleIfError         = "stale-if-error"
	ccNoCache              = "no-cache"
	ccNoStore              = "no-store"
	ccNoTransform          = "no-transform"
	ccMustRevalidate       = "must-revalidate"
	ccProxyRevalidate      = "proxy-revalidate"
	ccMustUnderstand       = "must-understand"
	ccPrivate              = "private"
	ccPublic               = "public"
	ccImmutable            = "immutable"
)

var ccKnownNames = [...]string{
	ccMaxAge, ccSMaxAge, ccStaleWhileRevalidate, ccStaleIfError,
	ccNoCache, ccNoStore, ccNoTransform, ccMustRevalidate,
	ccProxyRevalidate, ccMustUnderstand, ccPrivate, ccPublic, ccImmutable,
}

// ccSeconds converts d to whole seconds, truncating; negative becomes 0.
func ccSeconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64(d / time.Second)
}

func ccFlag(name string) Directive {
	return Directive{op: ccOpSet, name: name}
}

func ccDelta(op ccOp, name string, d time.Duration) Directive {
	return Directive{op: op, name: name, delta: true, secs: ccSeconds(d)}
}

// appendTo writes the directive as it appears in a Cache-Control header.
func (d *Directive) appendTo(dst []byte) []byte {
	dst = append(dst, d.name...)
	if d.delta {
		dst = append(dst, '=')
		dst = strconv.AppendInt(dst, d.secs, 10)
	}
	return dst
}

// MaxAge sets max-age to d in whole seconds (truncated; negative is 0).
// When the response already has a max-age, the smaller of the two wins, so
// MaxAge only ever shortens what the handler advertised. An existing
// max-age whose value is not a number counts as 0, as RFC 9111 advises
// (invalid freshness information means stale), and is written max-age=0.
func MaxAge(d time.Duration) Directive { return ccDelta(ccOpMin, ccMaxAge, d) }

// SMaxAge sets s-maxage, the lifetime for shared caches (CDNs, proxies), to
// d in whole seconds. Like MaxAge, the smaller of an existing s-maxage and
// d wins, and a malformed existing s-maxage counts as 0.
func SMaxAge(d time.Duration) Directive { return ccDelta(ccOpMin, ccSMaxAge, d) }

// StaleWhileRevalidate sets stale-while-revalidate (RFC 5861) to d in whole
// seconds, replacing any existing value.
func StaleWhileRevalidate(d time.Duration) Directive {
	return ccDelta(ccOpSet, ccStaleWhileRevalidate, d)
}

// StaleIfError sets stale-if-error (RFC 5861) to d in whole seconds,
// replacing any existing value.
func StaleIfError(d time.Duration) Directive { return ccDelta(ccOpSet, ccStaleIfError, d) }

// NoCache adds no-cache: caches must revalidate the response with the
// origin before every reuse. A qualified no-cache="..." on the response is
// replaced by the unqualified form. cache.New stores a no-cache response
// only when it has a validator of its handler's (ETag or Last-Modified),
// and then asks the handler, conditionally, on every use. To cache on the
// server while browsers revalidate, use WithClientTTL(0) instead.
func NoCache() Directive { return ccFlag(ccNoCache) }

// NoStore adds no-store: no cache may keep any part of the response.
func NoStore() Directive { return ccFlag(ccNoStore) }

// NoTransform adds no-transform: intermediaries must not alter the content
// (recompress images, minify, ...).
func NoTransform() Directive { return ccFlag(ccNoTransform) }

// MustRevalidate adds must-revalidate: once stale, the response must not be
// reused without successful revalidation.
func MustRevalidate() Directive { return ccFlag(ccMustRevalidate) }

// ProxyRevalidate adds proxy-revalidate: must-revalidate for shared caches
// only.
func ProxyRevalidate() Directive { return ccFlag(ccProxyRevalidate) }

// MustUnderstand adds must-understand: caches store the response only if
// they understand the requirements of its status code.
func MustUnderstand() Directive { return ccFlag(ccMustUnderstand) }

// Private adds private: only the user's own (browser) cache may keep the
// response, shared caches such as CDNs and proxies must not. Use it for
// per-user content. It replaces an existing public in place. Passing both
// Private and Public to Control panics.
func Private() Directive { return ccFlag(ccPrivate) }

// Public adds public: any cache, shared ones included, may keep the
// response. It replaces an existing private in place. Passing both Private
// and Public to Control panics.
func Public() Directive { return ccFlag(ccPublic) }

// Immutable adds immutable (RFC 8246): the response will not change while
// fresh, so clients need not revalidate it on reload.
func Immutable() Directive { return ccFlag(ccImmutable) }

// Drop removes every occurrence of the named directive from the response,
// with or without a value, e.g. Drop("must-revalidate") or
// Drop("x-custom"). The name is matched case-insensitively. Drop panics if
// name is not a valid directive name (an HTTP token).
func Drop(name string) Directive {
	n := strings.TrimSpace(name)
	if !ccIsToken(n) {
		panic(fmt.Sprintf("cache.Drop: invalid directive name %q", name))
	}
	return Directive{op: ccOpDrop, name: strings.ToLower(n)}
}

// Control returns a handler for a route or group that, after the rest of
// the chain ran, patches the response's Cache-Control header with
// directives, applied in order:
//
//   - directives the handler set are kept, in their order; Control adds to
//     them rather than replacing the header;
//   - a directive that is already there is replaced in place;
//   - MaxAge and SMaxAge keep the smaller of the existing and given value;
//   - Private replaces public and Public replaces private;
//   - Drop removes a directive.
//
// The patched header is written as a single line, directives joined by
// ", ". Known directive names are written lowercase; unknown (extension)
// directives and values such as no-cache="Set-Cookie" are kept as
// received. A malformed header is kept as far as it can be parsed; it
// never causes a panic or an error response.
//
// If the rest of the chain returns an error, Control returns it unchanged
// and does not touch the header. Responses made uncacheable by Never are
// left alone too, wherever Never is in the chain.
//
// Control never stores anything itself; it works with or without New.
// Under New, place Control after New (on the route or group) so that New
// stores the patched response; a Control in front of New changes what
// clients see, hits included, but not what New stores.
//
// Control panics if directives contain both Private and Public.
//
//	app.Get("/news", cache.Control(cache.MaxAge(time.Minute), cache.Public()), handler)
func Control(directives ...Directive) func(c Ctx) error {
	ccValidate("cache.Control", directives)
	ds := append([]Directive(nil), directives...) // the caller may reuse the slice
	return func(c Ctx) error {
		if err := c.Next(); err != nil {
			return err
		}
		if c.Locals(controlNeverKey{}) != nil {
			return nil // Never has the last word
		}
		ccPatch(&c.Response().Header, ds)
		return nil
	}
}

// PatchCacheControl applies directives to the Cache-Control header of h
// exactly as Control does after its handler ran, so that other middleware
// can reuse the patching. Multiple Cache-Control lines are treated as one
// comma-joined list and written back as a single line; when no directive
// is left the header is removed.
//
// PatchCacheControl panics if directives contain both Private and Public.
func PatchCacheControl(h *fasthttp.ResponseHeader, directives ...Directive) {
	ccValidate("cache.PatchCacheControl", directives)
	ccPatch(h, directives)
}

// ccValidate panics, naming fn, if directives contain both Private and
// Public.
func ccValidate(fn string, directives []Directive) {
	var private, public bool
	for _, d := range directives {
		if d.op == ccOpSet {
			private = private || d.name == ccPrivate
			public = public || d.name == ccPublic
		}
	}
	if private && public {
		panic(fn + ": Private() and Public() are mutually exclusive; use one")
	}
}

// ccDirective is one element of a Cache-Control field value as received.
// All slices alias the parsed input.
type ccDirective struct {
	raw      []byte // the element without surrounding whitespace
	name     []byte // the name as received, whitespace-trimmed
	value    []byte // the value as received (quotes kept), whitespace-trimmed
	hasValue bool   // the element contains '='
	open     bool   // the element ends inside an unterminated quoted string
}

// ccParse appends the directives of the Cache-Control field value v to dst
// and returns the extended slice. Elements are split at commas outside
// quoted strings (backslash escapes honoured); empty elements are skipped.
// Nothing is rejected: malformed elements are returned as they are, and
// only the last element can be open (see ccDirective.open). The returned
// slices alias v.
func ccParse(dst []ccDirective, v []byte) []ccDirective {
	start, eq := 0, -1
	inQuote, escaped := false, false
	for i := 0; i <= len(v); i++ {
		if i < len(v) {
			b := v[i]
			switch {
			case escaped:
				escaped = false
				continue
			case inQuote:
				switch b {
				case '\\':
					escaped = true
				case '"':
					inQuote = false
				}
				continue
			case b == '"':
				inQuote = true
				continue
			case b == '=':
				if eq < 0 {
					eq = i
				}
				continue
			case b != ',':
				continue
			}
		}
		// End of an element: v[start:i].
		if d, ok := ccElement(v[start:i], eq-start, inQuote); ok {
			dst = append(dst, d)
		}
		start, eq = i+1, -1
	}
	return dst
}

// ccElement builds a ccDirective from one list element; eq is the index of
// the first '=' in elem, or negative.
func ccElement(elem []byte, eq int, open bool) (ccDirective, bool) {
	raw := rfc.TrimOWS(elem)
	if len(raw) == 0 {
		return ccDirective{}, false
	}
	d := ccDirective{raw: raw, name: raw, open: open}
	if eq >= 0 {
		d.name = rfc.TrimOWS(elem[:eq])
		d.value = rfc.TrimOWS(elem[eq+1:])
		d.hasValue = true
	}
	return d, true
}

// ccDeltaSeconds parses a delta-seconds value (optionally quoted, as
// recipients must accept), saturating at math.MaxInt64.
func ccDeltaSeconds(v []byte) (int64, bool) {
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		v = v[1 : len(v)-1]
	}
	if len(v) == 0 {
		return 0, false
	}
	var n int64
	for _, b := range v {
		if b < '0' || b > '9' {
			return 0, false
		}
		d := int64(b - '0')
		if n > (math.MaxInt64-d)/10 {
			n = math.MaxInt64
			continue
		}
		n = n*10 + d
	}
	return n, true
}

// ccKnown returns the canonical name of a known directive, or "".
func ccKnown(name []byte) string {
	for _, k := range ccKnownNames {
		if rfc.EqualFold(name, k) {
			return k
		}
	}
	return ""
}

// ccIsToken reports whether s is a non-empty HTTP token (RFC 9110 5.6.2).
func ccIsToken(s string) bool {
	if s == "" {
		return false
	}
	for i := range len(s) {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// ccItem is a directive in the list being patched: either one parsed from
// the response or one added by a Directive (syn.op != ccOpNone).
type ccItem struct {
	ccDirective
	known   string    // canonical name when known, "" otherwise
	syn     Directive // the Directive that produced this item, if any
	deleted bool
}

func (it *ccItem) is(name string) bool {
	if it.deleted {
		return false
	}
	if it.syn.op != ccOpNone {
		return it.syn.name == name
	}
	if it.known != "" {
		return it.known == name
	}
	return rfc.EqualFold(it.name, name)
}

// seconds returns the delta-seconds value of the item, if it has a valid one.
func (it *ccItem) seconds() (int64, bool) {
	if it.syn.op != ccOpNone {
		return it.syn.secs, true
	}
	if !it.hasValue {
		return 0, false
	}
	return ccDeltaSeconds(it.value)
}

func (it *ccItem) appendTo(dst []byte) []byte {
	switch {
	case it.syn.op != ccOpNone:
		return it.syn.appendTo(dst)
	case it.known != "":
		dst = append(dst, it.known...)
		if it.hasValue {
			dst = append(dst, '=')
			dst = append(dst, it.value...)
		}
		return dst
	default:
		return append(dst, it.raw...)
	}
}

// ccState holds the scratch buffers of one patch; pooled.
type ccState struct {
	values [][]byte
	joined []byte
	parsed []ccDirective
	items  []ccItem
	out    []byte
}

var ccPool = sync.Pool{New: func() any { return new(ccState) }}

func (s *ccState) reset() {
	clear(s.values)
	clear(s.parsed)
	clear(s.items)
	s.values, s.parsed, s.items = s.values[:0], s.parsed[:0], s.items[:0]
	s.joined, s.out = s.joined[:0], s.out[:0]
}

// ccPatch applies compiled directives to the Cache-Control header of h.
func ccPatch(h *fasthttp.ResponseHeader, ds []Directive) {
	s := ccPool.Get().(*ccState)
	defer func() {
		s.reset()
		ccPool.Put(s)
	}()

	// Collect every Cache-Control line. VisitAll also finds lines whose key
	// is not canonically spelled (header normalizing disabled).
	h.VisitAll(func(k, v []byte) {
		if rfc.EqualFold(k, "cache-control") {
			s.values = append(s.values, v)
		}
	})
	if len(s.values) == 0 && len(ds) == 0 {
		return
	}

	// Treat several lines as one comma-joined list.
	var v []byte
	switch len(s.values) {
	case 0:
	case 1:
		v = s.values[0]
	default:
		for i, line := range s.values {
			if i > 0 {
				s.joined = append(s.joined, ", "...)
			}
			s.joined = append(s.joined, line...)
		}
		v = s.joined
	}

	s.parsed = ccParse(s.parsed, v)
	for _, d := range s.parsed {
		s.items = append(s.items, ccItem{ccDirective: d, known: ccKnown(d.name)})
	}
	for _, d := range ds {
		s.items = ccApply(s.items, d)
	}

	// Write out. An element with an unterminated quoted string can only be
	// the last parsed one; it stays last so that it cannot swallow the
	// directives added after it.
	var open *ccItem
	for i := range s.items {
		it := &s.items[i]
		if it.deleted {
			continue
		}
		if it.open && it.syn.op == ccOpNone {
			open = it
			continue
		}
		if len(s.out) > 0 {
			s.out = append(s.out, ", "...)
		}
		s.out = it.appendTo(s.out)
	}
	if open != nil {
		if len(s.out) > 0 {
			s.out = append(s.out, ", "...)
		}
		s.out = open.appendTo(s.out)
	}

	// s.out no longer aliases the header, so it is safe to modify h now.
	// Set alone would only replace the first of several lines, spelled as
	// given.
	delLines(h, isCacheControl)
	if len(s.out) > 0 {
		h.SetBytesV(fasthttp.HeaderCacheControl, s.out)
	}
}

// isCacheControl reports whether k names Cache-Control, in any case.
func isCacheControl(k []byte) bool { return rfc.EqualFold(k, "cache-control") }

// ccApply applies one directive to items.
func ccApply(items []ccItem, d Directive) []ccItem {
	switch d.op {
	case ccOpNone:
		return items

	case ccOpDrop:
		for i := range items {
			if items[i].is(d.name) {
				items[i].deleted = true
			}
		}
		return items

	case ccOpMin:
		// An existing value that is not a number counts as 0 (RFC 9111
		// section 4.2.1: invalid freshness information means stale).
		first, best := -1, -1
		var bestSecs int64
		for i := range items {
			if !items[i].is(d.name) {
				continue
			}
			if first < 0 {
				first = i
			}
			n, ok := items[i].seconds()
			if !ok {
				n = 0
			}
			if best < 0 || n < bestSecs || n == bestSecs && ok {
				best, bestSecs = i, n
			}
		}
		if first < 0 {
			return append(items, ccItem{syn: d})
		}
		var keep ccItem
		switch {
		case bestSecs > d.secs:
			keep = ccItem{syn: d}
		case bestSecs == 0:
			if _, ok := items[best].seconds(); ok {
				keep = items[best]
			} else {
				keep = ccItem{syn: Directive{op: ccOpMin, name: d.name, delta: true}}
			}
		default:
			keep = items[best]
		}
		for i := range items {
			if items[i].is(d.name) {
				items[i].deleted = true
			}
		}
		items[first] = keep
		return items

	default: // ccOpSet
		// Private and Public replace each other.
		other := ""
		switch d.name {
		case ccPrivate:
			other = ccPublic
		case ccPublic:
			other = ccPrivate
		}
		first := -1
		for i := range items {
			if !items[i].is(d.name) && (other == "" || !items[i].is(other)) {
				continue
			}
			if first < 0 {
				first = i
			}
			items[i].deleted = true
		}
		if first < 0 {
			return append(items, ccItem{syn: d})
		}
		items[first] = ccItem{syn: d}
		return items
	}
}
