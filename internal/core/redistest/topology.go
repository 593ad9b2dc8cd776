package redistest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// Changes of a Cluster's topology, for tests of clients that must follow
// them: a slot moving to another master (clients then get MOVED), and a
// replica taking over from its master (CLUSTER FAILOVER). Each waits until
// every node agrees, within clusterWait.

// node returns a client of the node at addr; close it when done.
func node(addr string) *redis.Client {
	return redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DisableIdentity: true})
}

// nodeID returns the cluster ID of the node at addr.
func nodeID(ctx context.Context, addr string) (string, error) {
	n := node(addr)
	defer n.Close()
	return n.ClusterMyID(ctx).Result()
}

// MasterOf returns the address of the master that owns slot, as the
// node at Addrs()[0] sees it.
func (c *Cluster) MasterOf(ctx context.Context, slot int) (string, error) {
	n := node(c.Addrs()[0])
	defer n.Close()
	return masterOf(ctx, n, slot)
}

func masterOf(ctx context.Context, n *redis.Client, slot int) (string, error) {
	slots, err := n.ClusterSlots(ctx).Result()
	if err != nil {
		return "", err
	}
	for _, s := range slots {
		if s.Start <= slot && slot <= s.End && len(s.Nodes) > 0 {
			return s.Nodes[0].Addr, nil
		}
	}
	return "", fmt.Errorf("no node serves slot %d", slot)
}

