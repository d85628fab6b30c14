// The course part of the module's JS API: share links, replay and time travel, guided
// scenarios. Runs opened here keep their nodes' storage in memory, never in localStorage.

//go:build js && wasm

package main

import (
	"encoding/json"
	"fmt"
	"syscall/js"
)

// addCourseAPI adds to globalThis.raftlabWasm:
//
//	share()               -> JSON Share | error text      the run as link parts (run as JSON)
//	openRun(json, atMs)   -> null | error text            replay a run (JSON) to atMs, in memory
//	seek(ms)              -> null | error text            replay this run to ms (back or forward)
//	timeline()            -> JSON Timeline | "null"
//	traceHash()           -> string                       hash of every event so far
//	scenarios()           -> JSON [ScenarioInfo]
//	guide(id, step)       -> null | error text            open a guided scenario at a step (0-based)
//	guideState()          -> JSON GuideState | "null"
//	next()                -> null | error text            the next pause point
//	bugSwitches()         -> JSON [{name, label}]         the break-it switches
//	optionSwitches()      -> JSON [{name, label}]         the options (pre-vote)
//	breakIt(n, seed, names, compact) -> null | error text a cluster in memory with switches and options (JSON list) on,
//	                                                      and compaction threshold compact (default DefaultCompact)
//	beforeViolation()     -> null | error text            replay to just before the checker's violation
//	timelineData(m, k)    -> JSON TimelineData              messages and lane marks after seq m and k
//	setNamespace(ns)      -> null | error text            storage namespace of later clusters (embeds)
//	history(n)            -> JSON HistoryView | "null"    the client history, its last n ops (0: all)
//	message(id)           -> JSON MessageView | error text  a message on the wire, its fields named as in Figure 2
//	openCourseScenario(text, step) -> null | error text   a course's scenario file (validated by the checker module) at a step
//	answer(choice)        -> null | error text            answer the current step's question (choice from 0)
//	saveScenario()        -> JSON {name, file} | error text  the free-play run as a scenario file
func addCourseAPI(api map[string]any) {
	api["openCourseScenario"] = guard(func(args []js.Value) any {
		if len(args) == 0 || args[0].Type() != js.TypeString {
			return "openCourseScenario wants the file's text"
		}
		l, err := OpenCourseScenario(args[0].String(), argInt(args, 1))
		if err != nil {
			return err.Error()
		}
		lab = l
		return nil
	})
	api["answer"] = guard(func(args []js.Value) any {
		if lab == nil {
			return "the cluster is not running"
		}
		return errText(lab.Answer(argInt(args, 0)))
	})
	api["saveScenario"] = guard(func(args []js.Value) any {
		if lab == nil {
			return "the cluster is not running"
		}
		name, file, err := lab.SaveScenario()
		if err != nil {
			return err.Error()
		}
		return jsonText(map[string]string{"name": name, "file": string(file)})
	})
	api["history"] = guard(func(args []js.Value) any {
		if lab == nil {
			return "null"
		}
		return jsonText(lab.History(argInt(args, 0)))
	})
	api["timelineData"] = guard(func(args []js.Value) any {
		if lab == nil {
			return "null"
		}
		return jsonText(lab.TimelineData(uint64(argFloat(args, 0)), uint64(argFloat(args, 1))))
	})
	api["bugSwitches"] = guard(func(args []js.Value) any { return jsonText(bugSwitches) })
	api["optionSwitches"] = guard(func(args []js.Value) any { return jsonText(optionSwitches) })
	api["breakIt"] = guard(func(args []js.Value) any {
		var names []string
		if len(args) > 2 && args[2].Type() == js.TypeString {
			if err := json.Unmarshal([]byte(args[2].String()), &names); err != nil {
				return "breakIt wants a JSON list of switch names"
			}
		}
		compact := DefaultCompact
		if len(args) > 3 {
			compact = argInt(args, 3)
		}
		l, err := BreakIt(argInt(args, 0), uint64(argFloat(args, 1)), names, compact)
		if err != nil {
			return err.Error()
		}
		lab = l
		return nil
	})
	api["beforeViolation"] = guard(func(args []js.Value) any {
		if lab == nil {
			return "the cluster is not running"
		}
		l, err := lab.BeforeViolation()
		if err != nil {
			return err.Error()
		}
		lab = l
		return nil
	})
	api["setNamespace"] = guard(func(args []js.Value) any {
		if len(args) == 0 || args[0].Type() != js.TypeString {
			return "setNamespace wants a string"
		}
		return errText(SetNamespace(args[0].String()))
	})
	api["share"] = guard(func(args []js.Value) any {
		if lab == nil {
			return "the cluster is not running"
		}
		s, err := lab.Share()
		if err != nil {
			return err.Error()
		}
		return jsonText(s)
	})
	api["openRun"] = guard(func(args []js.Value) any {
		if len(args) == 0 || args[0].Type() != js.TypeString {
			return "openRun wants the run's text"
		}
		run, err := ParseRun([]byte(args[0].String()))
		if err != nil {
			return err.Error()
		}
		l, err := OpenRun(run, msDur(argFloat(args, 1)), nil, "a shared run")
		if err != nil {
			return err.Error()
		}
		lab = l
		return nil
	})
	api["seek"] = guard(func(args []js.Value) any {
		if lab == nil {
			return "the cluster is not running"
		}
		l, err := lab.Seek(msDur(argFloat(args, 0)))
		if err != nil {
			return err.Error()
		}
		lab = l
		return nil
	})
	api["timeline"] = guard(func(args []js.Value) any {
		if lab == nil {
			return "null"
		}
		return jsonText(lab.Timeline())
	})
	api["traceHash"] = guard(func(args []js.Value) any {
		if lab == nil {
			return ""
		}
		return lab.TraceHash()
	})
	api["scenarios"] = guard(func(args []js.Value) any {
		all, err := Scenarios()
		if err != nil {
			return fmt.Sprintf(`{"error":%q}`, err.Error())
		}
		return jsonText(all)
	})
	api["guide"] = guard(func(args []js.Value) any {
		if len(args) == 0 || args[0].Type() != js.TypeString {
			return "guide wants a scenario id"
		}
		l, err := OpenScenario(args[0].String(), argInt(args, 1))
		if err != nil {
			return err.Error()
		}
		lab = l
		return nil
	})
	api["guideState"] = guard(func(args []js.Value) any {
		if lab == nil {
			return "null"
		}
		g := lab.Guide()
		if g == nil {
			return "null"
		}
		return jsonText(g)
	})
	api["message"] = guard(func(args []js.Value) any {
		if lab == nil {
			return "the cluster is not running"
		}
		v, err := lab.Message(uint64(argFloat(args, 0)))
		if err != nil {
			return err.Error()
		}
		return jsonText(v)
	})
	api["next"] = guard(func(args []js.Value) any {
		if lab == nil {
			return "the cluster is not running"
		}
		return errText(lab.Next())
	})
}

func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf(`{"error":%q}`, err.Error())
	}
	return string(b)
}
