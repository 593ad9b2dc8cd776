package core

import (
	"bytes"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
)

// FuzzDelLines: whatever lines a response holds, in whatever spellings,
// set however (normalized or not), delLines leaves none of the name it is
// asked to delete, and every other line as it was.
func FuzzDelLines(f *testing.F) {
	f.Add("cache-control:a\nCache-Control:b\nCACHE-CONTROL:c\nX-Other:d", "Cache-Control", false, true)
	f.Add("expires:a\nExpires:b\nx-cache:c", "expires", true, false)
	f.Add("content-type:a\nset-cookie:s=1\nAge:1\nage:2", "age", false, false)
	f.Add("Vary:a\nvary:b\nVARY:c", "vary", true, true)
	f.Add("x-longlonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglong:a\nX-LONGLONGLONGLONGLONGLONGLONGLONGLONGLONGLONGLONGLONGLONGLONGLONGLONGLONGLONGLONG:b", "x-longlonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglonglong", false, true) // longer than delLines' buffer
	f.Fuzz(func(t *testing.T, lines, name string, raw, canonical bool) {
		if !validName(name) || fieldHeader([]byte(name)) {
			return
		}
		var h fasthttp.ResponseHeader
		if raw {
			h.DisableNormalizing()
		}
		for _, l := range strings.Split(lines, "\n") {
			k, v, ok := strings.Cut(l, ":")
			if !ok || !validName(k) || strings.ContainsAny(v, "\r\n\x00") {
				continue
			}
			if canonical {
				h.SetCanonical([]byte(k), []byte(v)) // kept as spelled, replacing its own first line
			} else {
				h.Add(k, v)
			}
		}
		var others []string
		h.VisitAll(func(k, v []byte) {
			if !strings.EqualFold(string(k), name) {
				others = append(others, string(k)+":"+string(v))
			}
		})
		delLines(&h, func(k []byte) bool { return bytes.EqualFold(k, []byte(name)) })
		var left []string
		h.VisitAll(func(k, v []byte) {
			if strings.EqualFold(string(k), name) {
				t.Fatalf("a %q line is left: %q", name, k)
			}
			left = append(left, string(k)+":"+string(v))
		})
		if strings.Join(left, "\n") != strings.Join(others, "\n") {
			t.Fatalf("other lines changed:\n%q\nwant\n%q", left, others)
		}
	})
}

// validName reports whether s is a token fasthttp keeps as a header name.
func validName(s string) bool {
	if s == "" || len(s) > 100 {
		return false
	}
	for i := range len(s) {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}
