// The checker module's JS API: the page's client history in, porcupine's verdict out.

//go:build js && wasm

// Command checker is the lab page's second wasm module, loaded only when the page checks its
// key-value client history (in a Web Worker, web/src/checkworker.ts). It keeps porcupine out
// of the page's own module. It installs globalThis.raftlabChecker:
//
//	check(historyJSON, timeoutMs) -> JSON histcheck.Verdict | {"error": text}
//	scenario(name, text)          -> "" | the problems of a scenario file, each naming its place
//
// It also validates the scenario files a course loads into the page (raft/scenario/format.ParseFile,
// the same checks as `server scenario check`), which keeps those checks out of the page's
// module.
//
// No call panics into the worker: a Go panic becomes an error.
package main

import (
	"encoding/json"
	"fmt"
	"syscall/js"
	"time"

	"raftlab/raft/scenario/format"
	"raftlab/wasm/histcheck"
)

func errJSON(text string) string {
	b, _ := json.Marshal(map[string]string{"error": text})
	return string(b)
}

func check(_ js.Value, args []js.Value) (res any) {
	defer func() {
		if r := recover(); r != nil {
			res = errJSON(fmt.Sprintf("internal error of the checker (please report): %v", r))
		}
	}()
	if len(args) == 0 || args[0].Type() != js.TypeString {
		return errJSON("check wants the history as JSON text")
	}
	timeout := time.Duration(0)
	if len(args) > 1 && args[1].Type() == js.TypeNumber {
		timeout = time.Duration(args[1].Float() * float64(time.Millisecond))
	}
	v, err := histcheck.CheckJSON([]byte(args[0].String()), timeout, true)
	if err != nil {
		return errJSON(err.Error())
	}
	b, err := json.Marshal(v)
	if err != nil {
		return errJSON(err.Error())
	}
	return string(b)
}

// validateScenario returns "" for a valid scenario file, or its problems.
func validateScenario(_ js.Value, args []js.Value) (res any) {
	defer func() {
		if r := recover(); r != nil {
			res = fmt.Sprintf("internal error of the checker (please report): %v", r)
		}
	}()
	if len(args) < 2 || args[0].Type() != js.TypeString || args[1].Type() != js.TypeString {
		return "scenario wants the file's name and text"
	}
	if _, err := format.ParseFile(args[0].String(), []byte(args[1].String())); err != nil {
		return err.Error()
	}
	return ""
}

func main() {
	js.Global().Set("raftlabChecker", js.ValueOf(map[string]any{"check": js.FuncOf(check), "scenario": js.FuncOf(validateScenario)}))
	select {} // the API's function runs on the worker's calls until the worker ends
}
