package raft

import (
	"strings"
	"testing"
)

// Event sentences count in words: "1 log entry", never "1 log entries".
func TestEventStringPlural(t *testing.T) {
	for _, tc := range []struct {
		index uint64
		want  string
	}{
		{1, "n1 restored term 2 and 1 log entry from storage"},
		{2, "n1 restored term 2 and 2 log entries from storage"},
		{0, "n1 restored term 2 and 0 log entries from storage"},
	} {
		got := Event{Kind: EvRestore, Node: "n1", Term: 2, Index: tc.index}.String()
		if !strings.HasSuffix(got, tc.want) {
			t.Errorf("restore of %d entries: %q; want it to end in %q", tc.index, got, tc.want)
		}
	}
}
