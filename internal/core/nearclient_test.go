package core

import (
	"crypto/tls"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// The near tier connects where the storage's client does, or says why it
// cannot.
func TestNearClientOption(t *testing.T) {
	single := redis.NewClient(&redis.Options{Addr: "10.0.0.1:6380", DB: 3, Username: "u", Password: "p",
		ClientName: "app", DialTimeout: 2 * time.Second, TLSConfig: &tls.Config{ServerName: "redis.example"}})
	t.Cleanup(func() { _ = single.Close() })
	opt, cluster, err := nearClientOption(single, nil)
	require.NoError(t, err)
	require.False(t, cluster)
	require.Equal(t, []string{"10.0.0.1:6380"}, opt.InitAddress)
	require.True(t, opt.ForceSingleClient)
	require.Equal(t, 3, opt.SelectDB)
	require.Equal(t, "u", opt.Username)
	require.Equal(t, "p", opt.Password)
	require.Equal(t, "app", opt.ClientName)
	require.Equal(t, 2*time.Second, opt.Dialer.Timeout)
	require.Equal(t, "redis.example", opt.TLSConfig.ServerName)
	require.Equal(t, -1, opt.PipelineMultiplex, "one connection: barriers and tracked reads share it")
	require.NotNil(t, opt.OnInvalidations, "background mode from the start")
	require.Nil(t, opt.ClientTrackingOptions, "default OPTIN tracking, never BCAST")
	require.False(t, opt.SendToReplicas != nil || opt.ReplicaOnly, "never replicas")

	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{"10.0.0.1:7000", "10.0.0.2:7000"}, Password: "p"})
	t.Cleanup(func() { _ = cc.Close() })
	opt, cluster, err = nearClientOption(cc, nil)
	require.NoError(t, err)
	require.True(t, cluster)
	require.Equal(t, []string{"10.0.0.1:7000", "10.0.0.2:7000"}, opt.InitAddress)
	require.Equal(t, "p", opt.Password)

	for name, c := range map[string]redis.UniversalClient{
		"Sentinel": redis.NewFailoverClient(&redis.FailoverOptions{MasterName: "m", SentinelAddrs: []string{"10.0.0.1:26379"}}),
		"Ring":     redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"a": "10.0.0.1:6379"}}),
	} {
		t.Cleanup(func() { _ = c.Close() })
		_, _, err := nearClientOption(c, nil)
		require.Error(t, err, name)
		require.True(t, strings.Contains(err.Error(), name) || strings.Contains(err.Error(), strings.ToLower(name)), "%s: %v", name, err)
	}
}

// Slots are Redis Cluster's: CRC16 (XMODEM) of the hash tag, or of the key.
func TestNearKeySlot(t *testing.T) {
	require.Equal(t, uint16(0x31C3), crc16("123456789"))
	for key, want := range map[string]uint16{
		"foo":                  12182,
		"{user1000}.following": keySlot("user1000"),
		"{user1000}.followers": keySlot("user1000"),
		"foo{}{bar}":           keySlot("foo{}{bar}"),
		"foo{{bar}}zap":        keySlot("{bar"),
	} {
		require.Equal(t, want, keySlot(key), key)
	}
	require.NotEqual(t, keySlot("foo{}{bar}"), keySlot("bar"))
	tags := slotTags()
	for _, s := range []int{0, 1, 5461, 12182, 16383} {
		require.Equal(t, uint16(s), keySlot("{"+tags[s]+"}x"), "slot %d", s)
	}
}
