// The `sim` subcommand: a headless simulation, summarized in one line.

package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"raftlab/raft"
	"raftlab/raft/kv/kvsim"
	"raftlab/raft/sim"
)

// simConfig is what the sim flags describe.
type simConfig struct {
	seed        uint64
	nodes       int
	duration    time.Duration
	faults      sim.FaultSet
	load        float64
	verbose     bool
	preVote     bool
	checkQuorum bool
	compact     int
	membership  bool
	joint       bool
	kv          kvConfig
}

func parseSimFlags(args []string, stderr io.Writer) (simConfig, error) {
	var cfg simConfig
	fs := flag.NewFlagSet("sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Uint64Var(&cfg.seed, "seed", 1, "seed of every random choice: the same flags give the same run")
	fs.IntVar(&cfg.nodes, "nodes", 5, "cluster size, 3 to 9")
	fs.DurationVar(&cfg.duration, "duration", 60*time.Second, "simulated time to run (Go duration, e.g. 600s)")
	faults := fs.String("faults", "none", "comma-separated faults: crash, partition, unreliable, duplicate; or all, or none")
	fs.Float64Var(&cfg.load, "load", 10, "client commands per simulated second, submitted to the leader")
	fs.BoolVar(&cfg.verbose, "v", false, "print every trace event")
	fs.BoolVar(&cfg.preVote, "prevote", false, "nodes ask for pre-votes before they start an election (Raft thesis 9.6)")
	fs.BoolVar(&cfg.checkQuorum, "checkquorum", false, "a leader that has not heard from a majority within an election timeout steps down")
	fs.IntVar(&cfg.compact, "compact", 0, "log compaction: a node takes a snapshot once more than this many entries were applied since its last (0: never)")
	fs.BoolVar(&cfg.membership, "membership", false, "random membership changes: servers of n1…n15 join, leave and are replaced every 1–3 s (-nodes is the initial size)")
	fs.BoolVar(&cfg.joint, "joint", false, "with -membership: change the members by joint consensus (Raft paper §6) instead of one server at a time; every change of the voters passes through a joint configuration, and up to three servers are replaced at once")
	addKVFlags(fs, &cfg.kv)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: server sim [flags]\n\nRuns a simulated cluster and prints a summary: line of key=value pairs.\nExit status: 0 ok, 1 a safety check failed or the kv history is not linearizable, 2 bad flags.\n\nflags:")
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args, "server sim", stderr); !ok {
		if code == 0 {
			return cfg, flag.ErrHelp
		}
		return cfg, errSaid
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if cfg.nodes < 3 || cfg.nodes > 9 {
		return cfg, fmt.Errorf("-nodes %d: want 3 to 9", cfg.nodes)
	}
	if cfg.duration <= 0 {
		return cfg, fmt.Errorf("-duration %v: want a positive duration such as 600s", cfg.duration)
	}
	if !(cfg.load >= 0 && cfg.load <= maxLoad) { // NaN too
		return cfg, fmt.Errorf("-load %v: want 0 to %d commands per second", cfg.load, maxLoad)
	}
	if n := cfg.load * cfg.duration.Seconds(); n > maxCommands {
		return cfg, fmt.Errorf("-load %v over -duration %v is %.0f commands; at most %d fit in memory, shorten the run", cfg.load, cfg.duration, n, maxCommands)
	}
	if cfg.compact < 0 || cfg.compact > 1_000_000_000 {
		return cfg, fmt.Errorf("-compact %d: want 0 (never) to 1000000000 entries", cfg.compact)
	}
	if cfg.joint && !cfg.membership {
		return cfg, errors.New("-joint chooses how -membership changes the members: use it with -membership")
	}
	if err := cfg.kv.validate(fs, &cfg.load); err != nil {
		return cfg, err
	}
	var err error
	if cfg.faults, err = sim.ParseFaults(*faults); err != nil {
		return cfg, fmt.Errorf("-faults: %v", err)
	}
	return cfg, nil
}

// errSaid is a flag error that parseFlags has already said.
var errSaid = errors.New("bad flag, said")

// Bounds of -load: the whole schedule of commands is built before the run starts.
const (
	maxLoad     = 100_000
	maxCommands = 10_000_000
)

// runSim runs the simulation and returns the exit status.
func runSim(args []string, stdout, stderr io.Writer) int {
	cfg, err := parseSimFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if errors.Is(err, errSaid) {
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "server sim: %v (see server sim -h)\n", err)
		return 2
	}
	opts := sim.Options{Nodes: cfg.nodes, Seed: cfg.seed, UnreliableFromEnv: true, Raft: raft.Config{PreVote: cfg.preVote, CheckQuorum: cfg.checkQuorum, CompactThreshold: cfg.compact, JointConsensus: cfg.joint}}
	if cfg.verbose {
		opts.OnEvent = func(e raft.Event) { fmt.Fprintln(stdout, e) }
	}
	var c *sim.Cluster
	var kc *kvsim.Cluster // with -workload kv
	if cfg.kv.enabled() {
		kc, err = kvsim.New(opts, kvsim.Options{Clients: cfg.kv.clients, Seed: cfg.seed})
		if kc != nil {
			c = kc.Cluster
		}
	} else {
		c, err = sim.New(opts)
	}
	if err != nil {
		fmt.Fprintf(stderr, "sim: %v\n", err)
		return 2
	}
	c.Schedule(sim.RandomFaults(cfg.seed, c.IDs(), cfg.duration, cfg.faults)...)
	c.Schedule(sim.Load(cfg.seed, cfg.duration, cfg.load)...)
	switch {
	case cfg.joint:
		c.Schedule(sim.RandomJointMembership(cfg.seed, c.IDs(), cfg.duration)...)
	case cfg.membership:
		c.Schedule(sim.RandomMembership(cfg.seed, c.IDs(), cfg.duration)...)
	}
	start := time.Now()
	if kc != nil {
		kc.RunUntil(cfg.duration) // runs the clients too
	} else {
		c.RunUntil(cfg.duration)
	}
	wall := time.Since(start).Seconds()
	simulated := c.Now().Seconds()
	violations := 0
	if err := c.Violation(); err != nil {
		violations = 1
		fmt.Fprintf(stderr, "sim: %v\nreproduce: go run ./server sim %s\n", err, flagLine(cfg))
	}
	kvFields, linearizable := "", true
	if kc != nil {
		kvFields, linearizable = kvSummary(kc, cfg, stderr)
	}
	snapFields := ""
	if cfg.compact > 0 {
		snapFields = fmt.Sprintf(" snapshots=%d installs=%d", c.Snapshots(), c.Installs())
	}
	if cfg.membership {
		snapFields += fmt.Sprintf(" changes=%d", c.Changes())
	}
	fmt.Fprintf(stdout, "summary: seed=%d nodes=%d simulated=%.3f faults=%s load=%g elections=%d committed=%d%s violations=%d trace=%s events=%d wall=%.3f speed=%.0f%s\n",
		cfg.seed, cfg.nodes, simulated, cfg.faults, cfg.load, c.Elections(), c.Committed(), snapFields, violations,
		c.TraceHash(), c.Events(), wall, simulated/max(wall, 1e-9), kvFields)
	if violations > 0 || !linearizable {
		return 1
	}
	return 0
}

func flagLine(cfg simConfig) string {
	line := fmt.Sprintf("-seed %d -nodes %d -duration %v -faults %s -load %g", cfg.seed, cfg.nodes, cfg.duration, cfg.faults, cfg.load)
	if cfg.preVote {
		line += " -prevote"
	}
	if cfg.checkQuorum {
		line += " -checkquorum"
	}
	if cfg.compact > 0 {
		line += fmt.Sprintf(" -compact %d", cfg.compact)
	}
	if cfg.membership {
		line += " -membership"
	}
	if cfg.joint {
		line += " -joint"
	}
	return line + cfg.kv.flags()
}
