package main

import "testing"

func TestCount(t *testing.T) {
	for _, tc := range []struct {
		n    int
		want string
	}{{0, "0 checks"}, {1, "1 check"}, {2, "2 checks"}} {
		if got := count(tc.n, "check"); got != tc.want {
			t.Errorf("count(%d, %q) = %q; want %q", tc.n, "check", got, tc.want)
		}
	}
}
