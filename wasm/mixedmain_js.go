// The mixed-cluster page's entry: a module of its own (mixed.wasm, built with the raftlabmixed
// tag), which the page loads instead of the lab's for /?cluster=NAME. It holds the members this
// page hosts and nothing of the simulator, so neither module pays for the other.

//go:build js && wasm && raftlabmixed

package main

import "syscall/js"

func main() {
	var storageName string
	store, storageName = openStorage()
	api := mixedAPI()
	api["storage"] = storageName
	js.Global().Set("raftlabWasm", js.ValueOf(api))
	if f := js.Global().Get("onRaftlabReady"); f.Type() == js.TypeFunction {
		f.Invoke()
	}
	select {} // the API's functions run on the page's calls until the page closes
}
