package core

import (
	"crypto/sha256"
	"encoding/hex"
	"unsafe"
)

// storageKeys names the records of one request in a shared storage. Every
// key of a path carries the same Redis Cluster hash tag, so one script can
// read and write them together.
type storageKeys struct {
	path, names, entry string
}

// of returns the keys of k's records, all three in one allocation.
func (f *sharedKeys) of(k *keys) storageKeys {
	ph := sha256.Sum256(k.path())
	eh := sha256.Sum256(k.full())
	var tag [256]byte
	t := append(append(tag[:0], f.prefix...), keyVersion+":{"...)
	t = append(hex.AppendEncode(t, ph[:12]), "}:"...)
	n := len(t)
	b := make([]byte, 0, 3*n+4+32)
	b = append(append(b, t...), 'p')
	b = append(append(b, t...), 'n')
	b = hex.AppendEncode(append(append(b, t...), "e:"...), eh[:16])
	s := unsafe.String(unsafe.SliceData(b), len(b)) // b is not written again
	return storageKeys{path: s[:n+1], names: s[n+1 : 2*n+2], entry: s[2*n+2:]}
}

func (f *sharedKeys) pathKey(pathMaterial []byte) string {
	ph := sha256.Sum256(pathMaterial)
	return f.prefix + keyVersion + ":{" + hex.EncodeToString(ph[:12]) + "}:p"
}

// sharedKeys derives storage keys under a prefix. The namespace record
// (the epoch and the tag sequence) and the tag records share a hash tag of
// their own, so that on Redis Cluster one script reads and writes them
// together.
type sharedKeys struct{ prefix, ns, epoch string }

func newSharedKeys(prefix string) sharedKeys {
	h := sha256.Sum256([]byte("ns\x00" + prefix))
	ns := prefix + keyVersion + ":{" + hex.EncodeToString(h[:8]) + "}:"
	return sharedKeys{prefix: prefix, ns: ns, epoch: ns + "epoch"}
}

// epochKey names the namespace record.
func (f *sharedKeys) epochKey() string { return f.epoch }

// tagKey names the record of a tag.
func (f *sharedKeys) tagKey(tag string) string {
	h := sha256.Sum256([]byte(tag))
	return f.ns + "t:" + hex.EncodeToString(h[:16])
}
