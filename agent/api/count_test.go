package api

import "testing"

func TestCount(t *testing.T) {
	tests := []struct {
		n    int
		noun string
		want string
	}{
		{0, "file", "0 files"},
		{1, "file", "1 file"},
		{2, "file", "2 files"},
		{1, "query", "1 query"},
		{3, "query", "3 queries"},
		{2, "DNS query", "2 DNS queries"},
		{2, "key", "2 keys"},
		{2, "process", "2 processes"},
		{2, "box", "2 boxes"},
		{2, "match", "2 matches"},
		{-1, "rule", "-1 rules"},
	}
	for _, tt := range tests {
		if got := Count(tt.n, tt.noun); got != tt.want {
			t.Errorf("Count(%d, %q) = %q, want %q", tt.n, tt.noun, got, tt.want)
		}
	}
	if got := Count(uint64(1), "stream"); got != "1 stream" {
		t.Errorf("Count(uint64(1)) = %q", got)
	}
	p := PolicyInfo{Files: []string{"a.yaml"}, Groups: 1, Rules: 0}
	if got := p.Summary(); got != "1 file, 1 group, 0 rules" {
		t.Errorf("Summary = %q", got)
	}
}
