package sim

import "testing"

func TestParseFaults(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want FaultSet
	}{
		{"none", 0},
		{"", 0},
		{"crash", FaultCrash},
		{"crash, partition", FaultCrash | FaultPartition},
		{"all", AllFaults},
		{"all,crash", AllFaults},
		{"unreliable,duplicate", FaultUnreliable | FaultDuplicate},
	} {
		got, err := ParseFaults(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseFaults(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{"none,crash", "crash,none", "all,none", "meteor", "crash,meteor"} {
		if got, err := ParseFaults(in); err == nil {
			t.Errorf("ParseFaults(%q) = %v; want an error", in, got)
		}
	}
}
