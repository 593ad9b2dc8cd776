package memstore

import (
	"testing"
	"time"
)

// BenchmarkGet reads stored entries: the in-process store's share of a hit.
func BenchmarkGet(b *testing.B) {
	s, err := New(64 << 20)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	now := time.Now()
	const n = 1 << 12
	keys := make([]Key, n)
	for i := range keys {
		keys[i] = key(i)
		s.Set(&keys[i], newEntry(1024, now))
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if s.Get(&keys[i%n]) == nil {
				b.Error("miss")
				return
			}
			i++
		}
	})
}

// BenchmarkSet stores new entries in a full store, so each write evicts:
// the in-process store's share of a miss.
func BenchmarkSet(b *testing.B) {
	s, err := New(16 << 20)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	now := time.Now()
	e := newEntry(1024, now)
	i := 0
	for ; s.WeightedSize() < 16<<20-uint64(e.Weight()); i++ {
		k := key(i)
		s.Set(&k, e)
	}
	b.ReportAllocs()
	for b.Loop() {
		i++
		k := key(i)
		s.Set(&k, e)
	}
}
