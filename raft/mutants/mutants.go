// Package mutants lists single-rule mutations of the Raft core, each a textual replacement in
// one file: the rule it breaks and whether that breaks safety or only liveness. Its test
// (TestMutants, run by `make mutants` and, for the safety mutants, by `make test`) builds the
// simulator's tests against each mutant through `go test -overlay`, without touching the tree,
// and requires a behavioural check to fail: the live safety checker, or a liveness check.
//
// A mutant whose original text is not found exactly once fails the harness: the core changed
// under it, and the mutant must follow the change.
package mutants

// Kind says what a mutant breaks.
type Kind string

const (
	// Safety mutants break a property the live checker verifies (Election Safety, Log
	// Matching, Leader Completeness, State Machine Safety, no committed entry lost).
	Safety Kind = "safety"
	// Liveness mutants leave every safety property intact but stop progress or misbehave in a
	// way that a liveness check (a leader after healing, commands committed) or a scenario's
	// expected outcome sees.
	Liveness Kind = "liveness"
)

// Mutant is one rule broken alone: Old, which must occur exactly once in File (relative to
// the module's root), is replaced by New.
type Mutant struct {
	Name string
	Rule string
	Kind Kind
	File string
	Old  string
	New  string
	// Unreached, when set, says why the fault search is not yet known to kill this mutant:
	// make mutants runs it and reports it (a survivor counts as one), make test leaves it out.
	Unreached string
}

