// Command hashicorp is the comparison harness for `server bench`: the same two phases, on
// hashicorp/raft v1.8.0 instead of raftlab. It is a module of its own so that hashicorp/raft
// and its dependencies stay out of raftlab's module (`make bench-compare` runs it).
//
// Three nodes in one process over hashicorp's TCP transport on loopback, an FSM that only
// counts, log and stable stores in memory or in bbolt files (hashicorp's raft-boltdb). First
// -clients goroutines call Apply on the leader until -ops commands have committed (throughput);
// then one goroutine applies -seq commands one at a time (latency). It prints the line
// `server bench` prints:
//
//	summary: store=memory members=3 clients=64 ops=20000 commits_per_s=… p50_us=… p99_us=…
//
// commits_per_s is from the concurrent phase; p50_us and p99_us from the sequential one.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb"
)

// countFSM only counts what it applies.
type countFSM struct{ n atomic.Uint64 }

func (f *countFSM) Apply(*raft.Log) any { return f.n.Add(1) }

func (f *countFSM) Snapshot() (raft.FSMSnapshot, error) { return countSnap(f.n.Load()), nil }

func (f *countFSM) Restore(r io.ReadCloser) error {
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	n, err := strconv.ParseUint(string(b), 10, 64)
	f.n.Store(n)
	return err
}

type countSnap uint64

func (s countSnap) Persist(sink raft.SnapshotSink) error {
	if _, err := sink.Write([]byte(strconv.FormatUint(uint64(s), 10))); err != nil {
		sink.Cancel()
		return err
	}
	return sink.Close()
}

func (countSnap) Release() {}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("hashicorp", flag.ContinueOnError)
	fs.SetOutput(stderr)
	store := fs.String("store", "memory", "log and stable store: memory or bbolt (raft-boltdb files in a temporary directory)")
	clients := fs.Int("clients", 64, "concurrent Apply callers in the throughput phase")
	ops := fs.Int("ops", 20000, "commands committed in the throughput phase")
	seq := fs.Int("seq", 2000, "commands applied one at a time in the latency phase")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	switch {
	case fs.NArg() > 0:
		fmt.Fprintf(stderr, "hashicorp: unexpected argument %q\n", fs.Arg(0))
		return 2
	case *store != "memory" && *store != "bbolt":
		fmt.Fprintf(stderr, "hashicorp: -store %q: want memory or bbolt\n", *store)
		return 2
	case *clients < 1 || *ops < 1 || *seq < 1:
		fmt.Fprintln(stderr, "hashicorp: -clients, -ops and -seq must be at least 1")
		return 2
	}
	line, err := bench(*store, *clients, *ops, *seq)
	if err != nil {
		fmt.Fprintf(stderr, "hashicorp: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, line)
	return 0
}

func bench(store string, clients, ops, seq int) (string, error) {
	dir, err := os.MkdirTemp("", "raftlab-hashicorp-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	const members = 3
	var nodes []*raft.Raft
	var closers []func()
	defer func() {
		for _, n := range nodes {
			n.Shutdown().Error()
		}
		for _, c := range closers {
			c()
		}
	}()
	var servers []raft.Server
	var transports []*raft.NetworkTransport
	for i := range members {
		t, err := raft.NewTCPTransportWithLogger("127.0.0.1:0", nil, 3, 10*time.Second, hclog.NewNullLogger())
		if err != nil {
			return "", err
		}
		closers = append(closers, func() { t.Close() })
		transports = append(transports, t)
		servers = append(servers, raft.Server{ID: raft.ServerID("n" + strconv.Itoa(i+1)), Address: t.LocalAddr()})
	}
	for i := range members {
		conf := raft.DefaultConfig()
		conf.LocalID = servers[i].ID
		conf.Logger = hclog.NewNullLogger()
		var logs raft.LogStore
		var stable raft.StableStore
		if store == "memory" {
			s := raft.NewInmemStore()
			logs, stable = s, s
		} else {
			s, err := raftboltdb.NewBoltStore(filepath.Join(dir, string(servers[i].ID)+".db"))
			if err != nil {
				return "", err
			}
			closers = append(closers, func() { s.Close() })
			logs, stable = s, s
		}
		if err := raft.BootstrapCluster(conf, logs, stable, raft.NewInmemSnapshotStore(), transports[i], raft.Configuration{Servers: servers}); err != nil {
			return "", err
		}
		n, err := raft.NewRaft(conf, &countFSM{}, logs, stable, raft.NewInmemSnapshotStore(), transports[i])
		if err != nil {
			return "", err
		}
		nodes = append(nodes, n)
	}
	leader := func() (*raft.Raft, error) {
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			for _, n := range nodes {
				if n.State() == raft.Leader {
					return n, nil
				}
			}
			time.Sleep(10 * time.Millisecond)
		}
		return nil, errors.New("no leader within 10s")
	}
	var changes atomic.Int64
	// apply applies cmd, following a leader change.
	apply := func(l **raft.Raft, cmd []byte) error {
		for range 10 {
			err := (*l).Apply(cmd, 10*time.Second).Error()
			if err == nil {
				return nil
			}
			if !errors.Is(err, raft.ErrNotLeader) && !errors.Is(err, raft.ErrLeadershipLost) {
				return err
			}
			changes.Add(1)
			if *l, err = leader(); err != nil {
				return err
			}
		}
		return errors.New("no leader took the command in 10 tries")
	}
	l, err := leader()
	if err != nil {
		return "", err
	}
	if err := apply(&l, []byte("warm up")); err != nil {
		return "", err
	}

	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	cpu0 := cpuTime()
	start := time.Now()
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l := l
			for i := next.Add(1); i <= int64(ops); i = next.Add(1) {
				if err := apply(&l, []byte("put k"+strconv.FormatInt(i%1000, 10)+" v")); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu := cpuTime() - cpu0
	close(errs)
	if err := <-errs; err != nil {
		return "", err
	}

	lat := make([]time.Duration, 0, seq)
	for i := range seq {
		t0 := time.Now()
		if err := apply(&l, []byte("put k"+strconv.Itoa(i%1000)+" v")); err != nil {
			return "", err
		}
		lat = append(lat, time.Since(t0))
	}
	slices.Sort(lat)
	line := fmt.Sprintf("summary: store=%s members=%d clients=%d ops=%d commits_per_s=%.0f p50_us=%d p99_us=%d",
		store, members, clients, ops, float64(ops)/elapsed.Seconds(), lat[len(lat)/2].Microseconds(), lat[len(lat)*99/100].Microseconds())
	fmt.Fprintf(os.Stderr, "hashicorp: store=%s throughput phase: %.1f µs of CPU per commit (user+sys, the whole process)\n", store, float64(cpu.Microseconds())/float64(ops))
	if c := changes.Load(); c > 0 {
		fmt.Fprintf(os.Stderr, "hashicorp: %d leader changes during the run\n", c)
	}
	return line, nil
}

// cpuTime is the CPU time (user and system) the process has used so far: on a shared machine
// CPU per commit moves less with the load than wall-clock figures do.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
