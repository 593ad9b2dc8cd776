package rfc

import (
	"strconv"
	"testing"
)

func TestParseRange(t *testing.T) {
	const size = 10000
	tests := []struct {
		header     string
		size       int64
		start, end int64
		outcome    RangeOutcome
	}{
		// RFC 9110 §14.1.2: byte ranges, inclusive.
		{"bytes=0-499", size, 0, 499, RangeSatisfiable},
		{"bytes=500-999", size, 500, 999, RangeSatisfiable},
		{"BYTES=500-999", size, 500, 999, RangeSatisfiable}, // §14.1: units are case-insensitive
		{"bytes=9500-", size, 9500, 9999, RangeSatisfiable},
		{"bytes=0-", size, 0, 9999, RangeSatisfiable},
		{"bytes=0-0", size, 0, 0, RangeSatisfiable},
		{"bytes=9999-9999", size, 9999, 9999, RangeSatisfiable},
		// §14.1.2: last-pos past the end is clamped.
		{"bytes=9500-20000", size, 9500, 9999, RangeSatisfiable},
		{"bytes=0-99999999999999999999999", size, 0, 9999, RangeSatisfiable},
		// §14.1.2: suffix ranges.
		{"bytes=-500", size, 9500, 9999, RangeSatisfiable},
		{"bytes=-10000", size, 0, 9999, RangeSatisfiable},
		{"bytes=-99999999999999999999999", size, 0, 9999, RangeSatisfiable},
		{"bytes=-1", 1, 0, 0, RangeSatisfiable},
		// §5.6.1: OWS and empty elements around the single range.
		{"bytes= 1-2 ,", size, 1, 2, RangeSatisfiable},
		// §14.1.1, §15.5.17: unsatisfiable.
		{"bytes=10000-", size, -1, -1, RangeUnsatisfiable},
		{"bytes=10000-20000", size, -1, -1, RangeUnsatisfiable},
		{"bytes=99999999999999999999999-", size, -1, -1, RangeUnsatisfiable},
		{"bytes=-0", size, -1, -1, RangeUnsatisfiable},
		{"bytes=0-0", 0, -1, -1, RangeUnsatisfiable},
		// §14.1.1: the only satisfiable range of an empty representation is
		// a suffix, which selects nothing: served in full.
		{"bytes=-5", 0, -1, -1, RangeNone},
		// §14.2: several ranges may be ignored: full representation.
		{"bytes=0-1,5-6", size, -1, -1, RangeNone},
		{"bytes=0-1, -1", size, -1, -1, RangeNone},
		{"bytes=20000-,30000-", size, -1, -1, RangeNone},
		// §14.2: an invalid range set is ignored.
		{"", size, -1, -1, RangeNone},
		{"bytes=", size, -1, -1, RangeNone},
		{"bytes= ,", size, -1, -1, RangeNone},
		{"bytes=500-499", size, -1, -1, RangeNone},
		{"bytes=a-b", size, -1, -1, RangeNone},
		{"bytes=1", size, -1, -1, RangeNone},
		{"bytes=-", size, -1, -1, RangeNone},
		{"bytes=--1", size, -1, -1, RangeNone},
		{"bytes=1-2-3", size, -1, -1, RangeNone},
		{"bytes=+1-2", size, -1, -1, RangeNone},
		{"bytes=1 -2", size, -1, -1, RangeNone},
		{"bytes 0-1", size, -1, -1, RangeNone},
		{"bytes:0-1", size, -1, -1, RangeNone},
		{"items=0-1", size, -1, -1, RangeNone},
		{"bytesx=0-1", size, -1, -1, RangeNone},
		{"bytes=0-1", -1, -1, -1, RangeNone},
	}
	for _, tt := range tests {
		start, end, outcome := ParseRange([]byte(tt.header), tt.size)
		if start != tt.start || end != tt.end || outcome != tt.outcome {
			t.Errorf("ParseRange(%q, %d) = %d, %d, %d; want %d, %d, %d",
				tt.header, tt.size, start, end, outcome, tt.start, tt.end, tt.outcome)
		}
	}
}

func TestAppendContentRange(t *testing.T) {
	// RFC 9110 §14.4 and §15.5.17.
	if got := string(AppendContentRange([]byte("x"), 0, 499, 1234)); got != "xbytes 0-499/1234" {
		t.Errorf("got %q", got)
	}
	if got := string(AppendContentRange(nil, -1, -1, 1234)); got != "bytes */1234" {
		t.Errorf("got %q", got)
	}
}

