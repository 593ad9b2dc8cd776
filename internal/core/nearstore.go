package core

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/fiber-caches/cache/internal/core/entry"
	"github.com/redis/rueidis"
)

// The near tier's records: copies of Redis records (path records, entries,
// the namespace record, tag records) that Redis tracks for this instance,
// and the rueidis CacheStore (nearStore, one per connection) that keeps them.
//
// Coherence: a record enters the map only in nearStore.Update, on the
// connection's reader goroutine, with the reply of a tracked read (CLIENT
// CACHING YES, then the read, in one transaction: Redis registers the key
// for this connection as it reads it). From then on, every write to the key
// makes Redis queue an invalidation push on that connection, behind the
// reply; the reader goroutine applies it (Delete) before it reads anything
// that follows. So a record is present and alive exactly as long as no
// invalidation of its key has reached this instance yet. A record dies
// (dead, and out of the map) when a push names its key, when a FLUSHALL
// or FLUSHDB (a push naming no key) arrives, when its connection closes
// (Close: pushes may have been lost) or, on a single node, is replaced,
// when a newer read replaces it, when it is evicted, and when this instance
// itself writes its key (nearBackend.dropLocal: an invalidation, a store).
// Whether a live record may answer a request now is the barrier's question
// (barrier.go).
//
// Readers never lock: requests find records through a direct-mapped index
// keyed by a hash of what they know (the key material, a tag), not the
// Redis key, so that a hit computes no SHA-256. An index slot points to a
// record; killing a record clears its slot, and a slot that points to a
// dead record is a miss.
type nearRecord struct {
	key    string // the Redis key
	val    string // the value as rueidis read it; never written to
	owner  *nearStore
	slot   uint16 // the key's Cluster slot (0 on a single node)
	pxat   int64  // Unix ms past which it is not used (its Redis TTL); 0: none
	weight int64
	used   atomic.Int64 // Unix seconds of its last use, for eviction
	dead   atomic.Bool
	ie     atomic.Pointer[nearIndexEntry]
	dec    atomic.Pointer[nearDecoded]
}

// alive reports whether no invalidation of the record's key has reached
// this instance, and its connection is open.
func (r *nearRecord) alive() bool { return !r.dead.Load() && !r.owner.closed.Load() }

// usable reports whether r is alive and not past its TTL at nowMs.
func (r *nearRecord) usable(nowMs int64) bool {
	return r.alive() && (r.pxat == 0 || nowMs < r.pxat)
}

// Kinds of records, as the index knows them.
const (
	nearKindPath uint8 = iota + 1
	nearKindEntry
	nearKindNamespace
	nearKindTag
)

// nearDecoded is a record's value decoded, on first use (never in Update,
// which holds up every reply of its connection). It is kept on the record,
// never in the map, so a decode racing a Delete cannot bring a dead record
// back.
type nearDecoded struct {
	bad   bool // did not decode: never used
	path  *entry.Path
	e     *entry.Entry
	epoch uint64
	seq   uint64
	tag   tagState
}

// decoded returns r's value decoded as a record of kind.
func (r *nearRecord) decoded(kind uint8) *nearDecoded {
	if d := r.dec.Load(); d != nil {
		return d
	}
	d := decodeNear(kind, r.val)
	r.dec.CompareAndSwap(nil, d)
	return r.dec.Load()
}

func decodeNear(kind uint8, v string) *nearDecoded {
	d := &nearDecoded{}
	b := stringBytes(v)
	switch kind {
	case nearKindPath:
		p, err := entry.DecodePath(b)
		d.path, d.bad = p, err != nil
	case nearKindEntry:
		e, err := entry.DecodeOwned(b) // a string: never written to
		d.e, d.bad = e, err != nil
	case nearKindNamespace:
		var ok bool
		d.epoch, d.seq, ok = parseNamespace(b)
		d.bad = !ok
	case nearKindTag:
		d.tag = parseTagRecord(b)
		d.bad = !d.tag.ok
	default:
		d.bad = true
	}
	return d
}

// nearIndexEntry is one slot of the index: a record, the hash it was
// filed under, and what it must match (the path material or the tag; an
// entry is checked against its own key material instead).
type nearIndexEntry struct {
	h        uint64
	kind     uint8
	material string
	rec      *nearRecord
}

// nearShards splits the map's lock.
const nearShards = 64

// nearRecordOverhead is what a record costs beyond its key and value: the
// record, its index entry, the decoded form's headers.
const nearRecordOverhead = 512

// nearMap holds the records, bounded by weight (key, value and overhead),
// and the index requests read them through.
type nearMap struct {
	seed   maphash.Seed
	shards [nearShards]nearShard
	weight atomic.Int64
	max    int64
	cursor atomic.Uint64 // the shard eviction samples next
	table  []atomic.Pointer[nearIndexEntry]
	mask   uint64
}

