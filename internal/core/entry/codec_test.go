package entry

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func sample() *Entry {
	e := &Entry{
		Key:                  []byte("v2\x00example.com\x00/p\x00http"),
		Gen:                  42,
		Epoch:                7,
		Flags:                FlagHead | FlagAutoETag,
		Status:               203,
		Stored:               1700000000123456789,
		InitialAge:           3e9,
		FreshUntil:           1700000120123456789,
		KeepUntil:            1700000720123456789,
		StaleWhileRevalidate: -1,
		StaleIfError:         60e9,
		LastModified:         1690000000000000000,
		Seq:                  12345,
		Delta:                2e6,
		Tags:                 []string{"product:42", "/p/:id", "prix-été"},
		Origin: []Header{
			{Key: []byte("Cache-Control"), Value: []byte("max-age=600")},
			{Key: []byte("Vary"), Value: []byte("Accept")},
		},
		Headers: []Header{
			{Key: []byte("Content-Type"), Value: []byte("text/plain")},
			{Key: []byte("Link"), Value: []byte("</a>")},
			{Key: []byte("Etag"), Value: []byte(`"x"`)},
			{Key: []byte("Link"), Value: []byte("</b>")},
		},
		Body: []byte("hello, world"),
	}
	MarkFirst(e.Headers)
	e.ETag = e.Headers[2].Value
	return e
}

func TestRoundTrip(t *testing.T) {
	for _, e := range []*Entry{sample(), {Key: []byte("k"), Status: 204, Stored: 1, FreshUntil: Forever, KeepUntil: Forever, StaleWhileRevalidate: -1, StaleIfError: -1}} {
		got, err := Decode(Encode(e))
		require.NoError(t, err)
		require.Equal(t, e, got)
	}
	p := &Path{Gen: 99, Names: []string{"accept-encoding", "accept-language"}}
	got, err := DecodePath(EncodePath(p))
	require.NoError(t, err)
	require.Equal(t, p, got)
	got, err = DecodePath(EncodePath(&Path{Gen: 1}))
	require.NoError(t, err)
	require.Equal(t, &Path{Gen: 1}, got)
	require.Equal(t, []bool{true, true, true, false}, []bool{got2(0), got2(1), got2(2), got2(3)}, "First marks the first of each name")
}

func got2(i int) bool { return sample().Headers[i].First }

func TestDecodeDoesNotAlias(t *testing.T) {
	b := Encode(sample())
	got, err := Decode(b)
	require.NoError(t, err)
	clear(b)
	require.Equal(t, "hello, world", string(got.Body))
}

func TestDecodeRejectsGarbage(t *testing.T) {
	good := Encode(sample())
	withHeader := func(k, v string) []byte {
		e := sample()
		e.Headers = append(e.Headers, Header{Key: []byte(k), Value: []byte(v)})
		return Encode(e)
	}
	withTag := func(tag string) []byte {
		e := sample()
		e.Tags = append(e.Tags, tag)
		return Encode(e)
	}
	withOrigin := func(k, v string) []byte {
		e := sample()
		e.Origin = append(e.Origin, Header{Key: []byte(k), Value: []byte(v)})
		return Encode(e)
	}
	withStatus := func(s int) []byte {
		e := sample()
		e.Status = s
		return Encode(e)
	}
	bad := [][]byte{
		nil,
		[]byte(`{"json":true}`),
		[]byte("fc"),
		append([]byte{'f', 'c', 99}, good[3:]...), // a future version
		append([]byte{'f', 'c', 1}, good[3:]...),  // the old version
		append([]byte{'f', 'c', responseVersion, 9}, good[4:]...),
		EncodePath(&Path{Gen: 1}),               // a path record is not an entry
		append(append([]byte(nil), good...), 0), // trailing byte
		withHeader("X-Evil", "a\r\nSet-Cookie: x=1"),
		withHeader("Bad Name", "v"),
		withHeader("X-Nul", "a\x00b"),
		withStatus(101),
		withStatus(0),
		withTag(""),
		withTag("a b"),
		withTag("a\r\nb"),
		withTag("a,b"),
		withTag(strings.Repeat("t", MaxTagBytes+1)),
		withOrigin("Cache-Control", "max-age=1\r\nX: y"),
	}
	for i := 1; i < len(good); i++ {
		bad = append(bad, good[:i]) // every truncation
	}
	for _, b := range bad {
		_, err := Decode(b)
		require.Error(t, err, "%q", b)
		require.True(t, errors.Is(err, ErrCorrupt))
	}
	for _, b := range [][]byte{nil, []byte("fc\x02\x01"), []byte("fc\x02\x02abc"), append(EncodePath(&Path{Gen: 1}), "bad name,x"...)} {
		_, err := DecodePath(b)
		require.Error(t, err, "%q", b)
	}
}

// A value that declares huge counts is refused at once, without the work
// or the memory the counts ask for.
func TestDecodeBoundsWork(t *testing.T) {
	b := []byte{'f', 'c', responseVersion, kindResponse, 0}
	b = binary.AppendUvarint(b, 1)
	b = append(b, 'k')
	b = append(b, make([]byte, 16)...) // gen, epoch
	b = binary.AppendUvarint(b, 200)
	b = append(b, make([]byte, 64)...) // times
	b = append(b, make([]byte, 8)...)  // seq
	b = binary.AppendUvarint(b, 0)     // tags
	b = binary.AppendUvarint(b, 0)     // origin
	b = binary.AppendUvarint(b, 0)     // etag index
	b = binary.AppendUvarint(b, 1<<40) // headers
	_, err := Decode(b)
	require.ErrorIs(t, err, ErrCorrupt)

	// MaxHeaders headers decode in linear time (MarkFirst uses a map).
	e := sample()
	e.Headers = nil
	for i := range MaxHeaders {
		e.Headers = append(e.Headers, Header{Key: bytes.Repeat([]byte{'a' + byte(i%26)}, 1+i/26), Value: []byte("v")})
	}
	e.ETag = nil
	got, err := Decode(Encode(e))
	require.NoError(t, err)
	require.Len(t, got.Headers, MaxHeaders)
	e.Headers = append(e.Headers, Header{Key: []byte("one-too-many"), Value: []byte("v")})
	_, err = Decode(Encode(e))
	require.ErrorIs(t, err, ErrCorrupt)
}

func FuzzDecode(f *testing.F) {
	f.Add(Encode(sample()))
	f.Add(EncodePath(&Path{Gen: 3, Names: []string{"x"}}))
	f.Add([]byte("fc\x02\x01\x00\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if p, err := DecodePath(b); err == nil {
			again, err := DecodePath(EncodePath(p))
			require.NoError(t, err)
			require.Equal(t, p, again)
		}
		e, err := Decode(b)
		// DecodeOwned decides as Decode does, and gives the same entry.
		owned, ownedErr := DecodeOwned(bytes.Clone(b))
		require.Equal(t, err == nil, ownedErr == nil, "Decode: %v, DecodeOwned: %v", err, ownedErr)
		if err != nil {
			return
		}
		require.Equal(t, e, owned)
		// What decodes must survive a round trip unchanged.
		again, err := Decode(Encode(e))
		require.NoError(t, err)
		require.Equal(t, e, again)
	})
}
