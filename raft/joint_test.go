// Joint configurations (the Raft paper's §6): their text in log entries and snapshots (old
// stored data still reads), their quorums, and a snapshot that carries one.

package raft

import (
	"slices"
	"strings"
	"testing"
)

func TestConfigurationText(t *testing.T) {
	for _, tc := range []struct {
		text string
		want Configuration
	}{
		// Written before joint consensus: still read the same.
		{"n1,n2,n3", Configuration{Voters: []string{"n1", "n2", "n3"}}},
		{"n1,n2;n4", Configuration{Voters: []string{"n1", "n2"}, Learners: []string{"n4"}}},
		{"n1,n2,n3>n4,n5,n6", Configuration{Voters: []string{"n4", "n5", "n6"}, Outgoing: []string{"n1", "n2", "n3"}}},
		{"n1,n2>n2,n3;n4", Configuration{Voters: []string{"n2", "n3"}, Outgoing: []string{"n1", "n2"}, Learners: []string{"n4"}}},
	} {
		c, err := ParseConfiguration([]byte(tc.text))
		if err != nil || !c.Equal(tc.want) {
			t.Errorf("%q: %s, %v; want %s", tc.text, c, err, tc.want)
			continue
		}
		if got := EncodeConfiguration(c); got != tc.text {
			t.Errorf("%s encodes as %q; want %q", c, got, tc.text)
		}
	}
	for _, bad := range []string{">n1", "n1>", "n1,n2>n3;n1", "n2,n1>n3", "n1>n2>n3", "n1>n2;n2"} {
		if c, err := ParseConfiguration([]byte(bad)); err == nil {
			t.Errorf("%q read as %s; want an error", bad, c)
		}
	}
	c, _ := ParseConfiguration([]byte("n1,n2,n3>n4,n5,n6;n7"))
	if s := c.String(); s != "voters n1,n2,n3 → n4,n5,n6 (joint) learners n7" {
		t.Errorf("String: %q", s)
	}
	if !c.IsVoter("n1") || !c.IsVoter("n6") || c.IsVoter("n7") || !slices.Equal(c.Members(), []string{"n1", "n2", "n3", "n4", "n5", "n6", "n7"}) {
		t.Errorf("%s: voters or members wrong (%v)", c, c.Members())
	}
}

func TestSnapshotMetaJoint(t *testing.T) {
	joint := Configuration{Voters: []string{"n4", "n5"}, Outgoing: []string{"n1", "n2", "n3"}, Learners: []string{"n6"}}
	b := encodeSnapshotMeta(240, 3, 1, joint)
	if string(b) != "240 3 1 n1,n2,n3>n4,n5 n6" {
		t.Errorf("joint snapshot meta %q", b)
	}
	for _, tc := range []struct {
		text string
		want Configuration
	}{
		{string(b), joint},
		{"240 3 1 n1,n2,n3", Configuration{Voters: []string{"n1", "n2", "n3"}}},                     // stored before joint consensus
		{"240 3 1 n1,n2 n4", Configuration{Voters: []string{"n1", "n2"}, Learners: []string{"n4"}}}, // with learners
	} {
		index, term, slot, c, err := decodeSnapshotMeta([]byte(tc.text))
		if err != nil || index != 240 || term != 3 || slot != 1 || !c.Equal(tc.want) {
			t.Errorf("%q: %d %d %d %s %v; want 240 3 1 %s", tc.text, index, term, slot, c, err, tc.want)
		}
	}
	if _, _, _, _, err := decodeSnapshotMeta([]byte("240 3 1 >n4")); err == nil {
		t.Error("a joint configuration without old voters decoded")
	}
}

