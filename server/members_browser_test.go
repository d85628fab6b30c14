//go:build !js

package main

import (
	"net/http"
	"slices"
	"testing"
)

// A page opened with ?join=b4 hosts a new member that asks to be added: it joins as a learner,
// catches up and becomes a voter; removed through the API, its page says so. Meanwhile the
// cluster keeps committing.
func TestBrowserJoinAndRemove(t *testing.T) {
	b := startBrowser(t)
	base, _, _ := startMixed(t, "127.0.0.1:0", t.TempDir())
	p := b.open(t, "http://"+base+"/?cluster=demo")
	waitUntil(t, "the page's members and a leader", func() bool { c := clusterInfo(t, base); return browsersUp(c) && c.Leader != "" })
	pageSubmit(p, "put x 1")

	j := b.open(t, "http://"+base+"/?cluster=demo&join=b4")
	j.waitFor("the joining page to say it asked", `(JSON.parse(raftlabWasm.mixedSnapshot()).events || []).some((e) => e.text.includes("b4 is not in the cluster's configuration: asked to be added"))`)
	waitUntil(t, "b4 a voter", func() bool {
		return slices.Equal(configInfo(t, base).Voters, []string{"b1", "b2", "b3", "b4", "n1", "n2"})
	})
	j.waitFor("b4's page to tell the change", `(JSON.parse(raftlabWasm.mixedSnapshot()).events || []).some((e) => e.text.includes("b4 uses the configuration of index") && e.text.includes("voters b1,b2,b3,b4,n1,n2"))`)
	p.waitFor("the page's status line to show the configuration", `document.getElementById("status").textContent.endsWith("; voters b1,b2,b3,b4,n1,n2")`)
	pageSubmit(p, "put x 2")

	if code, body := change(t, base, "remove b4"); code != http.StatusOK {
		t.Fatalf("remove b4: %d %s", code, body)
	}
	j.waitFor("b4's page to say it was removed", `!document.getElementById("banner").hidden && document.getElementById("bannerText").textContent.includes("member b4 was removed from cluster demo")`)
	pageSubmit(p, "put x 3")
	p.noProblems()
}
