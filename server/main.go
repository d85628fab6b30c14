// Command server is raftlab's native program: it serves the lab page, runs native nodes and the
// WebSocket hub, and runs headless simulations (`server sim`).
package main

import (
	"fmt"
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
		case "help", "-h", "-help", "--help":
			usage()
			return
		}
	}
	fmt.Fprintln(os.Stderr, "raftlab: serving the page is not built yet; try: go run ./server sim -help")
	os.Exit(2)
}

func usage() {
	fmt.Fprint(os.Stderr, `usage:
  server [flags]        serve the lab page (see server -h once serving lands)
  server sim [flags]    run a headless simulation and print a summary line
  server node [flags]   run one native member of a cluster as its own process (see server node -h)
`)
}
