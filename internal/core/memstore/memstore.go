// Package memstore is fibercache's default in-process store: a
// weight-bounded otter cache of decoded entries and path records, so a hit
// neither encodes nor decodes anything. It reads no clock: freshness is
// the caller's business, and an entry past its KeepUntil is dropped when
// it is read.
package memstore

import (
	"bytes"
	"fmt"
	"hash/maphash"
	"math/rand/v2"
	"slices"
	"sync/atomic"

	"github.com/fiber-caches/cache/internal/core/entry"
	"github.com/maypok86/otter/v2"
)

// Path is the in-process record of one URL path. Its generation only ever
// changes to a fresh random value, so an entry stored under an older one
// can never become usable again.
type Path struct {
	key   []byte
	gen   atomic.Uint64
	names atomic.Pointer[[]string]
}

// Gen returns the path's current generation.
func (p *Path) Gen() uint64 { return p.gen.Load() }

// Names returns the request header names the path's responses vary on.
func (p *Path) Names() []string {
	if n := p.names.Load(); n != nil {
		return *n
	}
	return nil
}

// AddNames makes the path's names the union of what they are and names
// (sorted, lower case).
func (p *Path) AddNames(names []string) {
	for {
		old := p.names.Load()
		var cur []string
		if old != nil {
			cur = *old
		}
		if subset(names, cur) {
			return // the usual case: nothing new, nothing allocated
		}
		u := entry.UnionNames(cur, names)
		if p.names.CompareAndSwap(old, &u) {
			return
		}
	}
}

// subset reports whether every name of a is in b.
func subset(a, b []string) bool {
	for _, n := range a {
		if !slices.Contains(b, n) {
			return false
		}
	}
	return true
}

// value is what the otter cache holds: a *Path or an *entry.Entry.
type value interface{ weight() uint32 }

type pathValue struct{ *Path }

func (p pathValue) weight() uint32 { return uint32(96 + len(p.key)) }

// entryValue is a stored entry with the records of its tags, resolved when
// it was stored.
type entryValue struct {
	*entry.Entry
	tags []*Tag
}

func (e entryValue) weight() uint32 { return e.Weight() + uint32(8*len(e.tags)) }

// Store holds path records and decoded entries, bounded by their estimated
// weight in bytes. It is safe for concurrent use.
type Store struct {
	c       *otter.Cache[uint64, value]
	seed    maphash.Seed
	tagSeed maphash.Seed
	epoch   atomic.Uint64
	seq     atomic.Uint64 // the tag sequence (tags.go)
}

// New returns a store whose records weigh at most maxBytes in all, keyed
// by maphash with seed.
func New(maxBytes int, seed maphash.Seed) (*Store, error) {
	c, err := otter.New(&otter.Options[uint64, value]{
		MaximumWeight: uint64(maxBytes),
		Weigher:       func(_ uint64, v value) uint32 { return v.weight() },
		// A tag record that leaves the store takes its entries' usability
		// with it (tags.go).
		OnAtomicDeletion: func(e otter.DeletionEvent[uint64, value]) {
			if t, ok := e.Value.(tagValue); ok {
				t.dead.Store(true)
			}
		},
	})
	if err != nil {
		return nil, fmt.Errorf("fibercache: in-process store: %w", err)
	}
	s := &Store{c: c, seed: seed, tagSeed: maphash.MakeSeed()}
	s.epoch.Store(NewGen()) // never 0, like the storages' epochs
	s.seq.Store(1)
	return s, nil
}

// NewGen returns a fresh random generation, never 0: 64 bits from the
// runtime's ChaCha8 generator, so two are never equal in practice.
func NewGen() uint64 {
	for {
		if g := rand.Uint64(); g != 0 {
			return g
		}
	}
}

func (s *Store) hash(key []byte) uint64 { return maphash.Bytes(s.seed, key) }

// Path returns the record of the path whose key is key; when there is none
// and create is true, it creates one with a fresh generation (created
// reports that), so that an invalidation that comes while a handler runs
// has a generation to change.
func (s *Store) Path(key []byte, create bool) (p *Path, created bool) {
	return s.PathHashed(key, s.hash(key), create)
}

// PathHashed is Path for a key whose hash (maphash with the store's seed)
// the caller has already computed.
func (s *Store) PathHashed(key []byte, h uint64, create bool) (p *Path, created bool) {
	if v, ok := s.c.GetIfPresent(h); ok {
		if pv, ok := v.(pathValue); ok && bytes.Equal(pv.key, key) {
			return pv.Path, false
		}
	}
	if !create {
		return nil, false
	}
	np := &Path{key: bytes.Clone(key)}
	np.gen.Store(NewGen())
	v, stored := s.c.SetIfAbsent(h, pathValue{np})
	if !stored {
		if pv, ok := v.(pathValue); ok && bytes.Equal(pv.key, key) {
			return pv.Path, false
		}
		s.c.Set(h, pathValue{np}) // a colliding key: replace it
	}
	return np, true
}

// Entry returns the entry stored under key, or nil, and the records of its
// tags (in the order of e.Tags).
func (s *Store) Entry(key []byte) (*entry.Entry, []*Tag) {
	if v, ok := s.c.GetIfPresent(s.hash(key)); ok {
		if ev, ok := v.(entryValue); ok && bytes.Equal(ev.Key, key) {
			return ev.Entry, ev.tags
		}
	}
	return nil, nil
}

// SetEntry stores e under e.Key, with the records of its tags (in the
// order of e.Tags), replacing what was there.
func (s *Store) SetEntry(e *entry.Entry, tags []*Tag) {
	s.c.Set(s.hash(e.Key), entryValue{e, tags})
}

// DeleteEntry removes the entry stored under key, if it is e.
func (s *Store) DeleteEntry(e *entry.Entry) {
	h := s.hash(e.Key)
	s.c.ComputeIfPresent(h, func(v value) (value, otter.ComputeOp) {
		if ev, ok := v.(entryValue); ok && ev.Entry == e {
			return nil, otter.InvalidateOp
		}
		return v, otter.CancelOp
	})
}

// Invalidate gives the path whose key is key a fresh generation, so that
// none of its entries is usable any more. A path without a record has no
// usable entries and no handler running: there is nothing to do.
func (s *Store) Invalidate(key []byte) bool {
	p, _ := s.Path(key, false)
	if p == nil {
		return false
	}
	p.gen.Store(NewGen())
	return true
}

// Epoch returns the namespace epoch: entries stored under another one are
// unusable.
func (s *Store) Epoch() uint64 { return s.epoch.Load() }

// BumpEpoch makes every entry stored so far unusable.
func (s *Store) BumpEpoch() { s.epoch.Store(NewGen()) }

// Reset removes every record.
func (s *Store) Reset() { s.c.InvalidateAll() }

// WeightedSize reports the summed weight of the records, after pending
// maintenance (evictions) has run.
func (s *Store) WeightedSize() uint64 {
	s.c.CleanUp()
	return s.c.WeightedSize()
}

// Close stops the store's background goroutines.
func (s *Store) Close() { s.c.StopAllGoroutines() }
