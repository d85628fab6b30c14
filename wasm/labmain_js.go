// The lab page's entry: the simulated cluster, its course features and the key-value client.

//go:build js && wasm && !raftlabmixed

package main

import (
	"encoding/json"
	"fmt"
	"runtime"
	"runtime/debug"
	"syscall/js"
)

// gcPercent: the garbage collector runs when the heap has grown by this percentage since the
// last one (Go's default is 100). Go's collector runs on the page's one thread, inside
// whichever call of the page happens to start it: the page asks for a collection when it is
// idle instead (collect), and this makes one rarely start on its own, inside a frame.
const gcPercent = 400

func main() {
	debug.SetGCPercent(gcPercent)
	var storageName string
	store, storageName = openStorage()
	if _, ok := store.(localStore); ok {
		// Writes are held between the page's calls (writebehind.go): localStorage writes cost
		// the browser far more than the simulation does.
		wb := newWriteBehind(store)
		store = wb
		settle = func() {
			wb.Flush()
			if lab != nil {
				lab.checkStorage()
			}
		}
	}
	api := map[string]any{
		"storage": storageName,
		"start": guard(func(args []js.Value) any {
			l, err := NewLab(store, Config{Nodes: argInt(args, 0), Seed: uint64(argFloat(args, 1)), Compact: DefaultCompact})
			if err != nil {
				lab = nil
				return err.Error()
			}
			lab = l
			return nil
		}),
		"reset": guard(func(args []js.Value) any {
			lab = nil
			return Reset(store, argInt(args, 0))
		}),
		"advance": guard(func(args []js.Value) any {
			if lab == nil {
				return false
			}
			return lab.Advance(msDur(argFloat(args, 0)), msDur(argFloat(args, 1)))
		}),
		"step": guard(func(args []js.Value) any {
			return lab != nil && lab.Step()
		}),
		"act": guard(func(args []js.Value) any {
			if lab == nil {
				return "the cluster is not running"
			}
			var a Action
			if len(args) == 0 || args[0].Type() != js.TypeString {
				return "act wants a JSON action"
			}
			if err := json.Unmarshal([]byte(args[0].String()), &a); err != nil {
				return "bad action: " + err.Error()
			}
			return errText(lab.Do(a))
		}),
		"snapshot": guard(func(args []js.Value) any {
			if lab == nil {
				return "null"
			}
			after, drops := uint64(argFloat(args, 0)), uint64(argFloat(args, 1))
			snap := lab.Snapshot
			if len(args) > 2 && args[2].Truthy() {
				snap = lab.LightSnapshot
			}
			b, err := json.Marshal(snap(after, drops))
			if err != nil {
				return fmt.Sprintf(`{"error":%q}`, err.Error())
			}
			return string(b)
		}),
		// collect runs the garbage collector now: the page calls it when idle, between frames.
		"collect": guard(func(args []js.Value) any {
			runtime.GC()
			return nil
		}),
		"storageStats": guard(func(args []js.Value) any {
			if wb, ok := store.(*writeBehind); ok {
				return fmt.Sprintf(`{"flushes":%d,"writes":%d,"room":%d,"held":%d}`, wb.flushes, wb.writes, wb.room, len(wb.held))
			}
			return "null"
		}),
	}
	addCourseAPI(api) // course_js.go
	js.Global().Set("raftlabWasm", js.ValueOf(api))
	if f := js.Global().Get("onRaftlabReady"); f.Type() == js.TypeFunction {
		f.Invoke()
	}
	select {} // the API's functions run on the page's calls until the page closes
}
