package entry

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"github.com/fiber-caches/cache/internal/core/rfc"
)

// Format: magic 'f' 'c', version, kind, then the fields of that kind.
// Integers are uvarints or 8 little-endian bytes, byte strings a uvarint
// length then the bytes. Nothing is JSON or base64.
//
// The two kinds have versions of their own: a response's format can change
// without touching the path records, which every instance of a fleet must
// keep reading during a rolling deploy, since they carry the
// invalidations.
const (
	magic0          = 'f'
	magic1          = 'c'
	responseVersion = 3 // 3: Origin, Tags, Seq and Delta
	pathVersion     = 2

	kindResponse = 1
	kindPath     = 2
)

// Bounds on what an entry may hold. Admission refuses larger responses;
// Decode refuses larger values, so garbage in a shared storage costs
// bounded work.
const (
	MaxHeaders     = 128
	MaxNames       = 16
	MaxHeaderBytes = 64 << 10
	MaxKeyBytes    = 16 << 10
)

// ErrCorrupt is wrapped by every Decode error.
var ErrCorrupt = errors.New("fibercache: stored value is not a valid entry")

// Encode returns the binary form of e.
func Encode(e *Entry) []byte {
	size := 128 + len(e.Key) + len(e.Body)
	for _, h := range e.Headers {
		size += 6 + len(h.Key) + len(h.Value)
	}
	for _, h := range e.Origin {
		size += 6 + len(h.Key) + len(h.Value)
	}
	for _, t := range e.Tags {
		size += 2 + len(t)
	}
	dst := make([]byte, 0, size)
	dst = append(dst, magic0, magic1, responseVersion, kindResponse, e.Flags)
	dst = appendBytes(dst, e.Key)
	dst = binary.LittleEndian.AppendUint64(dst, e.Gen)
	dst = binary.LittleEndian.AppendUint64(dst, e.Epoch)
	dst = binary.AppendUvarint(dst, uint64(e.Status))
	for _, v := range [...]int64{e.Stored, e.InitialAge, e.FreshUntil, e.KeepUntil, e.StaleWhileRevalidate, e.StaleIfError, e.LastModified, e.Delta} {
		dst = binary.LittleEndian.AppendUint64(dst, uint64(v))
	}
	dst = binary.LittleEndian.AppendUint64(dst, e.Seq)
	dst = binary.AppendUvarint(dst, uint64(len(e.Tags)))
	for _, t := range e.Tags {
		dst = appendBytes(dst, []byte(t))
	}
	dst = binary.AppendUvarint(dst, uint64(len(e.Origin)))
	for _, h := range e.Origin {
		dst = appendBytes(dst, h.Key)
		dst = appendBytes(dst, h.Value)
	}
	etag := -1
	for i, h := range e.Headers {
		if len(e.ETag) > 0 && len(h.Value) > 0 && &h.Value[0] == &e.ETag[0] {
			etag = i
		}
	}
	dst = binary.AppendUvarint(dst, uint64(etag+1))
	dst = binary.AppendUvarint(dst, uint64(len(e.Headers)))
	for _, h := range e.Headers {
		dst = appendBytes(dst, h.Key)
		dst = appendBytes(dst, h.Value)
	}
	return appendBytes(dst, e.Body)
}

// Decode parses a value made by Encode and validates it: a status of a
// final response, header names that are tokens, values without CR, LF or
// NUL, sizes within the bounds above, nothing left over. The result does
// not alias b. Anything else returns an error wrapping ErrCorrupt; it never
// panics, and its work is linear in len(b).
func Decode(b []byte) (*Entry, error) {
	if err := header(b, kindResponse); err != nil {
		return nil, err
	}
	return decode(bytes.Clone(b[4:])) // one copy, which the fields slice
}

// DecodeOwned is Decode for a b that nothing will ever write to, such as
// the bytes of a string: the entry's fields slice b instead of a copy.
func DecodeOwned(b []byte) (*Entry, error) {
	if err := header(b, kindResponse); err != nil {
		return nil, err
	}
	return decode(b[4:len(b):len(b)])
}