func TestJointQuorums(t *testing.T) {
	cfg := func(s string) Configuration {
		c, err := ParseConfiguration([]byte(s))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	joint := cfg("n1,n2,n3>n4,n5,n6")
	for _, tc := range []struct {
		ids  string
		want bool
	}{
		{"n1,n2,n4,n5", true},
		{"n4,n5,n6,n1", false}, // all the new, one of the old
		{"n1,n2,n3,n4", false}, // all the old, one of the new
		{"n2,n3,n5,n6", true},
	} {
		ids := strings.Split(tc.ids, ",")
		if got := joint.HasQuorum(func(id string) bool { return slices.Contains(ids, id) }); got != tc.want {
			t.Errorf("%s: quorum of %s = %t; want %t", tc.ids, joint, got, tc.want)
		}
	}
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"n1,n2,n3", "n1,n2,n3>n4,n5,n6", true},       // C_old and C_old,new
		{"n1,n2,n3>n4,n5,n6", "n4,n5,n6", true},       // C_old,new and C_new
		{"n1,n2,n3", "n4,n5,n6", false},               // C_old and C_new: never at once
		{"n1,n2,n3>n4,n5,n6", "n1,n4", false},         // {n2,n3,n5,n6} and {n1,n4}
		{"n1,n2>n3,n4", "n1,n3,n5", true},             // every joint quorum holds n1 and n3
		{"n1,n2,n3>n2,n3,n4", "n1,n2,n3,n4>n5", true}, // 3 of n1…n4 meet 2 of n1…n3 or of n2…n4
		{"n1,n2,n3>n3,n4,n5", "n1,n4,n6", false},      // {n2,n3,n5} and {n1,n4}: found by the search
		{"n1,n2,n3,n4,n5", "n1,n2,n3,n4,n5,n6", true}, // one server more
		{"n1,n2,n3", "n1,n2,n3,n4,n5", false},         // two more: {n1,n2}, {n3,n4,n5}
		{"n1,n2,n3,n4>n1,n2,n3,n4,n5,n6", "n1,n2,n3,n4,n5,n6", true},
	} {
		a, b := cfg(tc.a), cfg(tc.b)
		if got := QuorumsIntersect(a, b); got != tc.want {
			t.Errorf("QuorumsIntersect(%s, %s) = %t; want %t", a, b, got, tc.want)
		}
		if got := QuorumsIntersect(b, a); got != tc.want {
			t.Errorf("QuorumsIntersect(%s, %s) = %t; want %t", b, a, got, tc.want)
		}
	}
}

// TestJointSnapshotInstalledAndRestored: a follower installs a snapshot whose configuration is
// joint; it uses it, stores it, and a restart from its storage uses it again.
func TestJointSnapshotInstalledAndRestored(t *testing.T) {
	fs := NewMapStorage()
	f := newTestNode(t, "n4", []string{"n1", "n2", "n3"}, fs)
	f.Step(0, Message{Type: MsgSnap, From: "n1", To: "n4", Term: 2, LastLogIndex: 7, LastLogTerm: 2,
		Members: []string{"n4", "n5", "n6"}, Outgoing: []string{"n1", "n2", "n3"}, Data: []byte("state"), Done: true})
	if rd := f.Ready(); rd.Snapshot == nil || !slices.Equal(rd.Snapshot.Outgoing, []string{"n1", "n2", "n3"}) {
		t.Fatalf("installed snapshot %+v; want the joint configuration's old voters in it", rd.Snapshot)
	}
	want := Configuration{Voters: []string{"n4", "n5", "n6"}, Outgoing: []string{"n1", "n2", "n3"}}
	if c, i := f.Configuration(); !c.Equal(want) || i != 7 {
		t.Fatalf("after the install: %s at %d; want %s at 7", c, i, want)
	}
	if v, _ := fs.Get(KeySnapshot); !strings.Contains(string(v), "n1,n2,n3>n4,n5,n6") {
		t.Errorf("stored snapshot meta %q; want the joint configuration", v)
	}
	r := newTestNode(t, "n4", []string{"n1", "n2", "n3"}, fs)
	if c, i := r.Configuration(); !c.Equal(want) || i != 7 {
		t.Fatalf("restored: %s at %d; want %s at 7", c, i, want)
	}
	if !r.mayCampaign() {
		t.Error("a voter of the joint configuration may not campaign")
	}
}

// TestConfigurationStringCountsIDs: a configuration is written for people in counting order
// (the event log and the errors at 10 servers or more), though it keeps its ids sorted as strings.
func TestConfigurationStringCountsIDs(t *testing.T) {
	c := Configuration{Voters: []string{"n1", "n10", "n11", "n2"}, Learners: []string{"n12", "n9"}}
	if got, want := c.String(), "voters n1,n2,n10,n11 learners n9,n12"; got != want {
		t.Errorf("%q; want %q", got, want)
	}
	j := Configuration{Voters: []string{"n10", "n4"}, Outgoing: []string{"n1", "n11", "n2"}}
	if got, want := j.String(), "voters n1,n2,n11 → n4,n10 (joint)"; got != want {
		t.Errorf("%q; want %q", got, want)
	}
}
