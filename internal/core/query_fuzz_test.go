package core

import (
	"bytes"
	"maps"
	"slices"
	"testing"

	"github.com/valyala/fasthttp"
)

// FuzzQueryKey checks what WithQuerySort and WithQueryIgnore promise of the
// key's query: sorted, any order of the parameters that keeps the order
// of those of one name (as the handler decodes names) gives one key; ignored
// parameters, wherever they are, change nothing; and no option keeps the
// query as sent.
func FuzzQueryKey(f *testing.F) {
	plain, sorted, ignoring := NewCache(nil), NewCache(nil, WithQuerySort()), NewCache(nil, WithQueryIgnore("utm_*"), WithQuerySort())
	f.Cleanup(func() { _ = plain.Close(); _ = sorted.Close(); _ = ignoring.Close() })
	for _, s := range []string{"a=1&b=2", "b=2&a=1&a=0", "%61=1&a=2", "utm_source=x&q=go", "a+b=1&a%20b=2", "&&x&=y", "c=3&b&a=1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		raw := []byte(q)
		if got := plain.appendQuery(nil, raw); !bytes.Equal(got, raw) {
			t.Fatalf("%q: without options the key has %q", q, got)
		}
		// Sorted, the key keeps what the handler sees: for each decoded
		// name, its parameters in order.
		if key := sorted.appendQuery(nil, raw); !maps.EqualFunc(byName(key), byName(raw), slices.Equal) {
			t.Fatalf("sorted: %q keys as %q, which a handler reads otherwise", q, key)
		}
		perm := regroup(raw)
		if a, b := sorted.appendQuery(nil, raw), sorted.appendQuery(nil, perm); !bytes.Equal(a, b) {
			t.Fatalf("sorted: %q keys as %q, its reordering %q as %q", q, a, perm, b)
		}
		withUTM := append(append([]byte("utm_a=1&"), raw...), "&utm_%62=2"...)
		if a, b := ignoring.appendQuery(nil, raw), ignoring.appendQuery(nil, withUTM); !bytes.Equal(a, b) {
			t.Fatalf("ignoring utm_*: %q keys as %q, %q as %q", q, a, withUTM, b)
		}
	})
}

// byName returns the parameters of q by decoded name, in their order.
func byName(q []byte) map[string][]string {
	m := map[string][]string{}
	for _, p := range bytes.Split(q, []byte{'&'}) {
		if len(p) == 0 {
			continue
		}
		name, _, _ := bytes.Cut(p, []byte{'='})
		n := string(fasthttp.AppendUnquotedArg(nil, name))
		m[n] = append(m[n], string(p))
	}
	return m
}

// regroup returns the parameters of q with the groups of one decoded name
// in reverse order of first appearance, each group's parameters in their
// order: a reordering a handler cannot tell from q.
func regroup(q []byte) []byte {
	var names [][]byte
	groups := map[string][][]byte{}
	for _, p := range bytes.Split(q, []byte{'&'}) {
		if len(p) == 0 {
			continue
		}
		name, _, _ := bytes.Cut(p, []byte{'='})
		n := string(fasthttp.AppendUnquotedArg(nil, name))
		if _, ok := groups[n]; !ok {
			names = append(names, []byte(n))
		}
		groups[n] = append(groups[n], p)
	}
	var out [][]byte
	for i := len(names) - 1; i >= 0; i-- {
		out = append(out, groups[string(names[i])]...)
	}
	return bytes.Join(out, []byte{'&'})
}
