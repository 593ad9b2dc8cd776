package core

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"time"

	"github.com/fiber-caches/cache/internal/core/entry"
	"github.com/valyala/fasthttp"
)

// Hooks for the adapters' tests, which cannot reach the engine's
// unexported names. The adapters do not re-export this file (apigen skips
// it), and core is internal to this repository: these are not API.

// Constants the tests compare with.
const (
	KeyVersion      = keyVersion
	MaxPending      = maxPending
	MaxPurgeItems   = maxPurgeItems
	PendingPathTTL  = pendingPathTTL
	TagRecordMinTTL = tagRecordMinTTL
)

// LeaseLife is leaseLife.
func LeaseLife(wait time.Duration) time.Duration { return leaseLife(wait) }

// ParseNamespace is parseNamespace.
func ParseNamespace(v []byte) (epoch, seq uint64, ok bool) { return parseNamespace(v) }

// EpochKey returns the key of the namespace record under prefix.
func EpochKey(prefix string) string {
	ks := newSharedKeys(prefix)
	return ks.epochKey()
}

// ParseRedisMajor is parseRedisMajor.
func ParseRedisMajor(info string) (int, bool) { return parseRedisMajor(info) }

// LoggerFromEnv is loggerFromEnv.
func LoggerFromEnv() *slog.Logger { return loggerFromEnv() }

// LogEnabled reports whether m logs at level.
func (m *Cache) LogEnabled(level slog.Level) bool { return m.log.enabled(level) }

// Closed reports whether m was closed.
func (m *Cache) Closed() bool { return m.closed.Load() }

// PendingInvalidations returns the invalidations m's guard keeps for later.
func (m *Cache) PendingInvalidations() int {
	g := m.b.(*guarded)
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.pending)
}

// RefreshesRunning returns the background refreshes running.
func (m *Cache) RefreshesRunning() int {
	m.refreshes.mu.Lock()
	defer m.refreshes.mu.Unlock()
	return len(m.refreshes.running)
}

// WaitRefreshes stops new refreshes and waits, at most d, for those running.
func (m *Cache) WaitRefreshes(d time.Duration) { m.refreshes.wait(d) }

// RefreshEarly is refreshEarly.
func (m *Cache) RefreshEarly(e *entry.Entry, now int64) bool { return m.refreshEarly(e, now) }

// TLSConn returns a connection that fasthttp takes for TLS, between local
// and remote: nothing is read from or written to it.
func TLSConn(remote, local net.Addr) net.Conn {
	return refreshTLSConn{refreshConn: refreshConn{remote: remote, local: local}}
}

// Isolate makes m a process of its own: it leaves the process's registry
// of caches, so that an invalidation made through another cache of the
// process reaches m only through their shared storage, and one made
// through m reaches no other cache but through its storage, as between two
// processes. Tests that run in parallel isolate their caches.
func Isolate(m *Cache) {
	m.isolated.Store(true)
	unregister(m)
}

// NearHook makes f run before (after=false) and after (after=true) each
// tracked read of m's near tier: before it is sent, and when its reply
// arrives, before the record enters the near tier. nil removes it.
func NearHook(m *Cache, f func(after bool)) {
	if f == nil {
		m.near.testHook.Store(nil)
		return
	}
	m.near.testHook.Store(&f)
}

// NearPushDelay delays every invalidation push m's near tier receives by
// d, widening the window between a write's acknowledgment and its push.
func NearPushDelay(m *Cache, d time.Duration) { m.near.testDelay.Store(int64(d)) }

// NearOn reports whether m has a near tier that is on.
func NearOn(m *Cache) bool { return m.near != nil && !m.near.off.Load() }

// NearClientID returns the Redis client ID of the connection m's near tier
// (on a single node) reads and receives invalidations on.
func NearClientID(m *Cache) (int64, error) {
	c := m.near.client
	return c.Do(context.Background(), c.B().ClientId().Build()).AsInt64()
}

// FillRoute is fillRoute for an app of cfg's routing options.
func FillRoute(app App, pattern string, params map[string]any, cfg AppConfig) (paths, missing []string, err error) {
	return fillRoute(app, pattern, params, appInfoOf(cfg))
}

// UnknownRoute is unknownRoute.
func UnknownRoute(app App, name string) error { return unknownRoute(app, name) }

// PatternParams returns the names of the parameters of a route pattern,
// in order, as fillRoute reads them.
func PatternParams(pattern string) []string {
	var names []string
	for _, p := range parsePattern(pattern) {
		names = append(names, p.name)
	}
	return names
}

// appInfoOf is the appInfo of an app of cfg.
func appInfoOf(cfg AppConfig) *appInfo {
	return &appInfo{caseSensitive: cfg.CaseSensitive, strict: cfg.StrictRouting, unescape: cfg.UnescapePath, rawHeaders: cfg.RawHeaders}
}

// ServedEncoding is servedEncoding.
func ServedEncoding(h *fasthttp.RequestHeader) string { return servedEncoding(h) }

// AppendRequestValues is appendRequestValues.
func AppendRequestValues(b []byte, h *fasthttp.RequestHeader, name string, fold bool) []byte {
	return appendRequestValues(b, h, name, fold)
}

// Acceptable is acceptable.
func Acceptable(ae []byte, e *entry.Entry, names []string) bool { return acceptable(ae, e, names) }

// KeyHostScheme builds c's key as a lookup does and returns the host and
// scheme it holds; ok is false when the request would bypass the cache.
func (m *Cache) KeyHostScheme(c Ctx) (host, scheme string, ok bool) {
	var rh reqHeaders
	var k keys
	rh.scan(&c.Request().Header)
	if !m.buildKeys(c, m.appInfo(m.fw.App(c)), &rh, &k) {
		return "", "", false
	}
	parts := bytes.Split(k.full(), []byte{0})
	return string(parts[1]), string(parts[3]), true
}