// List is every mutant, Figure 2's rules first, then the extensions.
var List = []Mutant{
	// ---- RequestVote receiver (Figure 2) ----
	{
		Name: "vote-stale-term",
		Rule: "RequestVote 1: reply false if term < currentTerm (here: grant a stale candidate's request in its term)",
		Kind: Safety, File: "raft/node.go",
		Old: "case MsgVote:\n\t\t\tn.send(Message{Type: MsgVoteReply, To: m.From})",
		New: "case MsgVote:\n\t\t\tn.sendTerm(Message{Type: MsgVoteReply, To: m.From, Success: true}, m.Term)",
	},
	{
		Name: "vote-twice",
		Rule: "RequestVote 2: grant only if votedFor is null or candidateId",
		Kind: Safety, File: "raft/node.go",
		Old: "grant := n.state == Follower && (n.votedFor == \"\" || n.votedFor == m.From) && upToDate",
		New: "grant := n.state == Follower && upToDate",
	},
	{
		Name: "vote-uptodate-index-only",
		Rule: "RequestVote 2, §5.4.1: the candidate's log is at least as up to date (here: compare the last index only)",
		Kind: Safety, File: "raft/node.go",
		Old: "\t\t(m.LastLogTerm == n.log.lastTerm() && m.LastLogIndex >= n.log.lastIndex())\n\tif n.cfg.Bugs.VoteByLogLength {",
		New: "\t\t(m.LastLogTerm == n.log.lastTerm() && m.LastLogIndex >= n.log.lastIndex())\n\tupToDate = m.LastLogIndex >= n.log.lastIndex()\n\tif n.cfg.Bugs.VoteByLogLength {",
	},
	{
		Name: "vote-uptodate-term-only",
		Rule: "RequestVote 2, §5.4.1: the candidate's log is at least as up to date (here: equal last terms, any length)",
		Kind: Safety, File: "raft/node.go",
		Old: "\t\t(m.LastLogTerm == n.log.lastTerm() && m.LastLogIndex >= n.log.lastIndex())\n\tif n.cfg.Bugs.VoteByLogLength {",
		New: "\t\t(m.LastLogTerm == n.log.lastTerm())\n\tif n.cfg.Bugs.VoteByLogLength {",
	},
	{
		Name: "vote-uptodate-strict",
		Rule: "RequestVote 2, §5.4.1: an equally up-to-date log gets the vote (here: only a longer one)",
		Kind: Liveness, File: "raft/node.go",
		Old: "\t\t(m.LastLogTerm == n.log.lastTerm() && m.LastLogIndex >= n.log.lastIndex())\n\tif n.cfg.Bugs.VoteByLogLength {",
		New: "\t\t(m.LastLogTerm == n.log.lastTerm() && m.LastLogIndex > n.log.lastIndex())\n\tif n.cfg.Bugs.VoteByLogLength {",
	},
	{
		Name: "vote-not-persisted",
		Rule: "Persistent state: votedFor is on stable storage before the vote is answered",
		Kind: Safety, File: "raft/node.go",
		Old: "n.persist(KeyVotedFor, encodeVote(term, votedFor))",
		New: "n.persist(KeyVotedFor, encodeVote(term, \"\"))",
	},

	// ---- AppendEntries receiver (Figure 2) ----
	{
		Name: "append-stale-term",
		Rule: "AppendEntries 1: reply false if term < currentTerm",
		Kind: Safety, File: "raft/node.go",
		Old: "\tcase m.Term < n.term:\n",
		New: "\tcase m.Term < n.term && m.Type != MsgApp:\n",
	},
	{
		Name: "append-no-prev-term-check",
		Rule: "AppendEntries 2: reply false if the log has no entry at prevLogIndex of term prevLogTerm",
		Kind: Safety, File: "raft/node.go",
		Old: "case n.log.term(m.PrevLogIndex) != m.PrevLogTerm && !skipCheck:",
		New: "case n.log.term(m.PrevLogIndex) != m.PrevLogTerm && skipCheck:",
	},
	{
		Name: "append-no-truncate",
		Rule: "AppendEntries 3: an existing entry that conflicts with a new one is deleted with all that follow",
		Kind: Safety, File: "raft/node.go",
		Old: "if idx > last || n.log.term(idx) != m.Entries[i].Term {",
		New: "if idx > last {",
	},
	{
		Name: "append-truncate-matching",
		Rule: "AppendEntries 3/4: only a conflicting entry is deleted; entries already held are kept (a late or duplicated AppendEntries must not cut the log)",
		Kind: Safety, File: "raft/node.go",
		Old: "if idx > last || n.log.term(idx) != m.Entries[i].Term {",
		New: "if idx > 0 {",
	},
	{
		Name: "append-prev-term-wrong",
		Rule: "AppendEntries arguments: prevLogTerm is the term of the entry at prevLogIndex (here: of the first entry sent; a follower can never hold that term there, so it only refuses)",
		Kind: Liveness, File: "raft/node.go",
		Old: "PrevLogIndex: next - 1, PrevLogTerm: n.log.term(next - 1)",
		New: "PrevLogIndex: next - 1, PrevLogTerm: n.log.term(next)",
	},
	{
		Name: "append-commit-on-reject",
		Rule: "AppendEntries 5: commitIndex advances only over entries that passed the consistency check (here: also on a rejection, up to prevLogIndex)",
		Kind: Safety, File: "raft/node.go",
		Old: "\tlast := n.log.lastIndex()\n\tskipCheck :=",
		New: "\tlast := n.log.lastIndex()\n\tif c := min(m.Commit, m.PrevLogIndex, last); c > n.commit {\n\t\tn.commit = c\n\t\tn.emit(Event{Kind: EvCommit, Index: c, Term: n.term})\n\t}\n\tskipCheck :=",
	},

	// ---- Rules for all servers (Figure 2) ----
	{
		Name: "term-not-persisted",
		Rule: "Persistent state: currentTerm is on stable storage before it is relied on",
		Kind: Safety, File: "raft/node.go",
		Old: "\t\tn.persist(KeyCurrentTerm, uintBytes(term))\n",
		New: "\n",
	},
	{
		Name: "higher-term-in-reply-ignored",
		Rule: "All servers: a request or response with term T > currentTerm sets currentTerm = T and converts to follower (here: requests only)",
		Kind: Liveness, File: "raft/node.go",
		Old: "\tcase m.Term > n.term:\n",
		New: "\tcase m.Term > n.term && m.Type != MsgAppReply && m.Type != MsgVoteReply:\n",
	},
	{
		Name: "stale-vote-reply-counted",
		Rule: "All servers: a reply from an earlier term is stale and ignored (here: a vote granted in an earlier term counts)",
		Kind: Safety, File: "raft/node.go",
		Old: "\tcase m.Term < n.term:\n",
		New: "\tcase m.Term < n.term && m.Type != MsgVoteReply:\n",
	},
	{
		Name: "stale-append-reply-counted",
		Rule: "All servers: a reply from an earlier term is stale and ignored (here: an AppendEntries success of an earlier term raises matchIndex)",
		Kind: Safety, File: "raft/node.go",
		Old: "\tcase m.Term < n.term:\n",
		New: "\tcase m.Term < n.term && m.Type != MsgAppReply:\n",
		Unreached: "harm needs an acknowledgement delayed across two elections of the same leader, " +
			"its log overwritten in between, and the false match counted toward a commit that is then lost; " +
			"the nemesis delivers ~200 such late acknowledgements to re-elected leaders per 300 seeds, none yet harmful " +
			"(the deterministic TestStaleAppendReplyNotCounted in raft/ plays that schedule and fails on it)",
	},
	{
		Name: "no-flush-before-answer",
		Rule: "Persistence before answering: a received message's writes reach storage before its answers leave",
		Kind: Safety, File: "raft/node.go",
		Old: "\tn.step(&m)\n\tn.flush()\n",
		New: "\tn.step(&m)\n",
	},
	{
		Name: "log-last-not-persisted",
		Rule: "Persistent state: appended entries are on stable storage before they are acknowledged",
		Kind: Safety, File: "raft/node.go",
		Old: "\tn.persist(KeyLogLast, buf[start:len(buf):len(buf)])\n",
		New: "\t_ = start\n",
	},

	// ---- Candidates (Figure 2, §5.2) ----
	{
		Name: "campaign-same-term",
		Rule: "Candidates: on conversion to candidate, increment currentTerm and vote for self",
		Kind: Safety, File: "raft/node.go",
		Old: "n.setTermAndVote(n.term+1, n.id)",
		New: "n.setTermAndVote(max(n.term, 1), n.id)",
	},
	{
		Name: "vote-quorum-short",
		Rule: "Candidates: become leader on votes from a majority (here: one vote short of it)",
		Kind: Safety, File: "raft/node.go",
		Old: "if n.votesWon(n.conf.Voters) < quorumOf(n.conf.Voters) {",
		New: "if n.votesWon(n.conf.Voters) < quorumOf(n.conf.Voters)-1 {",
	},
	{
		Name: "vote-refusal-counted",
		Rule: "Candidates: count only granted votes",
		Kind: Safety, File: "raft/node.go",
		Old: "if n.state == Candidate && m.Success {",
		New: "if n.state == Candidate {",
	},

	// ---- Leaders (Figure 2, §5.3, §5.4.2) ----
	{
		Name: "commit-quorum-short",
		Rule: "Leaders: commit N when a majority has matchIndex ≥ N (here: one replica short of it)",
		Kind: Safety, File: "raft/node.go",
		Old: "return matches[len(matches)-quorumOf(ids)]",
		New: "return matches[len(matches)-quorumOf(ids)+1]",
	},
	{
		Name: "commit-by-counting",
		Rule: "Leaders, §5.4.2: commit by counting replicas only an entry of the current term (Figure 8)",
		Kind: Safety, File: "raft/node.go",
		Old: "(n.log.term(q) != n.term && !n.cfg.Bugs.CommitByCounting)",
		New: "(false && !n.cfg.Bugs.CommitByCounting)",
	},
	{
		Name: "commit-counts-sent",
		Rule: "Leaders: commit from matchIndex, what followers acknowledged (here: nextIndex-1, what was sent)",
		Kind: Safety, File: "raft/node.go",
		Old: "matches = append(matches, pr.Match)",
		New: "matches = append(matches, pr.Next-1)",
	},
	{
		Name: "match-from-next",
		Rule: "Leaders: on success set matchIndex to what the reply acknowledges (here: to everything sent)",
		Kind: Safety, File: "raft/node.go",
		Old: "\t\tif advanced {\n\t\t\tpr.Match = m.Index\n\t\t}",
		New: "\t\tif advanced {\n\t\t\tpr.Match = max(m.Index, pr.Next-1)\n\t\t}",
	},
	{
		Name: "next-not-decremented",
		Rule: "Leaders: after a rejection, decrement nextIndex and retry",
		Kind: Liveness, File: "raft/node.go",
		Old: "pr.Next, pr.Probing, pr.probeSent = next, true, false",
		New: "pr.Next, pr.Probing, pr.probeSent = pr.Next, true, false",
	},
	{
		Name: "no-heartbeat",
		Rule: "Leaders: send heartbeats during idle periods to prevent election timeouts",
		Kind: Liveness, File: "raft/node.go",
		Old: "\t\tn.detectLoss()\n\t\tn.broadcastAppend(true)\n",
		New: "\t\tn.detectLoss()\n",
	},

	// ---- Log compaction and InstallSnapshot (§7, Figure 13) ----
	{
		Name: "compact-uncommitted",
		Rule: "§7: a snapshot covers only entries the application has applied, hence committed (here: the whole log)",
		Kind: Safety, File: "raft/node.go",
		Old: "\tindex := n.applied\n",
		New: "\tindex := max(n.applied, n.log.lastIndex())\n",
	},
	{
		Name: "install-keeps-conflicting-log",
		Rule: "InstallSnapshot 6/7: keep the entries after the snapshot only if the log holds its last entry with its term; else discard the whole log",
		Kind: Safety, File: "raft/node.go",
		Old: "keep := s.Index <= n.log.lastIndex() && s.Index > n.log.offset && n.log.term(s.Index) == s.Term",
		New: "keep := s.Index <= n.log.lastIndex() && s.Index > n.log.offset",
	},
	{
		Name: "install-older-than-commit",
		Rule: "InstallSnapshot: a snapshot that covers no more than what is committed here changes nothing (here: it rolls the state back)",
		Kind: Safety, File: "raft/node.go",
		Old: "\tif m.LastLogIndex <= n.commit {\n\t\t// Everything it holds is committed here already",
		New: "\tif m.LastLogIndex < n.log.offset {\n\t\t// Everything it holds is committed here already",
	},

	// ---- Pre-vote (thesis §9.6) ----
	{
		Name: "prevote-ignores-leader",
		Rule: "Pre-vote: refuse while hearing from a leader (a cut-off node must not depose it)",
		Kind: Liveness, File: "raft/node.go",
		Old: "if m.Term > n.term && upToDate && !n.hearsLeader() {",
		New: "if m.Term > n.term && upToDate {",
	},

	// ---- Check quorum (thesis §6.2) ----
	{
		Name: "checkquorum-never-forgets",
		Rule: "Check quorum: count the followers heard since the last check, not ever",
		Kind: Liveness, File: "raft/node.go",
		Old: "\t\tpr.heard = false\n",
		New: "\n",
	},

	// ---- Membership changes (§6, thesis chapter 4) ----
	{
		Name: "learner-vote-counted",
		Rule: "Configuration: only the voters of the configuration in use elect a leader (here: every vote counts, a learner's or an outsider's too)",
		Kind: Safety, File: "raft/node.go",
		Old: "\t\tif indexOf(ids, id) >= 0 {\n\t\t\tk++",
		New: "\t\tif id != \"\" {\n\t\t\tk++",
	},
	{
		Name: "change-in-flight",
		Rule: "Single-server changes: at most one configuration change in flight (here: a new change before the last one commits)",
		Kind: Safety, File: "raft/membership.go",
		Old: "\tif n.confIndex > n.commit {\n\t\treturn fmt.Errorf(\"%w (%s at index %d)\", ErrChangeInFlight",
		New: "\tif false {\n\t\treturn fmt.Errorf(\"%w (%s at index %d)\", ErrChangeInFlight",
	},
	{
		Name: "commit-counts-learners",
		Rule: "Configuration: a commit rests on a majority of voters (here: learners' acknowledgements count too)",
		Kind: Safety, File: "raft/node.go",
		Old: "\t\tif all || indexOf(ids, n.peers()[i]) >= 0 {",
		New: "\t\tif all || i >= 0 {",
	},
	{
		Name: "joint-commit-new-majority",
		Rule: "Joint consensus (§6): C_old,new commits an entry held by a majority of the old voters and a majority of the new (here: of the new only)",
		Kind: Safety, File: "raft/node.go",
		Old: "\t\tq = min(q, n.quorumMatch(n.conf.Outgoing)) // C_old,new",
		New: "\t\tq = min(q, q) // C_old,new",
	},
	{
		Name: "joint-vote-new-majority",
		Rule: "Joint consensus (§6): a candidate under C_old,new needs the votes of a majority of the old voters and a majority of the new (here: of the new only)",
		Kind: Safety, File: "raft/node.go",
		Old: "return !n.conf.Joint() || n.votesWon(n.conf.Outgoing) >= quorumOf(n.conf.Outgoing)",
		New: "return true",
	},
	// ---- Leadership transfer (thesis §3.10) ----
	{
		Name: "timeoutnow-takes-over",
		Rule: "Leadership transfer: the target wins an election in a new term (here: it leads the old leader's term)",
		Kind: Safety, File: "raft/node.go",
		Old: "\t\t\tn.emit(Event{Kind: EvTimeout, Term: n.term + 1, Peer: m.From})\n\t\t\tn.campaign()\n\t\t}",
		New: "\t\t\tn.becomeLeader()\n\t\t}",
	},
	{
		Name: "transfer-before-caught-up",
		Rule: "Leadership transfer: send TimeoutNow only once the target's log matches the leader's",
		Kind: Liveness, File: "raft/node.go",
		Old: "if pr != nil && pr.Match == n.log.lastIndex() {",
		New: "if pr != nil {",
	},
}
