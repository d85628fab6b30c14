// Random fault schedules and client load, generated from a seed as plain actions so that a run
// is fully described by its seed and its action list.

package sim

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// FaultSet selects the kinds of faults RandomFaults injects.
type FaultSet uint8

const (
	FaultCrash      FaultSet = 1 << iota // crash and restart nodes, now and then all at once
	FaultPartition                       // split the cluster, isolate nodes, heal
	FaultUnreliable                      // switch the unreliable network on and off
	FaultDuplicate                       // duplicate messages
	FaultReorder                         // take messages out of their link's FIFO order
	AllFaults       = FaultCrash | FaultPartition | FaultUnreliable | FaultDuplicate | FaultReorder
)

var faultNames = []struct {
	name string
	f    FaultSet
}{{"crash", FaultCrash}, {"partition", FaultPartition}, {"unreliable", FaultUnreliable}, {"duplicate", FaultDuplicate}, {"reorder", FaultReorder}}

// ParseFaults parses a comma-separated list of crash, partition, unreliable, duplicate,
// reorder, or "none" (also "all"). "none" with anything else is an error, not a silent choice
// of one.
func ParseFaults(s string) (FaultSet, error) {
	var fs FaultSet
	none := false
	words := 0
	for _, w := range strings.Split(s, ",") {
		w = strings.TrimSpace(w)
		if w == "" {
			continue
		}
		words++
		switch w {
		case "none":
			none = true
			continue
		case "all":
			fs |= AllFaults
			continue
		}
		found := false
		for _, fn := range faultNames {
			if fn.name == w {
				fs |= fn.f
				found = true
			}
		}
		if !found {
			return 0, fmt.Errorf("unknown fault %q (want crash, partition, unreliable, duplicate, reorder, all or none)", w)
		}
	}
	if none && words > 1 {
		return 0, fmt.Errorf("%q: none means no faults and cannot be combined with others (write none alone, or list the faults)", s)
	}
	return fs, nil
}

func (fs FaultSet) String() string {
	var ws []string
	for _, fn := range faultNames {
		if fs&fn.f != 0 {
			ws = append(ws, fn.name)
		}
	}
	if len(ws) == 0 {
		return "none"
	}
	return strings.Join(ws, ",")
}

// RandomFaults returns a fault schedule over [0, duration): one fault every 0.2–1.5 s. Crashed
// nodes are restarted and partitions healed along the way, so the cluster keeps a chance to make
// progress; call Healing for the end of a run.
func RandomFaults(seed uint64, ids []string, duration time.Duration, faults FaultSet) []Action {
	if faults == 0 {
		return nil
	}
	rng := rand.New(rand.NewPCG(seed, 0xfa017))
	var kinds []FaultSet
	for _, fn := range faultNames {
		if faults&fn.f != 0 {
			kinds = append(kinds, fn.f)
		}
	}
	var acts []Action
	crashed := map[string]bool{}
	unreliable := false
	pick := func() string { return ids[rng.IntN(len(ids))] }
	for t := time.Duration(0); ; {
		t += 200*time.Millisecond + time.Duration(rng.Int64N(int64(1300*time.Millisecond)))
		if t >= duration {
			break
		}
		switch kinds[rng.IntN(len(kinds))] {
		case FaultCrash:
			switch r := rng.IntN(10); {
			case r == 0: // everything at once, back shortly
				acts = append(acts, Action{At: t, Kind: ActCrashAll},
					Action{At: t + time.Duration(50+rng.IntN(400))*time.Millisecond, Kind: ActRestartAll})
				clear(crashed)
			case r < 5 || len(crashed) == 0:
				id := pick()
				acts = append(acts, Action{At: t, Kind: ActCrash, Node: id})
				crashed[id] = true
			default:
				id := firstSorted(crashed) // deterministic, unlike map iteration
				acts = append(acts, Action{At: t, Kind: ActRestart, Node: id})
				delete(crashed, id)
			}
		case FaultPartition:
			switch r := rng.IntN(3); r {
			case 0:
				acts = append(acts, Action{At: t, Kind: ActHealAll})
			case 1:
				acts = append(acts, Action{At: t, Kind: ActDisconnect, Node: pick()})
			default:
				var a, b []string
				for _, id := range ids {
					if rng.IntN(2) == 0 {
						a = append(a, id)
					} else {
						b = append(b, id)
					}
				}
				acts = append(acts, Action{At: t, Kind: ActPartition, Groups: [][]string{a, b}})
			}
		case FaultUnreliable:
			unreliable = !unreliable
			acts = append(acts, Action{At: t, Kind: ActUnreliable, On: unreliable})
		case FaultDuplicate:
			rate := 0.0
			if rng.IntN(2) == 0 {
				rate = 0.1
			}
			acts = append(acts, Action{At: t, Kind: ActSetDuplicate, Rate: rate})
		case FaultReorder:
			rate := 0.0
			if rng.IntN(2) == 0 {
				rate = 0.1
			}
			acts = append(acts, Action{At: t, Kind: ActSetReorder, Rate: rate})
		}
	}
	return acts
}

func firstSorted(m map[string]bool) string {
	best := ""
	for k := range m {
		if best == "" || k < best {
			best = k
		}
	}
	return best
}

// Healing returns the actions that end every fault at time at: restart all nodes, heal all
// links, reliable network, no duplication, links in order.
func Healing(at time.Duration) []Action {
	return []Action{
		{At: at, Kind: ActRestartAll},
		{At: at, Kind: ActHealAll},
		{At: at, Kind: ActUnreliable, On: false},
		{At: at, Kind: ActSetDuplicate, Rate: 0},
		{At: at, Kind: ActSetReorder, Rate: 0},
	}
}

// Load returns client commands "c1", "c2", … submitted to the leader at perSecond commands per
// simulated second, evenly spaced with jitter, over [0, duration).
func Load(seed uint64, duration time.Duration, perSecond float64) []Action {
	if perSecond <= 0 {
		return nil
	}
	rng := rand.New(rand.NewPCG(seed, 0x10ad))
	gap := max(1, time.Duration(float64(time.Second)/perSecond))
	acts := make([]Action, 0, int(duration/gap)+1)
	i := 0
	for t := gap / 2; t < duration; t += gap {
		i++
		jitter := time.Duration(rng.Int64N(int64(gap/2)+1)) - gap/4
		acts = append(acts, Action{At: max(0, t+jitter), Kind: ActSubmit, Command: fmt.Sprintf("c%d", i)})
	}
	return acts
}
