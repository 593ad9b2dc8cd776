package core

import (
	"sync"
	"weak"
)

// The process's caches, so that an invalidation made through any of them
// reaches what every other one stored: two cache.New on two routes have
// two in-process stores, and a handler behind one must be able to
// invalidate what the other keeps. This is the package's one piece of
// global state; Close removes a cache from it, and a cache nothing else
// references drops out by itself.
var registry struct {
	mu     sync.Mutex
	caches []weak.Pointer[Cache]
}

func register(m *Cache) {
	registry.mu.Lock()
	defer registry.mu.Unlock()
	live := registry.caches[:0]
	for _, w := range registry.caches {
		if w.Value() != nil {
			live = append(live, w)
		}
	}
	registry.caches = append(live, weak.Make(m))
}

func unregister(m *Cache) {
	registry.mu.Lock()
	defer registry.mu.Unlock()
	for i, w := range registry.caches {
		if w.Value() == m {
			registry.caches = append(registry.caches[:i], registry.caches[i+1:]...)
			return
		}
	}
}

// everyCache returns m first, then every other live cache of the process
// whose backend is not m's (one invalidation per storage).
func everyCache(m *Cache) []*Cache {
	out := []*Cache{m}
	if m.isolated.Load() {
		return out // Isolate (testing.go)
	}
	seen := []any{m.b.identity()}
	registry.mu.Lock()
	defer registry.mu.Unlock()
	for _, w := range registry.caches {
		c := w.Value()
		if c == nil || c == m {
			continue
		}
		id := c.b.identity()
		dup := false
		for _, s := range seen {
			if id != nil && s == id {
				dup = true
				break
			}
		}
		if !dup {
			seen = append(seen, id)
			out = append(out, c)
		}
	}
	return out
}
