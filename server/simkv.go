// The sim command's key-value workload: simulated clients, the linearizability check, and the
// latency and failover figures of the summary line.

package main

import (
	"flag"
	"fmt"
	"io"
	"time"

	"raftlab/raft/kv/kvsim"
	"raftlab/raft/kv/lincheck"
	"raftlab/raft/sim"
)

// kvCheckTimeout bounds the linearizability check of one run.
const kvCheckTimeout = 5 * time.Minute

// kvConfig is what the key-value flags describe.
type kvConfig struct {
	workload string // "" or "kv"
	clients  int
	out      string // directory for the visualization of a non-linearizable history
}

func addKVFlags(fs *flag.FlagSet, cfg *kvConfig) {
	fs.StringVar(&cfg.workload, "workload", "", `"kv": simulated key-value clients (put, append, get, delete) whose history is checked for linearizability`)
	fs.IntVar(&cfg.clients, "clients", kvsim.DefaultClients, "with -workload kv: number of clients, each with one request outstanding")
	fs.StringVar(&cfg.out, "out", ".", "with -workload kv: directory for the HTML visualization of a non-linearizable history")
}

// validate checks the kv flags. With -workload kv the clients are the load: the raw commands
// of -load are off unless -load is given.
func (k kvConfig) validate(fs *flag.FlagSet, load *float64) error {
	switch k.workload {
	case "", "none":
		return nil
	case "kv":
	default:
		return fmt.Errorf("-workload %q: want kv (or none)", k.workload)
	}
	loadSet := false
	fs.Visit(func(f *flag.Flag) { loadSet = loadSet || f.Name == "load" })
	if !loadSet {
		*load = 0
	}
	if k.clients < 1 || k.clients > 1000 {
		return fmt.Errorf("-clients %d: want 1 to 1000", k.clients)
	}
	return nil
}

func (k kvConfig) enabled() bool { return k.workload == "kv" }

// flags returns the key-value flags for a reproduce line.
func (k kvConfig) flags() string {
	if !k.enabled() {
		return ""
	}
	return fmt.Sprintf(" -workload kv -clients %d", k.clients)
}

// kvSummary checks the clients' history and returns the summary fields of a kv run: ops,
// linearizable, commit_p50 and commit_p99, and with crashes among the faults failover_p50 and
// failover_p99 (simulated milliseconds). ok is false when the history is not linearizable; the
// visualization's path and the seed are then written to stderr.
func kvSummary(kc *kvsim.Cluster, cfg simConfig, stderr io.Writer) (fields string, ok bool) {
	r := kc.Check(kvCheckTimeout)
	fields, ok = kvFields(kc.Stats(), r, kc.Metrics(), cfg.faults&sim.FaultCrash != 0)
	if !ok {
		reportNonLinearizable(r, cfg, stderr)
	}
	return fields, ok
}

func kvFields(st kvsim.Stats, r lincheck.Result, m *kvsim.Metrics, crashes bool) (string, bool) {
	lin := "true"
	switch {
	case r.TimedOut():
		lin = "unknown" // the checker ran out of time: not proven either way
	case !r.Ok():
		lin = "false"
	}
	lat := m.CommitLatencies()
	s := fmt.Sprintf(" ops=%d linearizable=%s commit_p50=%.1f commit_p99=%.1f", st.Ops, lin,
		kvsim.Millis(kvsim.Percentile(lat, 50)), kvsim.Millis(kvsim.Percentile(lat, 99)))
	if crashes {
		f := m.Failovers()
		s += fmt.Sprintf(" failover_p50=%.0f failover_p99=%.0f", kvsim.Millis(kvsim.Percentile(f, 50)), kvsim.Millis(kvsim.Percentile(f, 99)))
	}
	return s, lin == "true"
}

func reportNonLinearizable(r lincheck.Result, cfg simConfig, stderr io.Writer) {
	if r.TimedOut() {
		fmt.Fprintf(stderr, "sim: seed=%d: the linearizability check gave up after %v\n", cfg.seed, kvCheckTimeout)
		return
	}
	path, err := r.Report(cfg.kv.out, fmt.Sprintf("seed-%d", cfg.seed))
	if err != nil {
		fmt.Fprintf(stderr, "sim: seed=%d: the history is not linearizable; %v\n", cfg.seed, err)
		return
	}
	fmt.Fprintf(stderr, "sim: seed=%d: the history is not linearizable; visualization: %s\nreproduce: go run ./server sim %s\n", cfg.seed, path, flagLine(cfg))
}
