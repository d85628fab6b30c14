//go:build !js

// The `bench` command: a native cluster in one process over the real transport on loopback,
// measured in two phases, printed as one summary line.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"raftlab/raft"
	"raftlab/raft/kv"
	"raftlab/raft/wire"
	"raftlab/server/internal/boltstore"
	"raftlab/server/internal/member"
	"raftlab/server/internal/peer"
	"raftlab/server/native"
)

const benchUsage = `usage: server bench [-members 3] [-store memory|bbolt] [-clients 64] [-ops 20000] [-seq 2000] [-cpuprofile FILE]

Runs a cluster of native members in this process, each with the key-value store and its own
direct peer links on loopback (TCP, the transport native members use between them), and
measures it in two phases:

  1. throughput: -clients goroutines submit key-value puts to the leader, each its next
     one as soon as its last one committed and applied, until -ops have;
  2. latency: one goroutine submits -seq puts, one at a time.

It prints one line:

  summary: store=memory members=3 clients=64 ops=20000 commits_per_s=… p50_us=… p99_us=…

commits_per_s is from the throughput phase (ops over its wall time); p50_us and p99_us are
the median and 99th percentile of submit-to-applied time in the latency phase. A leader
change during the run is followed and reported on stderr. The figures are wall-clock: on a
shared machine compare runs made side by side (make bench-compare runs hashicorp/raft's
harness, server/bench/hashicorp, the same way).

flags:
`

