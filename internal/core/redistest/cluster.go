package redistest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// clusterWait bounds how long StartCluster waits for its nodes, for
// redis-cli --cluster create and for cluster_state:ok.
const clusterWait = 20 * time.Second

// A Cluster is a throwaway Redis Cluster of masters without replicas on
// loopback ports, keeping its files in a temporary directory.
type Cluster struct {
	dir   string
	mu    sync.Mutex // guards addrs and cmds, which AddReplica extends
	addrs []string
	cmds  []*exec.Cmd
	once  sync.Once
}

// StartCluster starts n (at least 3) redis-server nodes with cluster mode
// on, joins them with redis-cli --cluster create, and waits until every node
// reports cluster_state:ok. Stop it when done.
func StartCluster(n int) (*Cluster, error) {
	if n < 3 {
		return nil, fmt.Errorf("a Redis Cluster needs at least 3 masters, StartCluster got %d", n)
	}
	server, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, fmt.Errorf("redis-server is not on PATH; install redis-server (apt-get install redis-server, brew install redis): %w", err)
	}
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		return nil, fmt.Errorf("redis-cli is not on PATH; install redis-server, which ships it (apt-get install redis-server, brew install redis): %w", err)
	}
	ports, err := freeClusterPorts(n)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "redistest-cluster-")
	if err != nil {
		return nil, err
	}
	c := &Cluster{dir: dir}
	ctx, cancel := context.WithTimeout(context.Background(), clusterWait)
	defer cancel()
	if err := c.start(ctx, server, cli, ports); err != nil {
		c.Stop()
		return nil, err
	}
	return c, nil
}

func (c *Cluster) start(ctx context.Context, server, cli string, ports []int) error {
	for _, p := range ports {
		if err := c.launch(server, p); err != nil {
			return err
		}
	}
	for i, a := range c.addrs {
		if err := waitFor(ctx, func() error { return ping(a) }); err != nil {
			return fmt.Errorf("cluster node %s did not answer PING within %v: %w%s", a, clusterWait, err, c.logTail(ports[i]))
		}
	}
	args := append([]string{"--cluster", "create"}, c.addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.CommandContext(ctx, cli, args...).CombinedOutput(); err != nil {
		return fmt.Errorf("redis-cli %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	for i, a := range c.addrs {
		if err := waitFor(ctx, func() error { return clusterOK(ctx, a, len(c.addrs)) }); err != nil {
			return fmt.Errorf("cluster node %s not ready within %v: %w%s", a, clusterWait, err, c.logTail(ports[i]))
		}
	}
	return nil
}

// launch starts a cluster-enabled node on port.
func (c *Cluster) launch(server string, port int) error {
	cmd := exec.Command(server,
		"--cluster-enabled", "yes",
		"--cluster-config-file", filepath.Join(c.dir, fmt.Sprintf("nodes-%d.conf", port)),
		"--port", fmt.Sprint(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", c.dir,
		"--repl-diskless-sync-delay", "0",
		"--logfile", c.logFile(port))
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", server, err)
	}
	c.mu.Lock()
	c.cmds = append(c.cmds, cmd)
	c.addrs = append(c.addrs, fmt.Sprintf("127.0.0.1:%d", port))
	c.mu.Unlock()
	return nil
}

// Addrs returns the host:port of every node, e.g. for redis.Config.Addrs.
func (c *Cluster) Addrs() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.addrs...)
}

// Stop kills every node and removes the cluster's temporary directory. It
// is safe to call more than once.
func (c *Cluster) Stop() {
	c.once.Do(func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, cmd := range c.cmds {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
		_ = os.RemoveAll(c.dir)
	})
}

func (c *Cluster) logFile(port int) string {
	return filepath.Join(c.dir, fmt.Sprintf("redis-%d.log", port))
}

// logTail returns the end of a node's log, for error messages.
func (c *Cluster) logTail(port int) string {
	b, _ := os.ReadFile(c.logFile(port))
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	if len(b) == 0 {
		return ""
	}
	return "\nlog of the node:\n" + string(b)
}

// clusterOK reports whether the node at a sees a healthy cluster of n nodes.
func clusterOK(ctx context.Context, a string, n int) error {
	rc := redis.NewClient(&redis.Options{Addr: a, MaxRetries: -1, DialTimeout: time.Second,
		ReadTimeout: time.Second, WriteTimeout: time.Second, DisableIdentity: true})
	defer rc.Close()
	info, err := rc.ClusterInfo(ctx).Result()
	if err != nil {
		return err
	}
	if !strings.Contains(info, "cluster_state:ok") {
		return errors.New("CLUSTER INFO does not report cluster_state:ok")
	}
	if !strings.Contains(info, fmt.Sprintf("cluster_known_nodes:%d\r", n)) {
		return fmt.Errorf("CLUSTER INFO does not report cluster_known_nodes:%d", n)
	}
	return nil
}

// waitFor calls f every 50ms until it succeeds or ctx ends, and returns its
// last error.
func waitFor(ctx context.Context, f func() error) error {
	for {
		err := f()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// freeClusterPorts returns n free loopback ports whose cluster bus ports
// (port+10000) are free too.
func freeClusterPorts(n int) ([]int, error) {
	var held []net.Listener
	defer func() {
		for _, l := range held {
			l.Close()
		}
	}()
	var ports []int
	for tries := 0; len(ports) < n && tries < 100*n; tries++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free loopback port: %w", err)
		}
		held = append(held, l)
		p := l.Addr().(*net.TCPAddr).Port
		if p+10000 > 65535 {
			continue
		}
		bus, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p+10000))
		if err != nil {
			continue
		}
		held = append(held, bus)
		ports = append(ports, p)
	}
	if len(ports) < n {
		return nil, fmt.Errorf("found only %d of %d free loopback ports with a free cluster bus port (port+10000)", len(ports), n)
	}
	return ports, nil
}

var (
	sharedMu      sync.Mutex // guards shared and sharedErr
	shared        *Cluster
	sharedErr     error
	sharedStarted bool
)

// ClusterFor returns a 3-node cluster shared by the tests of this test
// binary, starting it on first use. It fails the test if the cluster cannot
// start. StopAll (or Stop) stops it; call that from TestMain.
func ClusterFor(t testing.TB) *Cluster {
	t.Helper()
	sharedMu.Lock()
	if !sharedStarted {
		shared, sharedErr = StartCluster(3)
		sharedStarted = true
	}
	c, e := shared, sharedErr
	sharedMu.Unlock()
	if e != nil {
		t.Fatalf("no Redis Cluster for the tests: %v", e)
	}
	return c
}

func stopSharedCluster() {
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if shared != nil {
		shared.Stop()
	}
	shared, sharedErr, sharedStarted = nil, nil, false
}
