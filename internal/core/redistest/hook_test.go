package redistest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestRoundTrips(t *testing.T) {
	ctx := context.Background()
	rc := redis.NewClient(&redis.Options{Addr: Addr(t), DB: DB(t)})
	defer rc.Close()
	var rt RoundTrips
	rc.AddHook(&rt)
	p := Prefix(t)

	// The first PING dials; the connection set-up is not counted.
	if err := rc.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if got, n := rt.Commands(), rt.Take(); n != 1 || !slices.Equal(got, []string{"ping"}) {
		t.Fatalf("first PING: %d round trips %q, want 1 [ping]", n, got)
	}
	if rt.Take() != 0 || rt.Commands() != nil {
		t.Fatal("Take did not reset")
	}

	rc.Set(ctx, p+"a", "1", time.Minute)
	rc.Get(ctx, p+"a")
	if got := rt.Commands(); !slices.Equal(got, []string{"set", "get"}) {
		t.Fatalf("Commands = %q, want [set get]", got)
	}
	if n := rt.Take(); n != 2 {
		t.Fatalf("SET then GET: %d round trips, want 2", n)
	}

	if _, err := rc.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		pipe.Incr(ctx, p+"n")
		pipe.Incr(ctx, p+"n")
		pipe.Get(ctx, p+"n")
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if got := rt.Commands(); !slices.Equal(got, []string{"incr", "incr", "get"}) {
		t.Fatalf("pipeline Commands = %q", got)
	}
	if n := rt.Take(); n != 1 {
		t.Fatalf("a pipeline of 3: %d round trips, want 1", n)
	}

	s := redis.NewScript(`return redis.call('GET', KEYS[1])`)
	if err := s.Load(ctx, rc).Err(); err != nil {
		t.Fatal(err)
	}
	rt.Take()
	if v, err := s.Run(ctx, rc, []string{p + "a"}).Result(); err != nil || v != "1" {
		t.Fatalf("script = %v, %v", v, err)
	}
	if got, n := rt.Commands(), rt.Take(); n != 1 || !slices.Equal(got, []string{"evalsha"}) {
		t.Fatalf("a loaded script: %d round trips %q, want 1 [evalsha]", n, got)
	}
}
