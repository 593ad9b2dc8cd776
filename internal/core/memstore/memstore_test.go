package memstore

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"hash/maphash"
	"net/http"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/fiber-caches/cache/internal/core/entry"
)

var filler = bytes.Repeat([]byte("0123456789abcdef"), 4096/16)

// newEntry builds a stored response the way the middleware does (one
// allocation for the header bytes and the body, one for the header list,
// one for the entry), with a body of bodySize bytes and the headers a
// typical JSON response carries once admitted.
func newEntry(bodySize int, now time.Time) *entry.Entry {
	headers := [][2]string{
		{"Content-Type", "application/json; charset=utf-8"},
		{"Etag", `"` + strconv.FormatInt(now.UnixNano(), 36) + `"`},
		{"Cache-Control", "public, max-age=600"},
		{"Expires", now.Add(10 * time.Minute).UTC().Format(http.TimeFormat)},
	}
	size := bodySize
	for _, h := range headers {
		size += len(h[0]) + len(h[1])
	}
	arena := make([]byte, 0, size)
	e := &entry.Entry{
		Status:     200,
		Stored:     now.UnixNano(),
		FreshUntil: now.Add(10 * time.Minute).UnixNano(),
		KeepUntil:  now.Add(10 * time.Minute).UnixNano(),
		Headers:    make([]entry.Header, 0, len(headers)),
	}
	for _, h := range headers {
		arena = append(arena, h[0]...)
		k := arena[len(arena)-len(h[0]):]
		arena = append(arena, h[1]...)
		v := arena[len(arena)-len(h[1]):]
		e.Headers = append(e.Headers, entry.Header{Key: k, Value: v, First: true})
	}
	arena = append(arena, filler[:bodySize]...)
	e.Body = arena[len(arena)-bodySize:]
	return e
}

// key returns the key of the i-th distinct URL.
func key(i int) []byte {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(i))
	h := sha256.Sum256(b[:])
	return h[:]
}

func heapAlloc() uint64 {
	runtime.GC()
	runtime.GC() // the second one frees what the first one's finalizers released
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// TestMemoryBound stores a million distinct URLs in a store bounded to
// 64 MiB and checks that the heap it holds (runtime.MemStats.HeapAlloc after
// a GC, against the heap before the store existed) stays within the bound
// plus 10%: Entry.Weight must count the real cost of an entry, otter's
// per-entry overhead included. Under the race detector it stores a third of
// the URLs: still over three times what fits, so eviction runs all along and
// the bound is checked as meaningfully.
func TestMemoryBound(t *testing.T) {
	const maxBytes = 64 << 20
	urls := 1_000_000
	if raceEnabled {
		urls /= 3
	}
	for _, tc := range []struct {
		name string
		body func(i int) int // the body size of the i-th URL
	}{
		// Headers only: the per-entry overhead is most of the weight.
		{"empty bodies", func(int) int { return 0 }},
		// Bodies spread over 0 to 4 KiB, as small API responses are.
		{"bodies up to 4KiB", func(i int) int { return i * 7919 % 4096 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now := time.Now()
			before := heapAlloc()
			s, err := New(maxBytes, maphash.MakeSeed())
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			var weights uint64
			for i := range urls {
				e := newEntry(tc.body(i), now)
				e.Key = key(i)
				weights += uint64(e.Weight())
				s.SetEntry(e, nil)
			}
			size := s.WeightedSize() // runs pending evictions
			after := heapAlloc()
			runtime.KeepAlive(s)

			held := int64(after) - int64(before)
			entries := float64(size) / (float64(weights) / float64(urls))
			t.Logf("%d URLs: weighted size %.1f MiB, heap held %.1f MiB (%.0f%% of the bound), about %.0f entries, %.0f B of heap per entry",
				urls, mib(int64(size)), mib(held), 100*float64(held)/maxBytes, entries, float64(held)/entries)
			if weights < 3*maxBytes {
				t.Fatalf("the URLs weigh %d in all: less than three times the bound %d, so eviction is hardly tested", weights, maxBytes)
			}
			if size > maxBytes {
				t.Errorf("weighted size %d exceeds the bound %d", size, maxBytes)
			}
			if size < maxBytes*8/10 {
				t.Errorf("weighted size %d: the store holds less than 80%% of its bound %d", size, maxBytes)
			}
			if limit := int64(maxBytes) * 11 / 10; held > limit {
				t.Errorf("the store holds %.1f MiB of heap, more than its bound of %.0f MiB plus 10%%: Entry.Weight underestimates an entry", mib(held), mib(maxBytes))
			}
		})
	}
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }

// TestAddNames: the names are the sorted union of every AddNames, and
// adding names already there allocates nothing (every stored miss of a
// path does it).
func TestAddNames(t *testing.T) {
	var p Path
	p.AddNames(nil)
	if p.Names() != nil {
		t.Fatalf("names %q, want none", p.Names())
	}
	p.AddNames([]string{"accept-language"})
	p.AddNames([]string{"accept-encoding", "accept-language"})
	p.AddNames([]string{"accept-encoding"})
	if got := p.Names(); len(got) != 2 || got[0] != "accept-encoding" || got[1] != "accept-language" {
		t.Fatalf("names %q", got)
	}
	again := []string{"accept-language", "accept-encoding"}
	if n := testing.AllocsPerRun(100, func() { p.AddNames(again); p.AddNames(nil) }); n != 0 {
		t.Fatalf("AddNames of known names: %v allocations, want 0", n)
	}
}
