// Write-behind for the lab page's localStorage: the writes of one call of the page (a slice of
// simulation) are held in memory and written at its end, so that a key written many times
// (log/last, a log chunk) is written once, and an entry written and compacted away in the same
// call is never written at all.

package main

import (
	"fmt"
	"strings"
)

// Limits of the write-behind (in UTF-16 code units, as browsers count localStorage; a Go
// string's length in bytes is never less).
const (
	// probeSize is the room a probe checks is left in the store, by writing a key of this
	// size and removing it. Held writes may add up to half the room known, the rest being
	// left to the page's own keys (a course's answers); a flush probes again when less than
	// half is left.
	probeSize = 64 << 10
)

// probeKey is the key the probe writes and removes at once; it is never left in the store.
const probeKey = keyRoot + "probe"

// writeBehind is a KeyValue over another (the browser's localStorage) that holds writes and
// removals in memory until Flush, which the page's module calls at the start and the end of
// every call of the page (wasm/main_js.go settle): a JavaScript task never ends with a write
// held. A page reload happens between tasks, never during one, so what the store holds at any
// reload is exactly what the nodes had saved: holding writes within a task changes nothing a
// node, a reload or another tab can see, and saves a write per entry per node (a key written
// many times in one call, such as log/last or a log chunk, is written once).
//
// A write is held only while a probe has shown room for all that is held, so that a full
// store is met by a write the node makes itself, as without write-behind: without that room
// (the store is nearly full) every write goes straight through, and a refused one stops its
// node before anything it sent is delivered (nodeStorage, Lab.checkStorage). If a flush is
// refused all the same (another tab took the room since the probe), it is undone, the store
// keeps the cluster as at the end of the last call, and Err stops every node: none of them
// runs on with state that is not saved.
type writeBehind struct {
	kv   KeyValue
	held map[string]heldWrite
	// disk holds the value of each key this store wrote and that the store below holds: a
	// flush needs the value it replaces (to undo the flush if it is refused) without asking
	// the store, and a rewrite counts only what it adds.
	disk   map[string]string
	growth int   // what the held writes add to the store at most
	room   int   // what the store had room for at the last probe, less what flushes added since
	err    error // a flush was refused: every write is refused from now on
	idle   int   // flushes with nothing held since the last probe

	flushes, writes int // flushes that wrote, and the writes and removals that reached the store (storageStats)
}

type heldWrite struct {
	v      string
	remove bool
	add    int // what it adds to the store at most
}

func newWriteBehind(kv KeyValue) *writeBehind {
	w := &writeBehind{kv: kv, held: make(map[string]heldWrite), disk: make(map[string]string)}
	w.probe()
	return w
}

// GetItem implements KeyValue: a held write is read as written.
func (w *writeBehind) GetItem(k string) (string, bool) {
	if h, ok := w.held[k]; ok {
		return h.v, !h.remove
	}
	return w.kv.GetItem(k)
}

// SetItem implements KeyValue.
func (w *writeBehind) SetItem(k, v string) error {
	if w.err != nil {
		return w.err
	}
	add := max(0, len(k)+len(v)-w.diskSize(k))
	if w.growth-w.held[k].add+add > w.room/2 {
		w.Flush() // and probe again if need be
		if w.err != nil {
			return w.err
		}
	}
	if w.growth-w.held[k].add+add > w.room/2 {
		// No room known: straight through, and a refusal goes to the node that wrote.
		w.growth -= w.held[k].add
		delete(w.held, k)
		w.writes++
		if err := w.kv.SetItem(k, v); err != nil {
			return err
		}
		w.disk[k] = v
		return nil
	}
	w.growth += add - w.held[k].add
	w.held[k] = heldWrite{v: v, add: add}
	return nil
}

// RemoveItem implements KeyValue.
func (w *writeBehind) RemoveItem(k string) {
	if w.err != nil {
		return
	}
	w.growth -= w.held[k].add
	w.held[k] = heldWrite{remove: true}
}

// diskSize is the size of key k in the store below as far as this store knows (0 if not).
func (w *writeBehind) diskSize(k string) int {
	if v, ok := w.disk[k]; ok {
		return len(k) + len(v)
	}
	return 0
}

// Keys implements KeyValue; it flushes first.
func (w *writeBehind) Keys() []string {
	w.Flush()
	return w.kv.Keys()
}

// Err reports the refused flush that stopped the store, if any.
func (w *writeBehind) Err() error { return w.err }

// Flush writes what is held, removals first, then probes for room for the next writes if
// too little is left. If the store refuses a write, what the flush wrote is undone and Err
// reports the refusal.
func (w *writeBehind) Flush() {
	if w.err != nil {
		return
	}
	if len(w.held) == 0 {
		// Nothing written since the last probe: it still holds, unless it found no room, which
		// a reset or another tab may have made since: look again now and then.
		if w.idle++; w.room < probeSize/2 && w.idle%probeEvery == 0 {
			w.probe()
		}
		return
	}
	w.flushes++
	type undo struct {
		k, old string
		had    bool
	}
	var undos []undo
	net := 0
	for _, removals := range []bool{true, false} {
		for k, h := range w.held {
			if h.remove != removals {
				continue
			}
			old, had := w.disk[k]
			if !had {
				old, had = w.kv.GetItem(k)
			}
			if h.remove && !had || !h.remove && had && old == h.v {
				continue
			}
			w.writes++
			if h.remove {
				w.kv.RemoveItem(k)
				net -= w.diskSize(k)
				delete(w.disk, k)
			} else if err := w.kv.SetItem(k, h.v); err != nil {
				for i := len(undos) - 1; i >= 0; i-- {
					u := undos[i]
					if u.had {
						w.kv.SetItem(u.k, u.old) // it fitted before this flush
					} else {
						w.kv.RemoveItem(u.k)
					}
				}
				w.err = fmt.Errorf("could not save %s: %v", k, err)
				w.held, w.growth, w.room = nil, 0, 0
				return
			} else {
				net += len(k) + len(h.v) - w.diskSize(k)
				w.disk[k] = h.v
			}
			undos = append(undos, undo{k, old, had})
		}
	}
	clear(w.held)
	w.growth = 0
	w.room = min(w.room-net, probeSize)
	if w.room < probeSize/2 {
		w.probe()
	}
}

// probeEvery: with little room, a flush with nothing held probes again once in this many.
const probeEvery = 64

var probeValue = strings.Repeat("-", probeSize-len(probeKey))

// probe checks that the store has room for probeSize more, and leaves it as it was.
func (w *writeBehind) probe() {
	w.idle = 0
	w.room = 0
	if w.kv.SetItem(probeKey, probeValue) == nil {
		w.room = probeSize
	}
	w.kv.RemoveItem(probeKey)
}
