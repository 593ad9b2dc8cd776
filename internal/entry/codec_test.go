package entry

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

func sample() *Entry {
	return &Entry{
		Kind:    KindResponse,
		Head:    true,
		Status:  203,
		Stored:  1700000000123456789,
		Expires: 1700000120123456789,
		Headers: []Header{
			{Key: []byte("Content-Type"), Value: []byte("text/plain"), First: true},
			{Key: []byte("Link"), Value: []byte("</a>"), First: true},
			{Key: []byte("Link"), Value: []byte("</b>")},
		},
		Body: []byte("hello, world"),
	}
}

func TestRoundTrip(t *testing.T) {
	for _, e := range []*Entry{
		sample(),
		{Kind: KindResponse, Status: 204},
		{Kind: KindVary, Names: []string{"accept-encoding", "accept-language"}, Nonce: [16]byte{1, 2, 3}, Expires: 1700000120123456789},
		{Kind: KindGen, Nonce: [16]byte{9, 8, 7}, Expires: 1700000120123456789},
	} {
		got, err := Decode(Encode(e))
		require.NoError(t, err)
		require.Equal(t, e, got)
	}
}

func TestDecodeDoesNotAlias(t *testing.T) {
	b := Encode(sample())
	got, err := Decode(b)
	require.NoError(t, err)
	for i := range b {
		b[i] = 0
	}
	require.Equal(t, "hello, world", string(got.Body))
}

func TestDecodeRejectsGarbage(t *testing.T) {
	good := Encode(sample())
	bad := [][]byte{
		nil,
		[]byte("{\"json\":true}"),
		[]byte("fc"),
		append([]byte{'f', 'c', 99}, good[3:]...), // future version
		append([]byte{'f', 'c', version, 42}, good[4:]...),
		append(append([]byte(nil), good...), 0), // trailing byte
	}
	for i := 1; i < len(good); i++ {
		bad = append(bad, good[:i]) // every truncation
	}
	for _, b := range bad {
		_, err := Decode(b)
		require.Error(t, err, "%q", b)
		require.True(t, errors.Is(err, ErrCorrupt))
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(Encode(sample()))
	f.Add(Encode(&Entry{Kind: KindVary, Names: []string{"x"}}))
	f.Add([]byte("fc\x01\x01\x00\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := Decode(b)
		if err != nil {
			return
		}
		// What decodes must survive a round trip unchanged.
		again, err := Decode(Encode(e))
		require.NoError(t, err)
		require.Equal(t, e, again)
	})
}
