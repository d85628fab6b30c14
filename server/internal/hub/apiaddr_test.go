//go:build !js

package hub

import "testing"

// TestAnnouncedAddr: an address a native host says in hello (its API's, its direct links'), as
// the hub passes it on; an unspecified host is the host the connection comes from.
func TestAnnouncedAddr(t *testing.T) {
	for _, c := range []struct{ api, remote, want string }{
		{"127.0.0.1:8081", "127.0.0.1:5000", "127.0.0.1:8081"},
		{"node2.example.org:8081", "10.0.0.2:5000", "node2.example.org:8081"},
		{":8081", "10.0.0.2:5000", "10.0.0.2:8081"},
		{"0.0.0.0:8081", "10.0.0.2:5000", "10.0.0.2:8081"},
		{"[::]:8081", "[fe80::1]:5000", "[fe80::1]:8081"},
		{"nonsense", "10.0.0.2:5000", ""},
		{"", "10.0.0.2:5000", ""},
	} {
		if got := announcedAddr(c.api, c.remote); got != c.want {
			t.Errorf("announcedAddr(%q, %q) = %q; want %q", c.api, c.remote, got, c.want)
		}
	}
}
