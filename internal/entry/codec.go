package entry

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
)

// Format: magic 'f' 'c', version, kind, then the fields of that kind. Integers
// are uvarints (Unix times as 8 little-endian bytes), byte strings are a
// uvarint length then the bytes. Nothing is JSON or base64.
const (
	magic0  = 'f'
	magic1  = 'c'
	version = 1
)

// ErrCorrupt is wrapped by every Decode error.
var ErrCorrupt = errors.New("fibercache: stored value is not a valid entry")

// Append appends the binary form of e to dst and returns the result.
func Append(dst []byte, e *Entry) []byte {
	dst = append(dst, magic0, magic1, version, byte(e.Kind))
	switch e.Kind {
	case KindResponse:
		var flags byte
		if e.Head {
			flags |= 1
		}
		dst = append(dst, flags)
		dst = binary.AppendUvarint(dst, uint64(e.Status))
		dst = binary.LittleEndian.AppendUint64(dst, uint64(e.Stored))
		dst = binary.LittleEndian.AppendUint64(dst, uint64(e.Expires))
		dst = binary.AppendUvarint(dst, uint64(len(e.Headers)))
		for _, h := range e.Headers {
			dst = appendBytes(dst, h.Key)
			dst = appendBytes(dst, h.Value)
		}
		dst = appendBytes(dst, e.Body)
	case KindVary:
		dst = append(dst, e.Nonce[:]...)
		dst = binary.LittleEndian.AppendUint64(dst, uint64(e.Expires))
		dst = binary.AppendUvarint(dst, uint64(len(e.Names)))
		for _, n := range e.Names {
			dst = binary.AppendUvarint(dst, uint64(len(n)))
			dst = append(dst, n...)
		}
	case KindGen:
		dst = append(dst, e.Nonce[:]...)
		dst = binary.LittleEndian.AppendUint64(dst, uint64(e.Expires))
	}
	return dst
}

// Encode returns the binary form of e.
func Encode(e *Entry) []byte {
	size := 64 + len(e.Body)
	for _, h := range e.Headers {
		size += 8 + len(h.Key) + len(h.Value)
	}
	return Append(make([]byte, 0, size), e)
}

// Decode parses a value made by Encode. The result does not alias b. Any
// malformed, truncated or foreign input returns an error wrapping ErrCorrupt;
// it never panics.
func Decode(b []byte) (*Entry, error) {
	if len(b) < 4 || b[0] != magic0 || b[1] != magic1 {
		return nil, fmt.Errorf("%w: bad magic", ErrCorrupt)
	}
	if b[2] != version {
		return nil, fmt.Errorf("%w: format version %d, want %d", ErrCorrupt, b[2], version)
	}
	e := &Entry{Kind: Kind(b[3])}
	// One copy, which the entry's byte fields then slice.
	d := decoder{b: append([]byte(nil), b[4:]...)}
	switch e.Kind {
	case KindResponse:
		flags := d.byte()
		e.Head = flags&1 != 0
		e.Status = int(d.uvarint(999))
		e.Stored = int64(d.uint64())
		e.Expires = int64(d.uint64())
		n := d.uvarint(uint64(len(d.b) / 2))
		if d.err == nil && n > 0 {
			e.Headers = make([]Header, n)
			for i := range e.Headers {
				h := &e.Headers[i]
				h.Key = d.bytes()
				h.Value = d.bytes()
				h.First = !slices.ContainsFunc(e.Headers[:i], func(o Header) bool { return bytes.Equal(o.Key, h.Key) })
			}
		}
		e.Body = d.bytes()
		if d.err == nil && e.Status < 100 {
			d.err = errors.New("bad status")
		}
	case KindVary:
		d.nonce(&e.Nonce)
		e.Expires = int64(d.uint64())
		n := d.uvarint(uint64(len(d.b)))
		for i := uint64(0); i < n && d.err == nil; i++ {
			e.Names = append(e.Names, string(d.bytes()))
		}
	case KindGen:
		d.nonce(&e.Nonce)
		e.Expires = int64(d.uint64())
	default:
		return nil, fmt.Errorf("%w: unknown kind %d", ErrCorrupt, e.Kind)
	}
	if d.err == nil && len(d.b) != 0 {
		d.err = errors.New("trailing bytes")
	}
	if d.err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, d.err)
	}
	return e, nil
}

func appendBytes(dst, b []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(b)))
	return append(dst, b...)
}

// decoder reads fields until the first error, after which every read
// returns a zero value.
type decoder struct {
	b   []byte
	err error
}

var errShort = errors.New("truncated")

func (d *decoder) byte() byte {
	if d.err != nil || len(d.b) < 1 {
		d.fail(errShort)
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) uint64() uint64 {
	if d.err != nil || len(d.b) < 8 {
		d.fail(errShort)
		return 0
	}
	v := binary.LittleEndian.Uint64(d.b)
	d.b = d.b[8:]
	return v
}

func (d *decoder) uvarint(max uint64) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail(errShort)
		return 0
	}
	if v > max {
		d.fail(fmt.Errorf("value %d out of range", v))
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bytes() []byte {
	n := d.uvarint(uint64(len(d.b)))
	if d.err == nil && n > uint64(len(d.b)) {
		d.fail(errShort)
	}
	if d.err != nil {
		return nil
	}
	if n == 0 {
		return nil
	}
	out := d.b[:n:n]
	d.b = d.b[n:]
	return out
}

func (d *decoder) nonce(dst *[16]byte) {
	if d.err != nil || len(d.b) < len(dst) {
		d.fail(errShort)
		return
	}
	copy(dst[:], d.b)
	d.b = d.b[len(dst):]
}

func (d *decoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
}
