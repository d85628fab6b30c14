// Outside the browser the lab has nothing to drive it: say how to build it.

//go:build !(js && wasm)

package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "wasm: this is the lab page's module; build it with `go run build.go` (GOOS=js GOARCH=wasm) and serve it with `go run ./server`")
	os.Exit(2)
}
