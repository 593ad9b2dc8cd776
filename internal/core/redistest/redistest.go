// Package redistest gives tests real Redis servers to talk to.
//
// [Addr] finds a Redis: REDIS_ADDR (default 127.0.0.1:6379) if it answers,
// else a throwaway redis-server started on a free loopback port. With CI
// set, no Redis is a failure, never a skip. [DB] reads REDIS_DB (default 0)
// so tests can be pointed at another database of that Redis, and [Prefix]
// gives each test its own key namespace, deleted when the test ends.
//
// [ClusterFor] starts a throwaway Redis Cluster, [StartProxy] puts a
// fault-injecting TCP proxy (delay, blackhole, drop, refuse) in front of a
// Redis, and [RoundTrips] is a go-redis hook that counts round trips.
//
// Environment:
//
//	REDIS_ADDR  host:port of the Redis that Addr returns (default 127.0.0.1:6379)
//	REDIS_DB    database number that DB returns and Prefix cleans (default 0)
//
// Call [StopAll] (or [Stop]) from TestMain to stop whatever was started.
package redistest

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	mu    sync.Mutex // guards found, addr, err, srv
	found bool
	addr  string
	err   error
	srv   *exec.Cmd
)

// Addr returns the address of a Redis that answers PING, starting one if
// needed. It fails the test when there is none: run redis-server, set
// REDIS_ADDR, or put redis-server on PATH.
func Addr(t testing.TB) string {
	t.Helper()
	mu.Lock()
	if !found {
		find()
		found = true
	}
	a, e := addr, err
	mu.Unlock()
	if e != nil {
		t.Fatalf("no Redis for the integration tests: %v (start redis-server, set REDIS_ADDR, or put redis-server on PATH)", e)
	}
	return a
}

// Stop is StopAll: it stops the Redis that Addr started, if any, and the
// cluster that ClusterFor started, if any. Call it from TestMain.
func Stop() { StopAll() }

// StopAll stops the throwaway redis-server that Addr started and the
// cluster that ClusterFor started, if any, and forgets them: a later Addr or
// ClusterFor finds or starts afresh. Call it from TestMain after m.Run.
func StopAll() {
	mu.Lock()
	if srv != nil && srv.Process != nil {
		_ = srv.Process.Kill()
		_ = srv.Wait()
	}
	found, addr, err, srv = false, "", nil, nil
	mu.Unlock()
	stopSharedCluster()
}

func find() {
	want := os.Getenv("REDIS_ADDR")
	if want == "" {
		want = "127.0.0.1:6379"
	}
	if ping(want) == nil {
		addr = want
		return
	}
	var s *Server
	if s, err = Start(); err == nil {
		addr, srv = s.Addr, s.cmd
	}
}

// A Server is a throwaway redis-server.
type Server struct {
	Addr string
	cmd  *exec.Cmd
	args []string
}

// Start runs a redis-server on a free loopback port, keeping nothing on
// disk, and waits until it answers.
func Start() (*Server, error) { return StartWith() }

// StartWith is Start with more redis-server arguments, such as
// "--rename-command", "HELLO", "".
func StartWith(args ...string) (*Server, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	s := &Server{Addr: fmt.Sprintf("127.0.0.1:%d", port), args: args}
	if err := s.run(); err != nil {
		return nil, err
	}
	return s, nil
}

// run starts the server's process on its port and waits until it answers.
func (s *Server) run() error {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return fmt.Errorf("redis-server is not on PATH: %w", err)
	}
	_, port, _ := net.SplitHostPort(s.Addr)
	args := append([]string{"--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", os.TempDir()}, s.args...)
	cmd := exec.Command(bin, args...)
	if err := cmd.Start(); err != nil {
		return err
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if err = ping(s.Addr); err == nil {
			s.cmd = cmd
			return nil
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			return fmt.Errorf("redis-server on %s did not answer: %w", s.Addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Restart kills the server and starts it again, empty, on the same port,
// as a Redis without persistence comes back from a crash.
func (s *Server) Restart() error {
	s.Stop()
	return s.run()
}

// Stop kills the server and waits for it.
func (s *Server) Stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

// Port returns the server's port.
func (s *Server) Port() int {
	_, p, _ := net.SplitHostPort(s.Addr)
	var n int
	fmt.Sscan(p, &n)
	return n
}

func ping(a string) error {
	c, err := net.DialTimeout("tcp", a, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+PONG") {
		return fmt.Errorf("PING answered %q", strings.TrimSpace(line))
	}
	return nil
}
