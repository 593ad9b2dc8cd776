// Package memstore is fibercache's default in-process store: a
// weight-bounded otter cache of decoded entries, so a hit neither encodes
// nor decodes anything.
package memstore

import (
	"fmt"
	"time"

	"github.com/fiber-caches/cache/internal/entry"
	"github.com/maypok86/otter/v2"
)

// Key is a storage key: a SHA-256 digest.
type Key = [32]byte

// Store holds decoded entries, bounded by their estimated weight in bytes.
// Entries expire on their own at Entry.Expires. It is safe for concurrent use.
type Store struct {
	c *otter.Cache[Key, *entry.Entry]
}

// New returns a store whose entries weigh at most maxBytes in all.
func New(maxBytes int) (*Store, error) {
	c, err := otter.New(&otter.Options[Key, *entry.Entry]{
		MaximumWeight: uint64(maxBytes),
		Weigher:       func(_ Key, e *entry.Entry) uint32 { return e.Weight() },
		ExpiryCalculator: otter.ExpiryWritingFunc(func(e otter.Entry[Key, *entry.Entry]) time.Duration {
			if e.Value.Expires == 0 {
				return 1<<63 - 1
			}
			return time.Until(time.Unix(0, e.Value.Expires))
		}),
	})
	if err != nil {
		return nil, fmt.Errorf("fibercache: in-process store: %w", err)
	}
	return &Store{c: c}, nil
}

// Get returns the entry stored under k, or nil.
func (s *Store) Get(k *Key) *entry.Entry {
	e, _ := s.c.GetIfPresent(*k)
	return e
}

// Set stores e under k, replacing what was there.
func (s *Store) Set(k *Key, e *entry.Entry) { s.c.Set(*k, e) }

// Delete removes what is stored under k.
func (s *Store) Delete(k *Key) { s.c.Invalidate(*k) }

// Reset removes every entry.
func (s *Store) Reset() { s.c.InvalidateAll() }

// WeightedSize reports the summed weight of the entries, after pending
// maintenance (evictions) has run.
func (s *Store) WeightedSize() uint64 {
	s.c.CleanUp()
	return s.c.WeightedSize()
}

// Close stops the store's background goroutines.
func (s *Store) Close() { s.c.StopAllGoroutines() }
