// The browser entry: localStorage as the nodes' storage, and the JS API the page calls.

//go:build js && wasm

// Command wasm is the lab page's module. It installs globalThis.raftlabWasm (web/src/api.ts types
// it; window.raftlab is the page's host API, another object):
//
//	start(nodes, seed) -> null | error text     start (or restart) a cluster of 3, 5, 7 or 9 nodes
//	reset(nodes)       -> keys removed          clear that cluster's localStorage
//	advance(simMs, budgetMs) -> caught up?     run simMs of simulated time within budgetMs of wall time
//	step()             -> processed?            process the next event alone
//	act(json)          -> null | error text     an Action (crash, submit, partition, ...)
//	snapshot(eventsAfter, dropsAfter, light) -> JSON   the state to draw (see Snapshot; light
//	                                            leaves out each node's log, kv and progress)
//	storage            -> "localStorage" | "memory (...)"
//
// No call panics into the page: a Go panic becomes an error text.
package main

import (
	"errors"
	"fmt"
	"syscall/js"
)

// localStore is window.localStorage.
type localStore struct{ ls js.Value }

func (s localStore) GetItem(k string) (string, bool) {
	v := s.ls.Call("getItem", k)
	if v.IsNull() {
		return "", false
	}
	return v.String(), true
}

func (s localStore) SetItem(k, v string) (err error) {
	defer func() {
		if r := recover(); r != nil {
			if je, ok := r.(js.Error); ok {
				err = errors.New(je.Get("name").String() + ": " + je.Get("message").String())
				return
			}
			err = fmt.Errorf("%v", r)
		}
	}()
	s.ls.Call("setItem", k, v)
	return nil
}

func (s localStore) RemoveItem(k string) { s.ls.Call("removeItem", k) }

func (s localStore) Keys() []string {
	n := s.ls.Get("length").Int()
	ks := make([]string, 0, n)
	for i := range n {
		if k := s.ls.Call("key", i); !k.IsNull() {
			ks = append(ks, k.String())
		}
	}
	return ks
}

// openStorage returns localStorage, or memory when the browser refuses it (some private modes).
func openStorage() (store KeyValue, name string) {
	defer func() {
		if r := recover(); r != nil {
			store, name = NewMemStore(), fmt.Sprintf("memory (localStorage is not available: %v)", r)
		}
	}()
	ls := js.Global().Get("localStorage")
	if ls.IsUndefined() || ls.IsNull() {
		return NewMemStore(), "memory (this browser has no localStorage)"
	}
	return localStore{ls}, "localStorage"
}

var (
	store KeyValue
	lab   *Lab
)

// settle, when set, runs before and after every call made through guard: the lab page
// writes its held storage writes there (writeBehind), so that no call of the page ends with
// a write held.
var settle func()

// guard turns a panic into an error text for the page.
func guard(f func(args []js.Value) any) js.Func {
	return js.FuncOf(func(_ js.Value, args []js.Value) (res any) {
		defer func() {
			if r := recover(); r != nil {
				res = fmt.Sprintf("internal error (please report): %v", r)
			}
		}()
		if settle != nil {
			settle()
			defer settle()
		}
		return f(args)
	})
}

func argInt(args []js.Value, i int) int {
	if i < len(args) && args[i].Type() == js.TypeNumber {
		return args[i].Int()
	}
	return 0
}

func argFloat(args []js.Value, i int) float64 {
	if i < len(args) && args[i].Type() == js.TypeNumber {
		return args[i].Float()
	}
	return 0
}

func errText(err error) any {
	if err == nil {
		return nil
	}
	return err.Error()
}
