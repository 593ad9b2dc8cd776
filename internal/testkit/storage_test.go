package testkit

import (
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
)

func TestStorageCounts(t *testing.T) {
	s := NewStorage()
	if err := s.Set("a", []byte("1"), time.Minute); err != nil {
		t.Fatal(err)
	}
	_ = s.Set("b", []byte("2"), 0)
	_, _ = s.Get("a")
	_, _ = s.Get("missing")
	_, _ = s.Get("b")
	_ = s.Delete("a")
	_ = s.Reset()
	if got, want := s.Counts(), (Counts{Gets: 3, Sets: 2, Deletes: 1, Resets: 1}); got != want {
		t.Fatalf("Counts() = %+v, want %+v", got, want)
	}
	if got := s.TakeCounts(); got != (Counts{3, 2, 1, 1}) {
		t.Fatalf("TakeCounts() = %+v", got)
	}
	if got := s.Counts(); got != (Counts{}) {
		t.Fatalf("Counts() after TakeCounts = %+v, want zero", got)
	}
	if got := s.LastExp(); got != 0 {
		t.Fatalf("LastExp() = %v, want the last Set's 0", got)
	}
}

func TestStorageData(t *testing.T) {
	s := NewStorage()
	if v, err := s.Get("k"); v != nil || err != nil {
		t.Fatalf("Get of a missing key = %q, %v; want nil, nil", v, err)
	}
	_ = s.Set("k2", []byte("b"), time.Hour)
	_ = s.Set("k1", []byte("a"), time.Minute)
	if got := s.LastExp(); got != time.Minute {
		t.Fatalf("LastExp() = %v, want 1m", got)
	}
	if got := s.Keys(); !slices.Equal(got, []string{"k1", "k2"}) {
		t.Fatalf("Keys() = %q", got)
	}
	_ = s.Delete("k1")
	if got := s.Keys(); !slices.Equal(got, []string{"k2"}) {
		t.Fatalf("Keys() after Delete = %q", got)
	}
	_ = s.Reset()
	if got := s.Keys(); len(got) != 0 {
		t.Fatalf("Keys() after Reset = %q", got)
	}
}

func TestStorageCopies(t *testing.T) {
	s := NewStorage()
	in := []byte("value")
	_ = s.Set("k", in, 0)
	in[0] = 'X'
	out, _ := s.Get("k")
	if string(out) != "value" {
		t.Fatalf("Get = %q: the stored value changed with the caller's slice", out)
	}
	out[0] = 'Y'
	again, _ := s.Get("k")
	if string(again) != "value" {
		t.Fatalf("Get = %q: the stored value changed with a returned slice", again)
	}
}

func TestStorageFail(t *testing.T) {
	s := NewStorage()
	_ = s.Set("k", []byte("v"), time.Minute)
	down := errors.New("down")
	s.Fail(down)
	if v, err := s.Get("k"); !errors.Is(err, down) || v != nil {
		t.Fatalf("Get while failing = %q, %v", v, err)
	}
	if err := s.Set("k", []byte("w"), time.Hour); !errors.Is(err, down) {
		t.Fatalf("Set while failing: %v", err)
	}
	if err := s.Delete("k"); !errors.Is(err, down) {
		t.Fatalf("Delete while failing: %v", err)
	}
	if err := s.Reset(); !errors.Is(err, down) {
		t.Fatalf("Reset while failing: %v", err)
	}
	if got := s.Counts(); got != (Counts{1, 2, 1, 1}) {
		t.Fatalf("Counts() = %+v: failed calls count", got)
	}
	s.Fail(nil)
	if v, err := s.Get("k"); string(v) != "v" || err != nil {
		t.Fatalf("Get after the failure = %q, %v; want the value from before it", v, err)
	}
	if got := s.LastExp(); got != time.Minute {
		t.Fatalf("LastExp() = %v: a failed Set changed it", got)
	}
}

