//go:build js

// The node and bench commands need bbolt and sockets, which a js/wasm build of the server lacks.
package main

import (
	"fmt"
	"io"
)

func runNode(args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "server node: not available in a js/wasm build")
	return 2
}

func runBench(args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "server bench: not available in a js/wasm build")
	return 2
}
