//go:build js

// The node command needs bbolt and sockets, which a js/wasm build of the server lacks.
package main

import (
	"fmt"
	"io"
)

func runNode(args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "server node: not available in a js/wasm build")
	return 2
}
