package core

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"

	"github.com/redis/go-redis/v9"
	"github.com/redis/rueidis"
)

// How the near tier reaches Redis: a rueidis client of its own, built from
// the options of the storage's go-redis client so that it talks to the same
// server (or Cluster), database and user, with client-side caching on in its
// default (OPTIN) tracking mode, never BCAST, never on replicas: a reply and
// the invalidations that precede it then travel on one connection in order,
// which the barrier (barrier.go) relies on.
//
// One connection per node (PipelineMultiplex -1), so that a barrier and the
// tracked reads it vouches for share a socket. Every connection gets a
// store of ours (nearStore, NewCacheStoreFn) and a no-op OnInvalidations,
// which puts it in background mode from the start: a connection in sync
// mode drops invalidation pushes. rueidis's retries are off: a failed call
// falls back to the go-redis path, and the guard bounds it.

// errNearOff says why the near tier is off: no rueidis client can be
// built from the storage's client, Redis refused client-side caching, or
// could not be reached.
type errNearOff struct{ why string }

func (e errNearOff) Error() string { return e.why }

// nearClientOption returns the rueidis options that reach what c reaches,
// and whether c is a Cluster client. stores makes each connection's store.
func nearClientOption(c redis.UniversalClient, stores rueidis.NewCacheStoreFn) (rueidis.ClientOption, bool, error) {
	opt := rueidis.ClientOption{
		PipelineMultiplex: -1,
		NewCacheStoreFn:   stores,
		OnInvalidations:   func([]rueidis.RedisMessage) {},
		DisableRetry:      true,
	}
	switch c := c.(type) {
	case *redis.Client:
		o := c.Options()
		if o.Addr == "FailoverClient" {
			return opt, false, errNearOff{"the storage's client is a Sentinel (failover) client, whose master the near cache cannot follow"}
		}
		if o.StreamingCredentialsProvider != nil {
			return opt, false, errNearOff{"the storage's client uses a StreamingCredentialsProvider, which the near cache cannot use"}
		}
		opt.InitAddress = []string{o.Addr}
		opt.ForceSingleClient = true
		opt.SelectDB = o.DB
		opt.Username, opt.Password, opt.ClientName = o.Username, o.Password, o.ClientName
		opt.Dialer.Timeout = o.DialTimeout
		opt.TLSConfig = cloneTLS(o.TLSConfig)
		opt.AuthCredentialsFn = credentials(o.CredentialsProvider, o.CredentialsProviderContext)
		if o.Network == "unix" {
			opt.DialCtxFn = func(ctx context.Context, dst string, d *net.Dialer, _ *tls.Config) (net.Conn, error) {
				return d.DialContext(ctx, "unix", dst)
			}
		}
		return opt, false, nil
	case *redis.ClusterClient:
		o := c.Options()
		switch {
		case o.StreamingCredentialsProvider != nil:
			return opt, true, errNearOff{"the storage's client uses a StreamingCredentialsProvider, which the near cache cannot use"}
		case o.ClusterSlots != nil:
			return opt, true, errNearOff{"the storage's Cluster client has a ClusterSlots function (a hand-made topology), which the near cache cannot follow"}
		case o.Dialer != nil:
			return opt, true, errNearOff{"the storage's Cluster client has a Dialer of its own, which the near cache cannot use"}
		}
		opt.InitAddress = append([]string(nil), o.Addrs...)
		opt.Username, opt.Password, opt.ClientName = o.Username, o.Password, o.ClientName
		opt.Dialer.Timeout = o.DialTimeout
		opt.TLSConfig = cloneTLS(o.TLSConfig)
		opt.AuthCredentialsFn = credentials(o.CredentialsProvider, o.CredentialsProviderContext)
		return opt, true, nil
	}
	return opt, false, errNearOff{"the storage's client is a " + typeName(c) + "; the near cache needs a *redis.Client or a *redis.ClusterClient"}
}

func cloneTLS(c *tls.Config) *tls.Config {
	if c == nil {
		return nil
	}
	return c.Clone()
}

// credentials turns go-redis's credentials providers into rueidis's, which
// is called for each new connection.
func credentials(p func() (string, string), pc func(context.Context) (string, string, error)) func(rueidis.AuthCredentialsContext) (rueidis.AuthCredentials, error) {
	switch {
	case pc != nil:
		return func(rueidis.AuthCredentialsContext) (rueidis.AuthCredentials, error) {
			u, pw, err := pc(context.Background())
			return rueidis.AuthCredentials{Username: u, Password: pw}, err
		}
	case p != nil:
		return func(rueidis.AuthCredentialsContext) (rueidis.AuthCredentials, error) {
			u, pw := p()
			return rueidis.AuthCredentials{Username: u, Password: pw}, nil
		}
	}
	return nil
}

func typeName(v any) string { return fmt.Sprintf("%T", v) }

// nearTrackingRefused reports whether err says that Redis cannot track
// keys for this client: older than 6, RESP3 refused, CLIENT TRACKING
// disabled or denied.
func nearTrackingRefused(err error) bool { return errors.Is(err, rueidis.ErrNoCache) }

// nearRefusal says why Redis refused client-side caching, from err
// (nearTrackingRefused).
func nearRefusal(err error) string {
	if err == rueidis.ErrNoCache {
		return "Redis refused client-side caching: it does not speak RESP3 (HELLO 3 failed: Redis is older than 6, or HELLO is disabled)"
	}
	// rueidis wraps what Redis answered to CLIENT TRACKING.
	return "Redis refused client-side caching: CLIENT TRACKING failed (disabled, or denied to this user by an ACL): " + err.Error()
}

// Redis Cluster slots, for barriers and confirmations per slot.

// keySlot returns the Cluster slot of key: CRC16 (XMODEM) of its hash tag,
// or of the whole key when it has none, modulo 16384.
func keySlot(key string) uint16 {
	for i := 0; i < len(key); i++ {
		if key[i] == '{' {
			for j := i + 1; j < len(key); j++ {
				if key[j] == '}' {
					if j > i+1 {
						key = key[i+1 : j]
					}
					return crc16(key) & 16383
				}
			}
			break
		}
	}
	return crc16(key) & 16383
}

// crc16 is CRC-16/XMODEM, as Redis Cluster hashes keys.
func crc16(s string) uint16 {
	var crc uint16
	for i := 0; i < len(s); i++ {
		crc = crc<<8 ^ crc16Table[byte(crc>>8)^s[i]]
	}
	return crc
}

// crc16Table is CRC-16/XMODEM's table (polynomial 0x1021).
var crc16Table = func() (t [256]uint16) {
	for i := range t {
		crc := uint16(i) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
		t[i] = crc
	}
	return t
}()

// slotTags returns, for every Cluster slot, a short hash tag that hashes
// to it.
func slotTags() []string {
	tags := make([]string, 16384)
	left := len(tags)
	for i := 0; left > 0; i++ {
		t := strconv.FormatInt(int64(i), 36)
		if s := crc16(t) & 16383; tags[s] == "" {
			tags[s] = t
			left--
		}
	}
	return tags
}
