package rfc

import "testing"

func TestStatus(t *testing.T) {
	// RFC 9110 §15.1: heuristically cacheable statuses; RFC 9111 §5.2.2.3:
	// the statuses this cache understands for must-understand.
	tests := []struct {
		status                int
		cacheable, understood bool
	}{
		{200, true, true}, {203, true, true}, {204, true, true}, {206, true, true},
		{300, true, true}, {301, true, true}, {308, true, true},
		{404, true, true}, {405, true, true}, {410, true, true}, {414, true, true}, {501, true, true},
		{302, false, true}, {303, false, true}, {307, false, true},
		{100, false, false}, {201, false, false}, {304, false, false}, {400, false, false},
		{403, false, false}, {500, false, false}, {503, false, false}, {555, false, false}, {0, false, false},
	}
	for _, tt := range tests {
		if got := CacheableByDefault(tt.status); got != tt.cacheable {
			t.Errorf("CacheableByDefault(%d) = %v", tt.status, got)
		}
		if got := Understood(tt.status); got != tt.understood {
			t.Errorf("Understood(%d) = %v", tt.status, got)
		}
	}
}
