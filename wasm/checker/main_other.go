// Outside the browser the checker module has nothing to do: say how to build it.

//go:build !(js && wasm)

package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "checker: this is the lab page's checker module; build it with `go run build.go` (GOOS=js GOARCH=wasm)")
	os.Exit(2)
}
