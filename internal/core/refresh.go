package core

import (
	"crypto/tls"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// refreshKey marks, in a request's Locals, a background refresh: the cache
// runs the handler and stores its response, whatever is stored.
type refreshKey struct{}

// refreshes tracks background refreshes (stale-while-revalidate): at most
// one per entry at a time, none started after Close, all waited for by
// Close.
type refreshes struct {
	mu      sync.Mutex
	running map[string]bool
	wg      sync.WaitGroup
	closed  bool
}

// refreshInBackground has the handler run once more for r's request, in
// the background, through the app's whole chain (middleware in front of
// the cache included), so that the stale entry just served is replaced.
// Concurrent requests for the same entry start one refresh.
func (m *Cache) refreshInBackground(c Ctx, r *request) {
	key := string(r.k.full())
	rs := &m.refreshes
	rs.mu.Lock()
	if rs.closed || rs.running[key] {
		rs.mu.Unlock()
		return
	}
	if rs.running == nil {
		rs.running = map[string]bool{}
	}
	rs.running[key] = true
	rs.wg.Add(1)
	rs.mu.Unlock()

	handler := m.fw.App(c).Handler()
	// The refresh sees the request as the handler saw it: the same
	// headers, the same remote address, and TLS when it came over TLS (so
	// the scheme, hence the key, is the same).
	rctx := m.fw.RequestCtx(c)
	fctx := new(fasthttp.RequestCtx)
	var conn net.Conn = refreshConn{remote: rctx.RemoteAddr(), local: rctx.LocalAddr()}
	if rctx.IsTLS() {
		conn = refreshTLSConn{refreshConn: conn.(refreshConn), state: *rctx.TLSConnectionState()}
	}
	fctx.Init2(conn, nil, false)
	c.Request().CopyTo(&fctx.Request)
	fctx.SetUserValue(refreshKey{}, true)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				m.log.log(slog.LevelError, "refresh_panic", slog.Any("panic", p))
			}
			rs.mu.Lock()
			delete(rs.running, key)
			rs.mu.Unlock()
			rs.wg.Done()
		}()
		handler(fctx)
	}()
}

// wait stops new refreshes and waits, at most d, for those running.
func (rs *refreshes) wait(d time.Duration) {
	rs.mu.Lock()
	rs.closed = true
	rs.mu.Unlock()
	done := make(chan struct{})
	go func() { rs.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
	}
}

// refreshConn is the connection a background refresh's request context
// reports: the original request's addresses. Nothing is read from or
// written to it.
type refreshConn struct {
	net.Conn
	remote, local net.Addr
}

func (c refreshConn) RemoteAddr() net.Addr { return c.remote }
func (c refreshConn) LocalAddr() net.Addr  { return c.local }

// refreshTLSConn is a refreshConn for a request that came over TLS:
// fasthttp's IsTLS looks for these two methods.
type refreshTLSConn struct {
	refreshConn
	state tls.ConnectionState
}

func (c refreshTLSConn) Handshake() error                     { return nil }
func (c refreshTLSConn) ConnectionState() tls.ConnectionState { return c.state }
