package core

import (
	"bytes"
	"strconv"

	"github.com/fiber-caches/cache/internal/core/entry"
)

// The generation protocol: no stale answer after an acknowledged
// invalidation, on every backend.
//
// Four kinds of records decide whether a stored entry may answer:
//
//   - The path record (one per host and routed path) holds a generation:
//     a random 64-bit value, never reused, and the path's learnt Vary
//     names. A lookup that may lead to a store creates it, with a fresh
//     generation, when it is absent, before any handler runs. Invalidating
//     a path replaces the generation of its record with a fresh one, and
//     does nothing when there is none (nothing is stored, no handler runs).
//   - The namespace record (one per storage and key prefix) holds the epoch,
//     a random value that InvalidateAll replaces, and the tag sequence: a
//     number every invalidation of tags raises, so that it is higher than
//     any a lookup read before that invalidation began.
//   - A tag record (one per tag of the namespace; a route is a tag) holds
//     the sequence of the last invalidation of the tag (hard) and of the
//     last soft one (ExpireTags). An invalidation writes it whether or not
//     it exists; a store creates it when absent, at the sequence current
//     then, so a record that was lost (evicted) never brings back an entry
//     stored before it was written.
//   - An entry records the generation, the epoch and the sequence read by
//     the lookup before its handler ran, and its tags.
//
// An entry answers a request only while (valid): its generation and epoch
// are the current ones, and every one of its tags has a record whose hard
// sequence is not above the entry's. Whatever the order in which a store
// and an invalidation reach the storage, an entry whose handler started
// before the invalidation was acknowledged has a generation or a sequence
// that the invalidation made old: it is never served again, anywhere. An
// entry one of whose tags has a soft sequence above its own is stale
// (softExpired): served only under a stale window, while one refresh runs.
//
// Coalesced requests: a flight takes followers only until its handler
// returns, and the leader hands its entry on only if its store found it
// valid; an invalidation acknowledged before a follower arrived is
// therefore visible to the leader's store. A fleet follower (an instance
// waiting for another's run, lease.go) serves only what a lookup made
// after the lease was released finds valid, as a hit does, and its
// flight takes no follower after that lookup starts.
//
// How each backend keeps the sequence: the in-process store counts
// atomically; Redis raises it in a script on the namespace record, whose
// slot its tag records share, so that creating a record and reading the
// sequence are one atomic step there too; a plain fiber.Storage, which has
// no atomic operation, uses its clock (microseconds): a lookup's sequence
// is its clock less clockSkew, and an invalidation writes its own clock,
// so instances whose clocks agree within clockSkew keep the order.

// lookupResult is what a lookup found.
type lookupResult struct {
	gen     uint64   // the path's generation; 0 when unknown
	names   []string // the request headers the path's responses vary on
	epoch   uint64
	seq     uint64 // the namespace's tag sequence, as a new entry records it
	entry   *entry.Entry
	created bool // the path record was created by this lookup
	// tags holds the records of entry's tags, in the order of entry.Tags.
	tags [entry.MaxTags]tagState
}

// tagState is what a lookup read of one tag record.
type tagState struct {
	hard, soft uint64
	ok         bool // the record exists (a missing one invalidates)
}

// valid reports whether e may answer a request whose lookup found res: its
// generation, epoch and tags current, and not past KeepUntil.
func (res *lookupResult) valid(e *entry.Entry, now int64) bool {
	if e == nil || res.gen == 0 || e.Gen != res.gen || e.Epoch != res.epoch || now >= e.KeepUntil {
		return false
	}
	return tagsValid(e, &res.tags)
}

// tagsValid reports whether every tag of e has a record in st that no
// invalidation made after e's lookup has written.
func tagsValid(e *entry.Entry, st *[entry.MaxTags]tagState) bool {
	for i := range e.Tags {
		if !st[i].ok || st[i].hard > e.Seq {
			return false
		}
	}
	return true
}

// softExpired reports whether a tag of e was made stale (ExpireTags) after
// e's lookup.
func (res *lookupResult) softExpired(e *entry.Entry) bool {
	for i := range e.Tags {
		if res.tags[i].soft > e.Seq {
			return true
		}
	}
	return false
}

// appendTagRecord appends the stored form of a tag record: its hard and
// soft sequences in decimal, "hard:soft" (the Redis scripts read and write
// the same form).
func appendTagRecord(b []byte, st tagState) []byte {
	b = strconv.AppendUint(b, st.hard, 10)
	b = append(b, ':')
	return strconv.AppendUint(b, st.soft, 10)
}

// parseTagRecord parses a stored tag record; one that does not parse is
// absent (its entries are unusable), never zero.
func parseTagRecord(v []byte) tagState {
	i := bytes.IndexByte(v, ':')
	if i < 0 {
		return tagState{}
	}
	hard, ok1 := parseUint(v[:i])
	soft, ok2 := parseUint(v[i+1:])
	return tagState{hard: hard, soft: soft, ok: ok1 && ok2}
}

// parseUint parses a decimal number of at most 19 digits, without
// allocating.
func parseUint(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 19 {
		return 0, false
	}
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	return n, true
}
