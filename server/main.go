// Command server is raftlab's native program: it serves the lab page, runs native nodes and the
// WebSocket hub, and runs headless simulations (`server sim`).
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

func main() {
	args := os.Args[1:]
	if len(args) > 0 {
		switch args[0] {
		case "sim":
			os.Exit(runSim(args[1:], os.Stdout, os.Stderr))
		case "node":
			os.Exit(runNode(args[1:], os.Stdout, os.Stderr))
		case "scenario":
			os.Exit(runScenario(args[1:], os.Stdout, os.Stderr))
		case "bench":
			os.Exit(runBench(args[1:], os.Stdout, os.Stderr))
		case "export":
			os.Exit(runExport(args[1:], os.Stdout, os.Stderr))
		case "help":
			usage(os.Stderr)
			return
		}
	}
	os.Exit(runServe(args, os.Stdout, os.Stderr))
}

// usage prints the commands; `server -h` prints them after the serve flags.
func usage(w io.Writer) {
	fmt.Fprint(w, `commands:
  server [flags]        serve the lab page on localhost:8080 (see server -h)
  server sim [flags]    run a headless simulation and print a summary line
  server node [flags]   run one native member of a cluster as its own process (see server node -h)
  server scenario check FILE…  validate scenario files and play them headless (exit 0 ok, 1 failed, 2 invalid)
  server bench [flags]  measure a 3-member native cluster on loopback: commits/s and latency (see server bench -h)
  server export -o DIR  write the lab as a static folder for any web host or offline use
`)
}

// parseFlags parses a command's flags. -h prints its usage (fs.Usage) and returns exit code 0;
// a bad flag is said in one line that points to the usage, exit code 2, instead of the error
// above a screenful of usage that scrolls it away. ok is whether the command goes on.
func parseFlags(fs *flag.FlagSet, args []string, name string, stderr io.Writer) (code int, ok bool) {
	full := fs.Usage
	fs.Usage = func() {}
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	fs.SetOutput(stderr)
	fs.Usage = full
	switch {
	case err == nil:
		return 0, true
	case errors.Is(err, flag.ErrHelp):
		full()
		return 0, false
	}
	fmt.Fprintf(stderr, "%s: %v (see %s -h)\n", name, err, name)
	return 2, false
}
