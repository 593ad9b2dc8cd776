package memstore

import (
	"hash/maphash"
	"testing"
	"time"
)

// BenchmarkGet reads stored entries: the in-process store's share of a hit.
func BenchmarkGet(b *testing.B) {
	s, err := New(64<<20, maphash.MakeSeed())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	now := time.Now()
	const n = 1 << 12
	keys := make([][]byte, n)
	for i := range keys {
		keys[i] = key(i)
		e := newEntry(1024, now)
		e.Key = keys[i]
		s.SetEntry(e, nil)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if e, _ := s.Entry(keys[i%n]); e == nil {
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
	s, err := New(16<<20, maphash.MakeSeed())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	now := time.Now()
	proto := newEntry(1024, now)
	i := 0
	for ; s.WeightedSize() < 16<<20-uint64(proto.Weight())-64; i++ {
		e := *proto
		e.Key = key(i)
		s.SetEntry(&e, nil)
	}
	b.ReportAllocs()
	for b.Loop() {
		i++
		e := *proto
		e.Key = key(i)
		s.SetEntry(&e, nil)
	}
}