// runBench runs `server bench`. It returns the exit code: 2 for bad flags, 1 when the cluster
// fails.
func runBench(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("server bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	members := fs.Int("members", 3, "cluster size (1 to 9)")
	store := fs.String("store", "memory", "the members' storage: memory, or bbolt (files in a temporary directory, each write synced)")
	clients := fs.Int("clients", 64, "concurrent submitters in the throughput phase")
	ops := fs.Int("ops", 20000, "commands committed in the throughput phase")
	seq := fs.Int("seq", 2000, "commands submitted one at a time in the latency phase")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of both phases to this file")
	fs.Usage = func() {
		fmt.Fprint(stderr, benchUsage)
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args, "server bench", stderr); !ok {
		return code
	}
	bad := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "server bench: "+format+" (see server bench -h)\n", a...)
		return 2
	}
	switch {
	case fs.NArg() > 0:
		return bad("unexpected argument %q", fs.Arg(0))
	case *members < 1 || *members > 9:
		return bad("-members %d: want 1 to 9", *members)
	case *store != "memory" && *store != "bbolt":
		return bad("-store %q: want memory or bbolt", *store)
	case *clients < 1 || *clients > 10000:
		return bad("-clients %d: want 1 to 10000", *clients)
	case *ops < 1:
		return bad("-ops %d: want at least 1", *ops)
	case *seq < 1:
		return bad("-seq %d: want at least 1", *seq)
	}
	var prof *os.File
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintf(stderr, "server bench: -cpuprofile: %v\n", err)
			return 1
		}
		prof = f
	}
	// RAFTLAB_BENCH_NOGROUP=1 turns native.Config.GroupWrites off, to measure what it gives.
	b := benchRun{members: *members, store: *store, clients: *clients, ops: *ops, seq: *seq, prof: prof, stderr: stderr, group: os.Getenv("RAFTLAB_BENCH_NOGROUP") == ""}
	line, err := b.run()
	if prof != nil {
		prof.Close()
	}
	if err != nil {
		fmt.Fprintf(stderr, "server bench: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, line)
	return 0
}

type benchRun struct {
	members, clients, ops, seq int
	store                      string
	prof                       *os.File
	stderr                     io.Writer

	group   bool // native.Config.GroupWrites
	ctx     context.Context
	nodes   []*native.Node
	stores  []*boltstore.Store
	changes atomic.Int64
	// AppendEntries with entries sent, and the entries they carried.
	apps, appEntries atomic.Int64
}

func (b *benchRun) run() (string, error) {
	dir := ""
	if b.store == "bbolt" {
		d, err := os.MkdirTemp("", "raftlab-bench-")
		if err != nil {
			return "", err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	// One bound on the whole run (not a timer per command, which would cost more than some
	// of what is measured).
	var cancel context.CancelFunc
	b.ctx, cancel = context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	stop, err := b.start(dir)
	defer stop()
	if err != nil {
		return "", err
	}
	leader, err := b.leader()
	if err != nil {
		return "", err
	}
	// The new leader's no-op commits before measuring.
	if err := b.submit(&leader, kv.Request{Command: kv.Put("warm", "up")}.Encode()); err != nil {
		return "", err
	}
	if b.prof != nil {
		if err := pprof.StartCPUProfile(b.prof); err != nil {
			return "", fmt.Errorf("-cpuprofile: %v", err)
		}
		defer pprof.StopCPUProfile()
	}

	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, b.clients)
	cpu0, writes0, apps0, entries0 := cpuTime(), b.writes(), b.apps.Load(), b.appEntries.Load()
	start := time.Now()
	for range b.clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l := leader
			for i := next.Add(1); i <= int64(b.ops); i = next.Add(1) {
				if err := b.submit(&l, kv.Request{Command: kv.Put("k"+strconv.FormatInt(i%1000, 10), "v")}.Encode()); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu, writes := cpuTime()-cpu0, b.writes()-writes0
	apps, entries := b.apps.Load()-apps0, b.appEntries.Load()-entries0
	close(errs)
	if err := <-errs; err != nil {
		return "", err
	}

	lat := make([]time.Duration, 0, b.seq)
	for i := range b.seq {
		t0 := time.Now()
		if err := b.submit(&leader, kv.Request{Command: kv.Put("k"+strconv.Itoa(i%1000), "v")}.Encode()); err != nil {
			return "", err
		}
		lat = append(lat, time.Since(t0))
	}
	slices.Sort(lat)
	fmt.Fprintf(b.stderr, "server bench: store=%s throughput phase: %.1f µs of CPU per commit (user+sys, the whole process)", b.store, float64(cpu.Microseconds())/float64(b.ops))
	if apps > 0 {
		fmt.Fprintf(b.stderr, ", %.1f entries per AppendEntries", float64(entries)/float64(apps))
	}
	if b.stores != nil {
		fmt.Fprintf(b.stderr, ", %.3f synced bbolt transactions per commit (all members)", float64(writes)/float64(b.ops))
	}
	fmt.Fprintln(b.stderr)
	if c := b.changes.Load(); c > 0 {
		fmt.Fprintf(b.stderr, "server bench: %d submits followed a leader change during the run\n", c)
	}
	return fmt.Sprintf("summary: store=%s members=%d clients=%d ops=%d commits_per_s=%.0f p50_us=%d p99_us=%d",
		b.store, b.members, b.clients, b.ops, float64(b.ops)/elapsed.Seconds(), lat[len(lat)/2].Microseconds(), lat[len(lat)*99/100].Microseconds()), nil
}

// start starts the members, each a native node with the key-value store (as `server node`
// runs) and its own peer transport listening on loopback, linked directly to the others: the
// transport native members use between them. The returned function stops everything.
func (b *benchRun) start(dir string) (func(), error) {
	var ids []string
	for i := range b.members {
		ids = append(ids, "n"+strconv.Itoa(i+1))
	}
	quiet := func(string, ...any) {}
	var ts []*peer.Transport
	var stores []*boltstore.Store
	stop := func() {
		for _, n := range b.nodes {
			n.Stop()
		}
		for _, t := range ts {
			t.Close()
		}
		for _, s := range stores {
			s.Close()
		}
	}
	nodes := make([]atomic.Pointer[native.Node], len(ids))
	for i, id := range ids {
		t, err := peer.Listen(peer.Config{Cluster: "bench", ID: id, Logf: quiet, Deliver: func(msgs []raft.Message) bool {
			n := nodes[i].Load()
			return n != nil && n.Deliver(msgs)
		}})
		if err != nil {
			return stop, err
		}
		ts = append(ts, t)
	}
	for i, id := range ids {
		rc := raft.Config{ID: id, Members: ids, Seed: uint64(time.Now().UnixNano()) + uint64(i)}
		// The server's defaults (server -h): pre-vote, check quorum, 1 s election timeout,
		// compaction every 1,000 entries.
		(&wire.Options{PreVote: true, CheckQuorum: true, ElectionTimeoutMs: 1000}).Apply(&rc)
		if dir == "" {
			rc.Storage = raft.NewMapStorage()
		} else {
			s, err := boltstore.Open(member.StorePath(dir, id), "bench", id)
			if err != nil {
				return stop, err
			}
			stores = append(stores, s)
			b.stores = append(b.stores, s)
			rc.Storage = s
		}
		t := ts[i]
		nc := native.Config{Raft: rc, GroupWrites: b.group, Send: func(msgs []raft.Message) {
			for j := range msgs {
				if msgs[j].Type == raft.MsgApp && len(msgs[j].Entries) > 0 {
					b.apps.Add(1)
					b.appEntries.Add(int64(len(msgs[j].Entries)))
				}
				t.Send(&msgs[j]) // a message it cannot send is lost, and Raft retries
			}
		}}
		member.KVApp(&nc, quiet)
		n, err := native.Start(nc)
		if err != nil {
			return stop, err
		}
		nodes[i].Store(n)
		b.nodes = append(b.nodes, n)
	}
	for _, t := range ts {
		for j, id := range ids {
			t.SetPeer(id, ts[j].Addr())
		}
	}
	return stop, nil
}

// writes counts the members' synced bbolt transactions.
func (b *benchRun) writes() uint64 {
	var n uint64
	for _, s := range b.stores {
		n += s.WriteTimes().Count
	}
	return n
}

// leader waits for a leader and returns its node.
func (b *benchRun) leader() (*native.Node, error) {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, n := range b.nodes {
			if n.Status().State == raft.Leader {
				return n, nil
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil, errors.New("no leader within 10s")
}

// submit submits cmd to *leader, following a leader change.
func (b *benchRun) submit(leader **native.Node, cmd []byte) error {
	for range 10 {
		_, err := (*leader).Submit(b.ctx, cmd)
		if err == nil {
			return nil
		}
		var nl *raft.NotLeaderError
		if !errors.As(err, &nl) && !errors.Is(err, native.ErrReplaced) && !errors.Is(err, native.ErrInSnapshot) {
			return err
		}
		b.changes.Add(1)
		if *leader, err = b.leader(); err != nil {
			return err
		}
	}
	return errors.New("no leader took the command in 10 tries")
}

// cpuTime is the CPU time (user and system) the process has used so far: on a shared machine
// CPU per commit moves less with the load than wall-clock figures do.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
