// Package entry defines what fibercache keeps in storage — stored
// responses and the per-path records that invalidation bumps — and the
// compact, versioned binary format they take in every fiber.Storage but
// the in-process default. It holds no caching policy.
package entry

import (
	"bytes"
	"math"
	"slices"
)

// Forever is the time (Unix nanoseconds) of an entry that never goes stale
// or may be kept forever.
const Forever = math.MaxInt64

// Header is one stored response header, its name as it is written out.
// First is set on the first occurrence of its name, so a replay can Set it
// and Add the others without searching.
type Header struct {
	Key   []byte
	Value []byte
	First bool
}

// MarkFirst sets First on the first occurrence of every name in hs, in
// time linear in len(hs) (without allocating for a few headers).
func MarkFirst(hs []Header) {
	if len(hs) <= 16 {
		for i := range hs {
			hs[i].First = true
			for j := range i {
				if bytes.Equal(hs[j].Key, hs[i].Key) {
					hs[i].First = false
					break
				}
			}
		}
		return
	}
	seen := make(map[string]struct{}, len(hs))
	for i := range hs {
		k := string(hs[i].Key)
		_, dup := seen[k]
		hs[i].First = !dup
		seen[k] = struct{}{}
	}
}

// Flags of an Entry.
const (
	FlagHead            uint8 = 1 << iota // stored from a HEAD request: never answers a GET
	FlagMustRevalidate                    // once stale, never served without revalidation
	FlagNoCache                           // always revalidated before use (no-cache)
	FlagAutoETag                          // the ETag was computed by the cache, not sent by the handler
	FlagProxyRevalidate                   // proxy-revalidate (or s-maxage): never served stale by a shared cache
	FlagRewritten                         // app mode rewrote Cache-Control, Expires and Vary for clients: Origin holds the handler's own lines
)

// Bounds on an entry's tags: how many (a hit reads each tag's record) and
// how long each may be.
const (
	MaxTags     = 32
	MaxTagBytes = 256
)

// Entry is one stored response.
//
// An entry answers a request only if Key equals the request's full key
// (so a hash collision can never serve another URL), Gen equals the
// generation of its path and Epoch that of its namespace, both as they are
// now: an invalidation changes them, so everything stored before it is
// unusable at once, wherever it is.
type Entry struct {
	Key   []byte // the request's full key material, verified on every hit
	Gen   uint64 // the path's generation when the handler started
	Epoch uint64 // the namespace's epoch when the handler started
	Flags uint8

	Status int
	// Stored is when the response was received (Unix ns). InitialAge is its
	// age then (RFC 9111 §4.2.3, corrected_initial_age); Age on a hit is
	// InitialAge plus the time since Stored.
	Stored     int64
	InitialAge int64
	// FreshUntil is when it goes stale; KeepUntil when it may be deleted
	// (FreshUntil plus the longest stale window). Forever: never.
	FreshUntil int64
	KeepUntil  int64
	// Stale windows past FreshUntil, in nanoseconds (RFC 5861); -1 when the
	// response names none (a configured grace then applies).
	StaleWhileRevalidate int64
	StaleIfError         int64

	ETag         []byte // aliases a Headers value; nil when none
	Encoding     []byte // the Content-Encoding value (aliases Headers); nil when none
	LastModified int64  // Unix ns; 0 when none

	// Origin holds the handler's own lines of the headers the app mode
	// rewrites for clients (Cache-Control, Expires, Vary), when
	// FlagRewritten is set: a revalidation rebuilds the response as the
	// handler sent it and admits it again, as it would a fresh one.
	Origin []Header
	// Tags are the entry's tags (surrogate keys), its route's among them:
	// an invalidation of any of them makes it unusable. Seq is the
	// namespace's tag sequence read before its handler ran: a tag
	// invalidated after that has a higher value in its record.
	Tags []string
	Seq  uint64
	// Delta is how long the handler took to produce it (ns), for the early
	// refresh of hot entries.
	Delta int64

	Headers []Header
	Body    []byte
}

// Head reports whether the entry was stored from a HEAD request.
func (e *Entry) Head() bool { return e.Flags&FlagHead != 0 }

// Age returns the entry's current age at now (RFC 9111 §4.2.3), in
// nanoseconds, never negative.
func (e *Entry) Age(now int64) int64 { return max(e.InitialAge+now-e.Stored, 0) }

// Lifetime returns the entry's freshness lifetime in nanoseconds;
// Forever when it never goes stale.
func (e *Entry) Lifetime() int64 {
	if e.FreshUntil == Forever {
		return Forever
	}
	return e.FreshUntil - e.Stored + e.InitialAge
}

// Weight estimates the bytes the entry holds in memory, overheads included;
// the in-process store bounds the sum of the weights.
func (e *Entry) Weight() uint32 {
	const (
		fixed     = 384 // Entry struct, otter node, map slot, slice headers
		perHeader = 56  // Header struct
	)
	n := fixed + len(e.Key) + len(e.Body) + len(e.ETag)
	for _, h := range e.Headers {
		n += perHeader + len(h.Key) + len(h.Value)
	}
	for _, h := range e.Origin {
		n += perHeader + len(h.Key) + len(h.Value)
	}
	for _, t := range e.Tags {
		n += 16 + len(t)
	}
	return uint32(min(n, 1<<31))
}

// Path is the record of one URL path (all its queries, variants and
// methods): its generation, which an invalidation replaces with a fresh
// random value, and the request header names its responses vary on, learnt
// as their union.
type Path struct {
	Gen   uint64
	Names []string // lower-case, sorted
}

// UnionNames merges two sorted lists of Vary names into one, sorted and
// without duplicates. It returns a or b itself when the other is empty.
func UnionNames(a, b []string) []string {
	if len(b) == 0 {
		return a
	}
	if len(a) == 0 {
		return b
	}
	u := append(append(make([]string, 0, len(a)+len(b)), a...), b...)
	slices.Sort(u)
	return slices.Compact(u)
}