func TestStorageHooks(t *testing.T) {
	s := NewStorage()
	var mu sync.Mutex
	var seen []string
	record := func(when string) func(Op) {
		return func(op Op) {
			mu.Lock()
			defer mu.Unlock()
			seen = append(seen, when+" "+op.Name+" "+op.Key+" "+op.Kind+" "+string(op.Value))
		}
	}
	s.SetHooks(record("before"), record("after"))
	_ = s.Set("ns:v2:{t}:p", []byte("rec"), 0)
	_, _ = s.Get("ns:v2:{t}:p")
	_ = s.Delete("ns:v2:{t}:e:1f")
	_ = s.Reset()
	s.SetHooks(nil, nil)
	_, _ = s.Get("ns:v2:epoch")
	want := []string{
		"before set ns:v2:{t}:p path rec", "after set ns:v2:{t}:p path rec",
		"before get ns:v2:{t}:p path ", "after get ns:v2:{t}:p path rec",
		"before delete ns:v2:{t}:e:1f entry ", "after delete ns:v2:{t}:e:1f entry ",
		"before reset  ? ", "after reset  ? ",
	}
	if !slices.Equal(seen, want) {
		t.Fatalf("hooks saw\n%q\nwant\n%q", seen, want)
	}
}

// TestStorageHookMayBlock: a hook runs outside the storage's lock, so a
// call held in a hook does not hold the others.
func TestStorageHookMayBlock(t *testing.T) {
	s := NewStorage()
	held, release := make(chan struct{}), make(chan struct{})
	s.SetHooks(nil, func(op Op) {
		if op.Name == "set" {
			close(held)
			<-release
		}
	})
	done := make(chan error)
	go func() { done <- s.Set("a", []byte("1"), 0) }()
	<-held
	if v, err := s.Get("a"); string(v) != "1" || err != nil {
		t.Fatalf("Get while a Set is held in its after hook = %q, %v", v, err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestKind(t *testing.T) {
	for key, want := range map[string]string{
		"p:v2:{0123}:p":       "path",
		"p:v2:{0123}:n":       "names",
		"p:v2:{0123}:e:abcd":  "entry",
		"p:v2:epoch":          "epoch",
		"something else":      "?",
		"":                    "?",
		"p:v2:{0123}:e:ab:pq": "entry",
	} {
		if got := Kind(key); got != want {
			t.Errorf("Kind(%q) = %q, want %q", key, got, want)
		}
	}
}

// conn is a fiber.Storage with a Conn method, as the Redis storage has.
type conn struct{ *Storage }

func (conn) Conn() any { return nil }

func TestWrap(t *testing.T) {
	inner := NewStorage()
	var s fiber.Storage = Wrap(conn{inner})
	if _, ok := s.(interface{ Conn() any }); ok {
		t.Fatal("Wrap shows the wrapped storage's Conn")
	}
	w := s.(*Storage)
	_ = w.Set("k", []byte("v"), time.Second)
	if v, _ := inner.Get("k"); string(v) != "v" {
		t.Fatalf("the wrapped storage holds %q, want the value set through Wrap", v)
	}
	if v, _ := w.Get("k"); string(v) != "v" {
		t.Fatalf("Get through Wrap = %q", v)
	}
	_ = w.Delete("k")
	if got := inner.Keys(); len(got) != 0 {
		t.Fatalf("the wrapped storage still holds %q after Delete through Wrap", got)
	}
	if got := w.Counts(); got != (Counts{Gets: 1, Sets: 1, Deletes: 1}) {
		t.Fatalf("Wrap's Counts() = %+v", got)
	}
	if got := w.LastExp(); got != time.Second {
		t.Fatalf("Wrap's LastExp() = %v", got)
	}
	w.Fail(errors.New("down"))
	if err := w.Set("k", []byte("v"), 0); err == nil {
		t.Fatal("Set through a failing Wrap succeeded")
	}
	if got := inner.Counts().Sets; got != 1 {
		t.Fatalf("the wrapped storage got %d Sets, want 1: a failing Wrap must not pass the call on", got)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("Keys of a wrapped storage did not panic")
		}
	}()
	w.Keys()
}