// Masters returns the address of every master, as the node at Addrs()[0]
// sees them.
func (c *Cluster) Masters(ctx context.Context) ([]string, error) {
	n := node(c.Addrs()[0])
	defer n.Close()
	slots, err := n.ClusterSlots(ctx).Result()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, s := range slots {
		if len(s.Nodes) > 0 && !contains(out, s.Nodes[0].Addr) {
			out = append(out, s.Nodes[0].Addr)
		}
	}
	return out, nil
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// MoveSlot moves slot, and the keys in it, to the master at to, as
// redis-cli --cluster reshard does (IMPORTING, MIGRATING, MIGRATE, SETSLOT
// NODE), and waits until every node says to owns it.
func (c *Cluster) MoveSlot(ctx context.Context, slot int, to string) error {
	ctx, cancel := context.WithTimeout(ctx, clusterWait)
	defer cancel()
	from, err := c.MasterOf(ctx, slot)
	if err != nil || from == to {
		return err
	}
	fromID, err := nodeID(ctx, from)
	if err != nil {
		return err
	}
	toID, err := nodeID(ctx, to)
	if err != nil {
		return err
	}
	src, dst := node(from), node(to)
	defer src.Close()
	defer dst.Close()
	s := strconv.Itoa(slot)
	if err := dst.Do(ctx, "CLUSTER", "SETSLOT", s, "IMPORTING", fromID).Err(); err != nil {
		return fmt.Errorf("SETSLOT IMPORTING: %w", err)
	}
	if err := src.Do(ctx, "CLUSTER", "SETSLOT", s, "MIGRATING", toID).Err(); err != nil {
		return fmt.Errorf("SETSLOT MIGRATING: %w", err)
	}
	host, port, _ := net.SplitHostPort(to)
	for {
		keys, err := src.ClusterGetKeysInSlot(ctx, slot, 100).Result()
		if err != nil {
			return err
		}
		if len(keys) == 0 {
			break
		}
		args := []any{"MIGRATE", host, port, "", 0, 5000, "KEYS"}
		for _, k := range keys {
			args = append(args, k)
		}
		if err := src.Do(ctx, args...).Err(); err != nil {
			return fmt.Errorf("MIGRATE: %w", err)
		}
	}
	masters, err := c.Masters(ctx)
	if err != nil {
		return err
	}
	done := []string{}
	for _, a := range append([]string{to, from}, masters...) {
		if contains(done, a) {
			continue
		}
		done = append(done, a)
		n := node(a)
		err := n.Do(ctx, "CLUSTER", "SETSLOT", s, "NODE", toID).Err()
		n.Close()
		if err != nil {
			return fmt.Errorf("SETSLOT NODE on %s: %w", a, err)
		}
	}
	return c.agree(ctx, func(n *redis.Client) error {
		owner, err := masterOf(ctx, n, slot)
		if err == nil && owner != to {
			err = fmt.Errorf("slot %d still served by %s", slot, owner)
		}
		return err
	})
}

// AddReplica starts a node, makes it a replica of the master at master,
// waits until it has synced, and returns its address. Stop stops it too.
func (c *Cluster) AddReplica(ctx context.Context, master string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, clusterWait)
	defer cancel()
	server, err := exec.LookPath("redis-server")
	if err != nil {
		return "", err
	}
	ports, err := freeClusterPorts(1)
	if err != nil {
		return "", err
	}
	if err := c.launch(server, ports[0]); err != nil {
		return "", err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", ports[0])
	if err := waitFor(ctx, func() error { return ping(addr) }); err != nil {
		return "", fmt.Errorf("new node %s: %w%s", addr, err, c.logTail(ports[0]))
	}
	masterID, err := nodeID(ctx, master)
	if err != nil {
		return "", err
	}
	m := node(master)
	err = m.ConfigSet(ctx, "repl-diskless-sync-delay", "0").Err() // else the master waits 5 s for more replicas
	m.Close()
	if err != nil {
		return "", err
	}
	r := node(addr)
	defer r.Close()
	mh, mp, _ := net.SplitHostPort(master)
	if err := r.ClusterMeet(ctx, mh, mp).Err(); err != nil {
		return "", fmt.Errorf("CLUSTER MEET: %w", err)
	}
	if err := waitFor(ctx, func() error { return r.Do(ctx, "CLUSTER", "REPLICATE", masterID).Err() }); err != nil {
		return "", fmt.Errorf("CLUSTER REPLICATE: %w%s", err, c.logTail(ports[0]))
	}
	if err := waitFor(ctx, func() error { return replicaSynced(ctx, r) }); err != nil {
		return "", fmt.Errorf("replica %s of %s: %w%s", addr, master, err, c.logTail(ports[0]))
	}
	return addr, c.agree(ctx, func(n *redis.Client) error {
		nodes, err := n.ClusterNodes(ctx).Result()
		if err == nil && !strings.Contains(nodes, addr) {
			err = fmt.Errorf("%s does not know %s yet", n.Options().Addr, addr)
		}
		return err
	})
}

// replicaSynced reports whether the replica r is connected to its master
// and in sync.
func replicaSynced(ctx context.Context, r *redis.Client) error {
	info, err := r.Info(ctx, "replication").Result()
	if err != nil {
		return err
	}
	if !strings.Contains(info, "master_link_status:up") || strings.Contains(info, "master_sync_in_progress:1") {
		return errors.New("not in sync with its master yet")
	}
	return nil
}

// Failover makes the replica at replica take over from its master
// (CLUSTER FAILOVER TAKEOVER: at once, without the master's agreement or a
// vote, as an operator does when the master is unreachable; the master
// still runs and becomes a replica), and waits until every node sees
// replica as the master of its slots.
func (c *Cluster) Failover(ctx context.Context, replica string) error {
	ctx, cancel := context.WithTimeout(ctx, clusterWait)
	defer cancel()
	r := node(replica)
	defer r.Close()
	if err := r.Do(ctx, "CLUSTER", "FAILOVER", "TAKEOVER").Err(); err != nil {
		return fmt.Errorf("CLUSTER FAILOVER: %w", err)
	}
	if err := waitFor(ctx, func() error {
		info, err := r.Info(ctx, "replication").Result()
		if err == nil && !strings.Contains(info, "role:master") {
			err = errors.New("not master yet")
		}
		return err
	}); err != nil {
		return err
	}
	return c.agree(ctx, func(n *redis.Client) error {
		masters, err := c.mastersAt(ctx, n)
		if err == nil && !contains(masters, replica) {
			err = fmt.Errorf("%s does not see %s as a master yet", n.Options().Addr, replica)
		}
		return err
	})
}

func (c *Cluster) mastersAt(ctx context.Context, n *redis.Client) ([]string, error) {
	slots, err := n.ClusterSlots(ctx).Result()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, s := range slots {
		if len(s.Nodes) > 0 {
			out = append(out, s.Nodes[0].Addr)
		}
	}
	return out, nil
}

// agree waits until check passes on every node.
func (c *Cluster) agree(ctx context.Context, check func(n *redis.Client) error) error {
	for _, a := range c.Addrs() {
		n := node(a)
		err := waitFor(ctx, func() error { return check(n) })
		n.Close()
		if err != nil {
			return fmt.Errorf("node %s: %w", a, err)
		}
	}
	return nil
}
