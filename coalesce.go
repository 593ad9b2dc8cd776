package cache

import (
	"bytes"
	"sync"

	"github.com/fiber-caches/cache/internal/entry"
	"github.com/valyala/fasthttp"
)

// flights coalesces identical cacheable requests that miss at the same
// time: the first (the leader) runs the handler, the others wait for it and
// are served what it stored. When the leader stores nothing, each follower
// runs its own handler.
type flights struct {
	mu    sync.Mutex
	calls map[digest]*flight
}

// flight is one leader's run of the handler.
type flight struct {
	done chan struct{}
	// Set by the leader before done is closed.
	e      *entry.Entry
	names  []string // the request headers e varies on
	values [][]byte // the leader's values of those headers
	gen    [16]byte // the URL's invalidation generation when the leader's handler started
}

// join returns the flight for k and whether the caller leads it.
func (fs *flights) join(k *digest) (*flight, bool) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if f, ok := fs.calls[*k]; ok {
		return f, false
	}
	if fs.calls == nil {
		fs.calls = make(map[digest]*flight)
	}
	f := &flight{done: make(chan struct{})}
	fs.calls[*k] = f
	return f, true
}

// land ends the leader's flight, publishing e (nil: nothing stored) to the
// followers, with gen, the generation its handler started under.
func (fs *flights) land(k *digest, f *flight, e *entry.Entry, names []string, gen [16]byte, h *fasthttp.RequestHeader) {
	if e != nil {
		f.e, f.names, f.gen = e, names, gen
		for _, name := range names {
			f.values = append(f.values, appendHeaderValues(nil, h, name))
		}
	}
	fs.mu.Lock()
	delete(fs.calls, *k)
	fs.mu.Unlock()
	close(f.done)
}

// result waits for the leader and returns its entry if it answers a request
// with header h, or nil.
func (f *flight) result(h *fasthttp.RequestHeader, head bool) *entry.Entry {
	<-f.done
	if f.e == nil || (f.e.Head && !head) {
		return nil
	}
	var buf []byte
	for i, name := range f.names {
		buf = appendHeaderValues(buf[:0], h, name)
		if !bytes.Equal(buf, f.values[i]) {
			return nil
		}
	}
	return f.e
}
