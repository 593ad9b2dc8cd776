package testkit

import (
	"context"
	"fmt"
	"time"
)

// Not generated: Fiber v3's fiber.Storage has *WithContext methods, which
// the cache calls instead of the plain ones. Storage's honour ctx as the
// cache does for a storage without them (a Fiber v2 one): the call goes
// on, but the caller stops waiting when ctx is done.

// GetWithContext is Get, given up when ctx is done.
func (s *Storage) GetWithContext(ctx context.Context, key string) ([]byte, error) {
	return withContext(ctx, func() ([]byte, error) { return s.Get(key) })
}

// SetWithContext is Set, given up when ctx is done.
func (s *Storage) SetWithContext(ctx context.Context, key string, val []byte, exp time.Duration) error {
	_, err := withContext(ctx, func() (struct{}, error) { return struct{}{}, s.Set(key, val, exp) })
	return err
}

// DeleteWithContext is Delete, given up when ctx is done.
func (s *Storage) DeleteWithContext(ctx context.Context, key string) error {
	_, err := withContext(ctx, func() (struct{}, error) { return struct{}{}, s.Delete(key) })
	return err
}

// ResetWithContext is Reset, given up when ctx is done.
func (s *Storage) ResetWithContext(ctx context.Context) error {
	_, err := withContext(ctx, func() (struct{}, error) { return struct{}{}, s.Reset() })
	return err
}

func withContext[T any](ctx context.Context, f func() (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	ch := make(chan result, 1)
	go func() {
		v, err := f()
		ch <- result{v, err}
	}()
	select {
	case r := <-ch:
		return r.v, r.err
	case <-ctx.Done():
		var zero T
		return zero, fmt.Errorf("testkit: storage call: %w", ctx.Err())
	}
}
