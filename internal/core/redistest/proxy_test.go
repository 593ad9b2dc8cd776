package redistest

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func startProxy(t *testing.T) *Proxy {
	t.Helper()
	p, err := StartProxy(Addr(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// dial opens a raw connection to a.
func dial(t *testing.T, a string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", a, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// pingOn sends PING on c and reads the answer, waiting at most wait.
func pingOn(c net.Conn, wait time.Duration) error {
	_ = c.SetDeadline(time.Now().Add(wait))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+PONG") {
		return errors.New("PING answered " + line)
	}
	return nil
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func TestProxyForwards(t *testing.T) {
	p := startProxy(t)
	rc := redis.NewClient(&redis.Options{Addr: p.Addr(), DB: DB(t)})
	defer rc.Close()
	ctx := context.Background()
	k := Prefix(t) + "k"
	if err := rc.Set(ctx, k, "v", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if v, err := rc.Get(ctx, k).Result(); err != nil || v != "v" {
		t.Fatalf("Get through the proxy = %q, %v; want v", v, err)
	}
}

func TestProxyDelay(t *testing.T) {
	p := startProxy(t)
	c := dial(t, p.Addr())
	if err := pingOn(c, time.Second); err != nil {
		t.Fatal(err)
	}
	const d = 100 * time.Millisecond
	p.SetDelay(d) // applies to the connection already open
	start := time.Now()
	if err := pingOn(c, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < 2*d {
		t.Fatalf("PING with delay %v each way took %v, want at least %v", d, took, 2*d)
	}
	p.SetDelay(0)
	start = time.Now()
	if err := pingOn(c, time.Second); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took >= d {
		t.Fatalf("PING after SetDelay(0) took %v", took)
	}
}

func TestProxyBlackhole(t *testing.T) {
	p := startProxy(t)
	old := dial(t, p.Addr())
	if err := pingOn(old, time.Second); err != nil {
		t.Fatal(err)
	}
	p.Blackhole(true)
	if err := pingOn(old, 200*time.Millisecond); !isTimeout(err) {
		t.Fatalf("PING on an open connection in a blackhole: %v, want a timeout", err)
	}
	if err := pingOn(dial(t, p.Addr()), 200*time.Millisecond); !isTimeout(err) {
		t.Fatalf("PING on a new connection in a blackhole: %v, want a timeout", err)
	}
	// go-redis sees a timeout too, not a quick error.
	rc := redis.NewClient(&redis.Options{Addr: p.Addr(), ReadTimeout: 200 * time.Millisecond, MaxRetries: -1})
	defer rc.Close()
	if err := rc.Ping(context.Background()).Err(); !isTimeout(err) {
		t.Fatalf("go-redis PING in a blackhole: %v, want a timeout", err)
	}
	p.Blackhole(false)
	if err := pingOn(dial(t, p.Addr()), time.Second); err != nil {
		t.Fatalf("PING after the blackhole: %v", err)
	}
}

func TestProxyDrop(t *testing.T) {
	p := startProxy(t)
	cs := []net.Conn{dial(t, p.Addr()), dial(t, p.Addr())}
	for _, c := range cs {
		if err := pingOn(c, time.Second); err != nil {
			t.Fatal(err)
		}
	}
	p.Drop()
	for _, c := range cs {
		_ = c.SetDeadline(time.Now().Add(time.Second))
		if _, err := c.Read(make([]byte, 1)); err == nil || isTimeout(err) {
			t.Fatalf("read after Drop: %v, want EOF or a reset", err)
		}
	}
	if err := pingOn(dial(t, p.Addr()), time.Second); err != nil {
		t.Fatalf("PING on a new connection after Drop: %v", err)
	}
}

func TestProxyRefuse(t *testing.T) {
	p := startProxy(t)
	old := dial(t, p.Addr())
	if err := pingOn(old, time.Second); err != nil {
		t.Fatal(err)
	}
	p.Refuse(true)
	c := dial(t, p.Addr())
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("read on a refused connection: %v, want EOF", err)
	}
	if err := pingOn(old, time.Second); err != nil {
		t.Fatalf("Refuse broke an existing connection: %v", err)
	}
	p.Refuse(false)
	if err := pingOn(dial(t, p.Addr()), time.Second); err != nil {
		t.Fatalf("PING after Refuse(false): %v", err)
	}
}

func TestProxyTargetDown(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := l.Addr().String()
	l.Close()
	p, err := StartProxy(down)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c := dial(t, p.Addr())
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("read through a proxy to nothing: %v, want EOF", err)
	}
}

// TestProxyCloseLeaksNothing runs traffic and every fault concurrently
// (for -race), then checks Close ends every goroutine and the listener.
func TestProxyCloseLeaksNothing(t *testing.T) {
	before := runtime.NumGoroutine()
	p, err := StartProxy(Addr(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 400*time.Millisecond)
	defer cancel()
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rc := redis.NewClient(&redis.Options{Addr: p.Addr(), MaxRetries: -1,
				DialTimeout: 100 * time.Millisecond, ReadTimeout: 100 * time.Millisecond})
			defer rc.Close()
			for i := 0; i < 1000 && ctx.Err() == nil; i++ {
				_ = rc.Ping(ctx).Err() // errors are the point
			}
		}()
	}
	for i := 0; i < 100 && ctx.Err() == nil; i++ {
		p.SetDelay(time.Duration(i%3) * time.Millisecond)
		p.Blackhole(i%5 == 1)
		p.Refuse(i%7 == 2)
		if i%4 == 3 {
			p.Drop()
		}
		time.Sleep(5 * time.Millisecond)
	}
	// Leave connections open, some mid-delay, for Close to end.
	p.SetDelay(time.Hour)
	p.Blackhole(false)
	p.Refuse(false)
	held := dial(t, p.Addr())
	_, _ = held.Write([]byte("PING\r\n"))
	p.Close()
	p.Close() // idempotent
	cancel()
	wg.Wait()
	held.Close()
	if c, err := net.DialTimeout("tcp", p.Addr(), time.Second); err == nil {
		c.Close()
		t.Fatal("the proxy still accepts after Close")
	}
	var now int
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if now = runtime.NumGoroutine(); now <= before {
			return
		}
	}
	buf := make([]byte, 1<<16)
	t.Fatalf("%d goroutines before StartProxy, %d after Close:\n%s", before, now, buf[:runtime.Stack(buf, true)])
}