func decode(b []byte) (*Entry, error) {
	d := decoder{b: b}
	e := &Entry{Flags: d.byte()}
	e.Key = d.bytes(MaxKeyBytes)
	e.Gen = d.uint64()
	e.Epoch = d.uint64()
	e.Status = int(d.uvarint(999))
	for _, p := range [...]*int64{&e.Stored, &e.InitialAge, &e.FreshUntil, &e.KeepUntil, &e.StaleWhileRevalidate, &e.StaleIfError, &e.LastModified, &e.Delta} {
		*p = int64(d.uint64())
	}
	e.Seq = d.uint64()
	if nt := d.uvarint(MaxTags + 1); d.err == nil && nt > 0 {
		e.Tags = make([]string, nt)
		for i := range e.Tags {
			t := d.bytes(MaxTagBytes)
			if d.err == nil && !ValidTag(t) {
				d.fail(fmt.Errorf("tag %d is not a valid tag", i))
			}
			e.Tags[i] = string(t)
		}
	}
	e.Origin = d.headers(3*MaxNames, "origin header")
	etag := d.uvarint(MaxHeaders)
	e.Headers = d.headers(MaxHeaders, "header")
	n := uint64(len(e.Headers))
	if d.err == nil && n > 0 {
		MarkFirst(e.Headers)
		for _, h := range e.Headers {
			if len(h.Key) == len("content-encoding") && bytes.EqualFold(h.Key, []byte("content-encoding")) {
				e.Encoding = h.Value
			}
		}
	}
	if d.err == nil && etag > 0 {
		if etag > n {
			d.fail(errors.New("bad etag index"))
		} else {
			e.ETag = e.Headers[etag-1].Value
		}
	}
	e.Body = d.bytes(uint64(len(d.b)))
	switch {
	case d.err != nil:
	case e.Status < 200:
		d.fail(fmt.Errorf("status %d is not a final response", e.Status))
	case len(d.b) != 0:
		d.fail(errors.New("trailing bytes"))
	case e.Stored <= 0 || e.FreshUntil < 0 || e.KeepUntil < e.FreshUntil || e.InitialAge < 0 || e.StaleWhileRevalidate < -1 || e.StaleIfError < -1:
		d.fail(errors.New("inconsistent times"))
	}
	if d.err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, d.err)
	}
	return e, nil
}

// headers reads a count (at most max) and that many header fields, each a
// valid field name and value, MaxHeaderBytes in all.
func (d *decoder) headers(max uint64, what string) []Header {
	n := d.uvarint(max)
	if d.err != nil || n == 0 {
		return nil
	}
	hs := make([]Header, n)
	size := 0
	for i := range hs {
		h := &hs[i]
		h.Key = d.bytes(MaxHeaderBytes)
		h.Value = d.bytes(MaxHeaderBytes)
		size += len(h.Key) + len(h.Value)
		if d.err == nil && (!rfc.ValidFieldName(h.Key) || !rfc.ValidFieldValue(h.Value)) {
			d.fail(fmt.Errorf("%s %d is not a valid field", what, i))
		}
	}
	if size > MaxHeaderBytes {
		d.fail(fmt.Errorf("%ss too large", what))
	}
	return hs
}

// ValidTag reports whether t may be a tag: 1 to MaxTagBytes visible ASCII
// bytes or bytes of UTF-8, no space, no control byte (CR and LF
// included), no comma.
func ValidTag[S ~string | ~[]byte](t S) bool {
	if len(t) == 0 || len(t) > MaxTagBytes {
		return false
	}
	for i := 0; i < len(t); i++ {
		if c := t[i]; c <= ' ' || c == 0x7f || c == ',' {
			return false
		}
	}
	return true
}

// EncodePath returns the binary form of p.
func EncodePath(p *Path) []byte {
	dst := append(make([]byte, 0, 16+8*len(p.Names)), magic0, magic1, pathVersion, kindPath)
	dst = binary.LittleEndian.AppendUint64(dst, p.Gen)
	return append(dst, strings.Join(p.Names, ",")...)
}

// PathGenOffset is where the 8-byte generation sits in an encoded Path:
// the Redis scripts compare and replace it without decoding.
const PathGenOffset = 4

// DecodePath parses a value made by EncodePath.
func DecodePath(b []byte) (*Path, error) {
	if err := header(b, kindPath); err != nil {
		return nil, err
	}
	if len(b) < 12 {
		return nil, fmt.Errorf("%w: truncated path record", ErrCorrupt)
	}
	p := &Path{Gen: binary.LittleEndian.Uint64(b[4:])}
	if names := b[12:]; len(names) > 0 {
		for n := range bytes.SplitSeq(names, []byte{','}) {
			if len(p.Names) == MaxNames || !rfc.ValidFieldName(n) {
				return nil, fmt.Errorf("%w: bad vary names", ErrCorrupt)
			}
			p.Names = append(p.Names, string(n))
		}
	}
	return p, nil
}

func header(b []byte, kind byte) error {
	version := byte(responseVersion)
	if kind == kindPath {
		version = pathVersion
	}
	switch {
	case len(b) < 4 || b[0] != magic0 || b[1] != magic1:
		return fmt.Errorf("%w: bad magic", ErrCorrupt)
	case b[2] != version:
		return fmt.Errorf("%w: format version %d, want %d", ErrCorrupt, b[2], version)
	case b[3] != kind:
		return fmt.Errorf("%w: record kind %d, want %d", ErrCorrupt, b[3], kind)
	}
	return nil
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

func (d *decoder) bytes(max uint64) []byte {
	n := d.uvarint(max)
	if d.err == nil && n > uint64(len(d.b)) {
		d.fail(errShort)
	}
	if d.err != nil || n == 0 {
		return nil
	}
	out := d.b[:n:n]
	d.b = d.b[n:]
	return out
}

func (d *decoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
}
