package core

import (
	"fmt"
	"slices"
	"strings"

	"github.com/fiber-caches/cache/internal/core/entry"
	"github.com/fiber-caches/cache/internal/core/rfc"
	"github.com/valyala/fasthttp"
)

// Tags (surrogate keys) name groups of stored responses that one call
// invalidates: InvalidateTags("product:42") drops the product's page, the
// lists it appears in and the search results that show it, on every
// instance, in a constant number of storage operations whatever the number
// of entries (see generation.go for how).
//
// A response's tags are those given to Tag while its handler runs and those
// its Surrogate-Key header lists (space-separated, every line). Every
// stored response also carries the tag of its route, which InvalidateRoute
// with parameters missing invalidates.

// Bounds on a response's tags; a response past them is not stored.
const (
	// MaxTags is the most tags a response may carry (its route's aside).
	MaxTags = entry.MaxTags - 1
	// MaxTagLength is the longest tag, in bytes.
	MaxTagLength = entry.MaxTagBytes
)

// tagPrefix starts the tags the cache gives itself (routes'); a tag of the
// app's may not start with it.
const tagPrefix = "fc:"

// tagsKey holds, in Locals, the *tagList that Tag fills.
type tagsKey struct{}

// tagList is what Tag was given during one request.
type tagList struct {
	tags   []string
	bad    string // the first tag refused
	hasBad bool
}

// Tag attaches tags to the response being cached for c's request: any of
// them given to InvalidateTags (or ExpireTags) later invalidates it, on
// every instance. Call it in a handler, before or after writing the
// response. A tag is 1 to MaxTagLength bytes of visible characters (no
// space, comma or control character) and does not start with "fc:"; a
// response with a tag that is not, or with more than MaxTags, is served
// but not stored (Cache-Status detail=invalid_tags). Outside a cache, Tag
// does nothing.
//
//	app.Get("/products/:id", func(c *fiber.Ctx) error {
//		p := load(c.Params("id"))
//		cache.Tag(c, "product:"+p.ID, "category:"+p.Category)
//		return c.JSON(p)
//	})
func Tag(c Ctx, tags ...string) {
	l, _ := c.Locals(tagsKey{}).(*tagList)
	if l == nil {
		l = &tagList{}
		c.Locals(tagsKey{}, l)
	}
	for _, t := range tags {
		if !validUserTag(t) {
			if !l.hasBad {
				l.bad, l.hasBad = t, true
			}
			continue
		}
		l.tags = append(l.tags, t)
	}
}

// validUserTag reports whether t may be a tag of the app's.
func validUserTag(t string) bool {
	return entry.ValidTag(t) && !strings.HasPrefix(t, tagPrefix)
}

// responseTags returns the tags of the response in c: Tag's, the
// Surrogate-Key header's (every line, any spelling) and the route's (at
// routePath), sorted
// and without duplicates. It reports false when a tag is invalid or there
// are too many; bad then says which.
func responseTags(c Ctx, routePath string) (tags []string, bad string, ok bool) {
	if l, _ := c.Locals(tagsKey{}).(*tagList); l != nil {
		if l.hasBad {
			return nil, fmt.Sprintf("%q", l.bad), false
		}
		tags = append(tags, l.tags...)
	}
	c.Response().Header.VisitAll(func(k, v []byte) {
		if !rfc.EqualFold(k, "surrogate-key") {
			return
		}
		for _, f := range strings.Fields(string(v)) {
			if bad == "" && !validUserTag(f) {
				bad = fmt.Sprintf("%q", f)
			}
			tags = append(tags, f)
		}
	})
	if bad != "" {
		return nil, bad, false
	}
	tags = sortedUnique(tags)
	if len(tags) > MaxTags {
		return nil, fmt.Sprintf("%d tags (at most %d)", len(tags), MaxTags), false
	}
	if routePath != "" {
		tags = append(tags, routeTag(routePath))
	}
	return tags, "", true
}

// routeTag is the tag of every response of the route whose path (as
// registered, group prefix included) is path.
func routeTag(path string) string {
	var b strings.Builder
	b.WriteString(tagPrefix + "route:")
	for i := 0; i < len(path) && b.Len() < MaxTagLength-3; i++ {
		switch ch := path[i]; {
		case ch <= ' ', ch == 0x7f, ch == ',', ch == '%':
			fmt.Fprintf(&b, "%%%02X", ch)
		default:
			b.WriteByte(ch)
		}
	}
	return b.String()
}

// sortedUnique sorts tags and removes duplicates, in place.
func sortedUnique(tags []string) []string {
	if len(tags) < 2 {
		return tags
	}
	slices.Sort(tags)
	out := tags[:1]
	for _, t := range tags[1:] {
		if t != out[len(out)-1] {
			out = append(out, t)
		}
	}
	return out
}

// writeSurrogateKey makes the response's Surrogate-Key list its tags (the
// app's: Tag's and the header's, not the route's), for a CDN in front of
// the app that purges by them (WithSurrogateKeyHeader).
func writeSurrogateKey(h *fasthttp.ResponseHeader, tags []string) {
	controlDelHeader(h, "Surrogate-Key")
	var b []byte
	for _, t := range tags {
		if strings.HasPrefix(t, tagPrefix) {
			continue
		}
		if len(b) > 0 {
			b = append(b, ' ')
		}
		b = append(b, t...)
	}
	if len(b) > 0 {
		h.SetBytesV("Surrogate-Key", b)
	}
}