func TestIfRangeAllows(t *testing.T) {
	const date = "Sun, 06 Nov 1994 08:49:37 GMT"
	tests := []struct {
		ifRange, etag string
		lm            int64
		want          bool
	}{
		// RFC 9110 §13.1.5: no If-Range, nothing to check.
		{"", `"a"`, lm, true},
		// §13.1.5: strong comparison (§8.8.3.2) of entity tags.
		{`"a"`, `"a"`, lm, true},
		{` "a" `, `"a"`, lm, true},
		{`"a"`, `"b"`, lm, false},
		{`"a"`, `W/"a"`, lm, false},
		{`W/"a"`, `W/"a"`, lm, false},
		{`W/"a"`, `"a"`, lm, false},
		{`"a"`, "", lm, false},
		{`"`, `"`, lm, false},
		{`"a b"`, `"a b"`, lm, false}, // §8.8.3: not an entity tag
		{`"a", "b"`, `"a", "b"`, lm, false},
		{`""`, `""`, lm, true},
		// §13.1.5: a date must exactly match Last-Modified.
		{date, "", lm, true},
		{date, `"a"`, lm + 500_000_000, true}, // same second
		{"Sunday, 06-Nov-94 08:49:37 GMT", "", lm, true},
		{date, "", lm + 1e9, false},
		{date, "", lm - 1e9, false},
		{date, "", 0, false},
		{"garbage", `"a"`, lm, false},
	}
	for _, tt := range tests {
		if got := IfRangeAllows([]byte(tt.ifRange), []byte(tt.etag), tt.lm); got != tt.want {
			t.Errorf("IfRangeAllows(%q, %q, %d) = %v", tt.ifRange, tt.etag, tt.lm, got)
		}
	}
}

func FuzzParseRange(f *testing.F) {
	for _, s := range []string{"bytes=0-499", "bytes=-500", "bytes=9500-", "bytes=0-1,2-3", "bytes=5-4", "BYTES=-0"} {
		f.Add([]byte(s), int64(10000))
	}
	f.Fuzz(func(t *testing.T, header []byte, size int64) {
		start, end, outcome := ParseRange(header, size)
		switch outcome {
		case RangeSatisfiable:
			if start < 0 || start > end || end >= size {
				t.Fatalf("ParseRange(%q, %d) = %d-%d", header, size, start, end)
			}
			// The selected range, written back, selects itself.
			cr := AppendContentRange(nil, start, end, size)
			want := "bytes " + strconv.FormatInt(start, 10) + "-" + strconv.FormatInt(end, 10) + "/" + strconv.FormatInt(size, 10)
			if string(cr) != want {
				t.Fatalf("Content-Range %q, want %q", cr, want)
			}
			s2, e2, o2 := ParseRange([]byte("bytes="+strconv.FormatInt(start, 10)+"-"+strconv.FormatInt(end, 10)), size)
			if s2 != start || e2 != end || o2 != RangeSatisfiable {
				t.Fatalf("%d-%d reparses to %d-%d, %d", start, end, s2, e2, o2)
			}
		case RangeUnsatisfiable, RangeNone:
			if start != -1 || end != -1 {
				t.Fatalf("ParseRange(%q, %d) = %d, %d, %d", header, size, start, end, outcome)
			}
			if outcome == RangeUnsatisfiable && size < 0 {
				t.Fatalf("unsatisfiable for a negative size")
			}
		default:
			t.Fatalf("outcome %d", outcome)
		}
	})
}

func FuzzIfRange(f *testing.F) {
	f.Add([]byte(`"a"`), []byte(`"a"`), lm)
	f.Add([]byte("Sun, 06 Nov 1994 08:49:37 GMT"), []byte(nil), lm)
	f.Add([]byte(`W/"a"`), []byte(`W/"a"`), int64(0))
	f.Fuzz(func(t *testing.T, ifRange, etag []byte, lastModified int64) {
		got := IfRangeAllows(ifRange, etag, lastModified)
		v := TrimOWS(ifRange)
		if len(v) == 0 && !got {
			t.Fatal("an empty If-Range must allow the range")
		}
		// A strong match is also a weak match (RFC 9110 §8.8.3.2).
		if got && len(v) > 0 && v[0] == '"' && !IfNoneMatchMatches(v, etag) {
			t.Fatalf("%q strongly matches %q but not weakly", v, etag)
		}
	})
}
