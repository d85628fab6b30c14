//go:build js

// Serving needs sockets, which a js/wasm build of the server lacks.
package main

import (
	"fmt"
	"io"
)

func runServe(args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "server: serving is not available in a js/wasm build")
	return 2
}
