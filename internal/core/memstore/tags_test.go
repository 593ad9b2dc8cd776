package memstore

import (
	"hash/maphash"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTags(t *testing.T) {
	s, err := New(1<<20, maphash.MakeSeed())
	require.NoError(t, err)
	defer s.Close()

	assert.Nil(t, s.Tag("p:1", false), "no record until one is needed")
	before := s.Seq()
	a := s.Tag("p:1", true)
	hard, soft, alive := a.State()
	assert.Equal(t, before, hard, "a new record starts at the current sequence")
	assert.Zero(t, soft)
	assert.True(t, alive)
	assert.Same(t, a, s.Tag("p:1", true), "one record per tag")

	seq := s.InvalidateTags([]string{"p:1", "p:2"}, false)
	assert.Greater(t, seq, before, "every invalidation writes a higher sequence")
	assert.Equal(t, seq, s.Seq())
	hard, _, _ = a.State()
	assert.Equal(t, seq, hard)
	b := s.Tag("p:2", false)
	require.NotNil(t, b, "an invalidation writes a record even where none was")
	hard, _, _ = b.State()
	assert.Equal(t, seq, hard)

	soft2 := s.InvalidateTags([]string{"p:1"}, true)
	hard, soft, _ = a.State()
	assert.Equal(t, seq, hard, "a soft invalidation leaves hard alone")
	assert.Equal(t, soft2, soft)

	// A record that leaves the store is dead: entries holding it are
	// unusable, and its successor starts at the current sequence.
	s.Reset()
	_, _, alive = a.State()
	assert.False(t, alive)
	c := s.Tag("p:1", true)
	assert.NotSame(t, a, c)
	hard, _, _ = c.State()
	assert.Equal(t, s.Seq(), hard)
}

// Eviction marks records dead too: a store far too small for what is put
// in it evicts tag records, and every evicted one says so.
func TestTagsEvicted(t *testing.T) {
	s, err := New(4<<10, maphash.MakeSeed())
	require.NoError(t, err)
	defer s.Close()
	var tags []*Tag
	for i := range 1000 {
		tags = append(tags, s.Tag("tag-"+string(rune('a'+i%26))+string(rune('a'+i/26)), true))
	}
	s.c.CleanUp()
	dead := 0
	for _, tg := range tags {
		if _, _, alive := tg.State(); !alive {
			dead++
			assert.NotSame(t, tg, s.Tag(tg.name, false), "a dead record is not the store's")
		}
	}
	assert.Greater(t, dead, 900, "most of 1000 records do not fit in 4 KiB")
}