type nearShard struct {
	mu sync.Mutex
	m  map[uint64]*nearRecord // by the hash of the Redis key
	// sup holds the keys this instance invalidated whose reads in flight
	// may still bring back what it invalidated (nearMap.drop).
	sup map[string]nearSuppress
	_   [32]byte
}

// nearSuppress keeps a key out of the map until a barrier round sent after
// its invalidation has returned on g.
type nearSuppress struct {
	g   *barrierGroup
	seq uint64
}

func (s nearSuppress) over() bool { return s.g.ok.Load() >= s.seq }

// newNearMap returns a map bounded by maxMemory bytes, its index included:
// a slot of 8 bytes per 256 bytes of the bound (a power of two, 16 to 2^20), at
// most an eighth of it.
func newNearMap(maxMemory int) *nearMap {
	n := uint64(16)
	for n < 1<<20 && n*256 < uint64(maxMemory) && (2*n)*8 <= uint64(maxMemory)/8 {
		n <<= 1
	}
	m := &nearMap{seed: maphash.MakeSeed(), table: make([]atomic.Pointer[nearIndexEntry], n), mask: n - 1}
	m.max = max(int64(maxMemory)-int64(n)*8, 0)
	for i := range m.shards {
		m.shards[i].m = map[uint64]*nearRecord{}
	}
	return m
}

func (m *nearMap) shard(h uint64) *nearShard { return &m.shards[h%nearShards] }

// fill puts the reply val to a tracked read of key, made on s's
// connection, into the map; it runs on that connection's reader goroutine.
// It returns the record's expiry for rueidis (0: none).
func (m *nearMap) fill(s *nearStore, key string, val rueidis.RedisMessage, slot uint16) int64 {
	if val.Error() != nil { // a nil (absent key), or an error: nothing to keep
		return 0
	}
	v, err := val.ToString()
	if err != nil {
		return 0
	}
	pxat := max(val.CachePXAT(), 0)
	r := &nearRecord{key: key, val: v, owner: s, slot: slot, pxat: pxat, weight: int64(len(key) + len(v) + nearRecordOverhead)}
	r.used.Store(time.Now().Unix())
	h := maphash.String(m.seed, key)
	sh := m.shard(h)
	sh.mu.Lock()
	if sup, ok := sh.sup[key]; ok {
		if !sup.over() {
			// This instance invalidated the key after this read may have
			// been sent: what it read may be what was invalidated.
			sh.mu.Unlock()
			return 0
		}
		delete(sh.sup, key)
	}
	if s.closed.Load() {
		sh.mu.Unlock()
		return 0
	}
	old := sh.m[h]
	sh.m[h] = r
	m.weight.Add(r.weight)
	if old != nil {
		m.weight.Add(-old.weight)
		m.kill(old)
	}
	sh.mu.Unlock()
	m.evict()
	return pxat
}

// get returns the live record of key, or nil.
func (m *nearMap) get(key string) *nearRecord {
	h := maphash.String(m.seed, key)
	sh := m.shard(h)
	sh.mu.Lock()
	r := sh.m[h]
	sh.mu.Unlock()
	if r == nil || r.key != key || !r.alive() {
		return nil
	}
	return r
}

// delete kills the record of key, if there is one.
func (m *nearMap) delete(key string) {
	h := maphash.String(m.seed, key)
	sh := m.shard(h)
	sh.mu.Lock()
	if r := sh.m[h]; r != nil && r.key == key {
		delete(sh.m, h)
		m.weight.Add(-r.weight)
		m.kill(r)
	}
	sh.mu.Unlock()
}

// drop kills the record of key for an invalidation made by this instance,
// and keeps the key out of the map until a barrier round sent from now on
// has returned on g: a tracked read sent before the invalidation landed
// may bring its reply (what was invalidated) after this, and its push
// (which follows the reply) later still.
func (m *nearMap) drop(key string, g *barrierGroup) {
	h := maphash.String(m.seed, key)
	sh := m.shard(h)
	sh.mu.Lock()
	if sh.sup == nil {
		sh.sup = map[string]nearSuppress{}
	} else if len(sh.sup) >= 64 {
		for k, s := range sh.sup {
			if s.over() {
				delete(sh.sup, k)
			}
		}
	}
	sh.sup[key] = nearSuppress{g: g, seq: g.sent.Load() + 1}
	if r := sh.m[h]; r != nil && r.key == key {
		delete(sh.m, h)
		m.weight.Add(-r.weight)
		m.kill(r)
	}
	sh.mu.Unlock()
}

// clear kills every record for which which returns true (nil: every
// record).
func (m *nearMap) clear(which func(*nearRecord) bool) {
	for i := range m.shards {
		sh := &m.shards[i]
		sh.mu.Lock()
		for h, r := range sh.m {
			if which == nil || which(r) {
				delete(sh.m, h)
				m.weight.Add(-r.weight)
				m.kill(r)
			}
		}
		sh.mu.Unlock()
	}
}

