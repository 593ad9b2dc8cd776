package memstore

import (
	"hash/maphash"
	"sync/atomic"
)

// Tag is the in-process record of one tag: the namespace sequence at
// which it was last invalidated (hard) and last made stale (soft). An
// entry carrying the tag is usable only while the record it was stored
// with is alive and hard is not past the entry's sequence; stale when
// soft is.
//
// A record that leaves the store (evicted, replaced, the store reset) is
// marked dead, and every entry holding it is unusable from then on: an
// invalidation is never lost with its record. A record created afresh
// starts at the current sequence, past every entry stored before.
type Tag struct {
	name       string
	hard, soft atomic.Uint64
	dead       atomic.Bool
}

// State returns the record's sequences, and whether it is still the
// store's record of its tag.
func (t *Tag) State() (hard, soft uint64, alive bool) {
	return t.hard.Load(), t.soft.Load(), !t.dead.Load()
}

type tagValue struct{ *Tag }

func (t tagValue) weight() uint32 { return uint32(96 + len(t.name)) }

// Seq returns the namespace's tag sequence: every invalidation of tags
// made after this call writes a higher one.
func (s *Store) Seq() uint64 { return s.seq.Load() }

func (s *Store) tagHash(name string) uint64 { return maphash.String(s.tagSeed, name) }

// Tag returns the record of the tag name; when there is none and create is
// set, it creates one at the current sequence.
func (s *Store) Tag(name string, create bool) *Tag {
	h := s.tagHash(name)
	if v, ok := s.c.GetIfPresent(h); ok {
		if tv, ok := v.(tagValue); ok && tv.name == name {
			return tv.Tag
		}
	}
	if !create {
		return nil
	}
	t := &Tag{name: name}
	t.hard.Store(s.seq.Load())
	v, stored := s.c.SetIfAbsent(h, tagValue{t})
	if !stored {
		if tv, ok := v.(tagValue); ok && tv.name == name {
			return tv.Tag
		}
		s.c.Set(h, tagValue{t}) // a colliding key: replace it
	}
	return t
}

// InvalidateTags makes every entry carrying one of the tags unusable
// (soft: stale), and returns the sequence it wrote.
func (s *Store) InvalidateTags(names []string, soft bool) uint64 {
	seq := s.seq.Add(1)
	for _, name := range names {
		t := s.Tag(name, true)
		v := &t.hard
		if soft {
			v = &t.soft
		}
		for {
			old := v.Load()
			if old >= seq || v.CompareAndSwap(old, seq) {
				break
			}
		}
	}
	return seq
}
