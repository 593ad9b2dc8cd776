// Package testkit is the shared fixture of the cache's tests: an in-memory
// fiber.Storage that counts its calls and can fail or be held (Storage), a
// client of the test Redis that cleans up after itself (Redis), a request
// helper (Do, Burst) and a handler that counts its runs (Counter).
//
// It is internal to the module and does not import the cache, so tests of
// package cache and of package cache_test can both use it.
package testkit

import "time"

// StorageTimeout is the storage timeout of tests that are not about
// timeouts: a loaded machine can take longer than the default 50 ms, which
// would pause the storage and turn hits into bypasses.
const StorageTimeout = 10 * time.Second
