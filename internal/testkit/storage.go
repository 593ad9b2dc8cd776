package testkit

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
)

// Storage is a fiber.Storage for tests: an in-memory map (NewStorage) or
// another storage seen through it (Wrap). It counts the calls it gets,
// remembers the expiration of the last value set, can be told to fail,
// and runs hooks, when set, around each call. Its methods are safe for
// concurrent use.
//
// A Storage has no Conn method, whatever it wraps: a cache given one takes
// the generic fiber.Storage path.
type Storage struct {
	next fiber.Storage // the wrapped storage; nil for the map

	mu      sync.Mutex // guards data, lastExp, fail, before, after
	data    map[string][]byte
	lastExp time.Duration
	kindExp map[string]time.Duration // by Kind(key): the last Set of that kind
	fail    error
	before  func(Op)
	after   func(Op)

	gets, sets, deletes, resets atomic.Int64
}

// NewStorage returns an empty in-memory Storage. Values are copied in and
// out, and never expire: tests run far shorter than any TTL they use.
func NewStorage() *Storage { return &Storage{data: map[string][]byte{}} }

// Wrap returns a Storage that passes each call on to s, with the counts,
// failure and hooks of a Storage. It hides any Conn method of s.
func Wrap(s fiber.Storage) *Storage { return &Storage{next: s} }

// Counts are the calls a Storage got, by method.
type Counts struct {
	Gets, Sets, Deletes, Resets int64
}

// Counts returns the calls so far (since the last TakeCounts).
func (s *Storage) Counts() Counts {
	return Counts{s.gets.Load(), s.sets.Load(), s.deletes.Load(), s.resets.Load()}
}

// TakeCounts returns the calls so far and sets the counts back to zero.
func (s *Storage) TakeCounts() Counts {
	return Counts{s.gets.Swap(0), s.sets.Swap(0), s.deletes.Swap(0), s.resets.Swap(0)}
}

// LastExp returns the expiration given to the last successful Set.
func (s *Storage) LastExp() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastExp
}

// LastExpOf returns the expiration given to the last successful Set of a
// key of that kind (Kind: "entry", "path", ...).
func (s *Storage) LastExpOf(kind string) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.kindExp[kind]
}

// Fail makes every later call return err, without reaching the data (they
// are still counted, and hooked); nil ends the failure.
func (s *Storage) Fail(err error) {
	s.mu.Lock()
	s.fail = err
	s.mu.Unlock()
}

// SetHooks installs before and after, run around each call (outside any
// lock: a hook may block); nil removes a hook.
func (s *Storage) SetHooks(before, after func(Op)) {
	s.mu.Lock()
	s.before, s.after = before, after
	s.mu.Unlock()
}

// Keys returns the keys the map holds, sorted. It panics on a Storage made
// by Wrap, which cannot know the keys of what it wraps.
func (s *Storage) Keys() []string {
	if s.next != nil {
		panic("testkit: Keys of a wrapped storage")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := make([]string, 0, len(s.data))
	for k := range s.data {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// state returns the hooks and the failure, under the lock.
func (s *Storage) state() (before, after func(Op), fail error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.before, s.after, s.fail
}

// call runs do between the hooks, unless the storage is told to fail. The
// after hook of a get sees the value read.
func (s *Storage) call(op Op, do func() ([]byte, error)) ([]byte, error) {
	if before, _, _ := s.state(); before != nil {
		before(op)
	}
	var v []byte
	_, _, err := s.state()
	if err == nil {
		v, err = do()
	}
	if _, after, _ := s.state(); after != nil {
		if op.Name == "get" {
			op.Value = v
		}
		after(op)
	}
	return v, err
}

// Get returns a copy of the value of key, nil when there is none.
func (s *Storage) Get(key string) ([]byte, error) {
	s.gets.Add(1)
	return s.call(Op{Name: "get", Key: key, Kind: Kind(key)}, func() ([]byte, error) {
		if s.next != nil {
			return s.next.Get(key)
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if v, ok := s.data[key]; ok {
			return append([]byte(nil), v...), nil
		}
		return nil, nil
	})
}

// Set stores a copy of val under key; exp is remembered, not applied.
func (s *Storage) Set(key string, val []byte, exp time.Duration) error {
	s.sets.Add(1)
	_, err := s.call(Op{Name: "set", Key: key, Kind: Kind(key), Value: val}, func() ([]byte, error) {
		if s.next != nil {
			if err := s.next.Set(key, val, exp); err != nil {
				return nil, err
			}
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.next == nil {
			s.data[key] = append([]byte(nil), val...)
		}
		s.lastExp = exp
		if s.kindExp == nil {
			s.kindExp = map[string]time.Duration{}
		}
		s.kindExp[Kind(key)] = exp
		return nil, nil
	})
	return err
}

// Delete deletes key.
func (s *Storage) Delete(key string) error {
	s.deletes.Add(1)
	_, err := s.call(Op{Name: "delete", Key: key, Kind: Kind(key)}, func() ([]byte, error) {
		if s.next != nil {
			return nil, s.next.Delete(key)
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		delete(s.data, key)
		return nil, nil
	})
	return err
}

// Reset deletes every key.
func (s *Storage) Reset() error {
	s.resets.Add(1)
	_, err := s.call(Op{Name: "reset", Kind: Kind("")}, func() ([]byte, error) {
		if s.next != nil {
			return nil, s.next.Reset()
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		clear(s.data)
		return nil, nil
	})
	return err
}

// Close closes the wrapped storage, if any.
func (s *Storage) Close() error {
	if s.next != nil {
		return s.next.Close()
	}
	return nil
}