// kill marks r dead and clears its index slot.
func (m *nearMap) kill(r *nearRecord) {
	r.dead.Store(true)
	if ie := r.ie.Load(); ie != nil {
		m.table[ie.h&m.mask].CompareAndSwap(ie, nil)
	}
}

// evict removes records while the map weighs more than its bound: of a
// few sampled, the one used longest ago. Evicting loses cache, never
// coherence.
func (m *nearMap) evict() {
	for tries := 0; m.weight.Load() > m.max && tries < 4*nearShards; tries++ {
		sh := &m.shards[m.cursor.Add(1)%nearShards]
		sh.mu.Lock()
		var (
			victim  *nearRecord
			vh      uint64
			sampled int
		)
		for h, r := range sh.m {
			if victim == nil || r.used.Load() < victim.used.Load() {
				victim, vh = r, h
			}
			if sampled++; sampled == 5 {
				break
			}
		}
		if victim != nil {
			delete(sh.m, vh)
			m.weight.Add(-victim.weight)
			m.kill(victim)
		}
		sh.mu.Unlock()
	}
}

// index files r under h for requests to find, with the decoded value d
// when the caller has it for r's very value.
func (m *nearMap) index(kind uint8, h uint64, material string, r *nearRecord, val string, d *nearDecoded) {
	if d != nil && len(val) == len(r.val) && unsafe.StringData(val) == unsafe.StringData(r.val) {
		r.dec.CompareAndSwap(nil, d)
	}
	ie := &nearIndexEntry{h: h, kind: kind, material: material, rec: r}
	r.ie.Store(ie)
	slot := &m.table[h&m.mask]
	slot.Store(ie)
	if r.dead.Load() {
		// Killed meanwhile: kill read r.ie before or after it was set;
		// either way the slot is cleared.
		slot.CompareAndSwap(ie, nil)
	}
}

// find returns the live record filed under h for material (nil: an entry,
// checked against its key material by the caller), or nil.
func (m *nearMap) find(kind uint8, h uint64, material []byte) *nearRecord {
	ie := m.table[h&m.mask].Load()
	if ie == nil || ie.h != h || ie.kind != kind || (material != nil && ie.material != string(material)) {
		return nil
	}
	if r := ie.rec; r.alive() {
		return r
	}
	return nil
}

// bytes reports the weight of the records held.
func (m *nearMap) bytes() int64 { return m.weight.Load() + int64(len(m.table))*8 }

// nearStore is the rueidis CacheStore of one connection. rueidis calls
// Flight before a tracked read is sent, Update with its reply and Delete
// with invalidation pushes (both on the connection's reader goroutine, in
// the order they arrive), Cancel when a read fails, Close when the
// connection is gone.
type nearStore struct {
	n      *nearBackend
	closed atomic.Bool
}

var _ rueidis.CacheStore = (*nearStore)(nil)

// Flight never answers from the store: the near tier's hits do not go
// through rueidis, and a read it makes must reach Redis (a read already in
// flight may predate an invalidation). For a barrier key it records the
// connection the round goes through; for identify's, it records the
// connection and ends the read, unsent.
func (s *nearStore) Flight(key, _ string, _ time.Duration, _ time.Time) (rueidis.RedisMessage, rueidis.CacheEntry) {
	if isBarrierKey(key) {
		s.n.barrierFlight(key, s)
		return rueidis.RedisMessage{}, nil
	}
	if isIdentifyKey(key) {
		s.n.barrierFlight(key, s)
		return rueidis.RedisMessage{}, identified{}
	}
	s.n.hook(false)
	return rueidis.RedisMessage{}, nil
}

func (s *nearStore) Update(key, _ string, val rueidis.RedisMessage) int64 {
	if isBarrierKey(key) {
		return 0
	}
	s.n.hook(true)
	return s.n.m.fill(s, key, val, s.n.slotOf(key))
}

func (s *nearStore) Cancel(key, _ string, _ error) {
	if !isBarrierKey(key) {
		s.n.hook(true)
	}
}

// Delete applies an invalidation push: the records of keys die, or every
// record for a FLUSHALL or FLUSHDB (nil keys).
func (s *nearStore) Delete(keys []rueidis.RedisMessage) {
	if d := s.n.pushDelay(); d > 0 {
		time.Sleep(d)
	}
	if keys == nil {
		s.n.m.clear(nil)
		return
	}
	for _, k := range keys {
		if key, err := k.ToString(); err == nil {
			s.n.m.delete(key)
		}
	}
}

// Close: the connection is gone, and the pushes it would have carried
// with it. Its records die.
func (s *nearStore) Close(error) {
	s.closed.Store(true)
	s.n.m.clear(func(r *nearRecord) bool { return r.owner == s })
}
