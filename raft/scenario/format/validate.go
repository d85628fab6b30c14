// Validation of scenario files: every problem named by its place in the file
// ("steps[2].until.cond: unknown condition …"), unknown fields refused, limits enforced.
//
// The page's checker module (wasm/checker) runs this code, within a size budget where each fmt
// call, map literal and inlined copy of a helper costs kilobytes: messages are built by
// concatenation, the tables are static lists, and the small helpers are not inlined.

package format

import (
	"encoding/json"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits of a scenario file. A course's file comes from anywhere; these keep a page that opens
// one responsive. The README states them.
const (
	MaxFileBytes  = 256 << 10        // the file
	MaxSteps      = 100              // steps
	MaxActions    = 50               // actions in one step's do
	MaxConds      = 20               // conditions in one step's expect
	MaxCommands   = 1000             // commands in one batch
	MaxCommandLen = 1000             // bytes of one command
	MaxTitle      = 200              // bytes of a title, prompt, choice or name
	MaxText       = 5000             // bytes of a summary, step text or explanation
	MaxChoices    = 6                // choices of a question
	MaxServers    = 15               // servers, add-server's included (as sim.MaxIDs)
	MaxWait       = 60 * time.Second // a step's for or within, and a latency
	maxProblems   = 20               // problems reported per file
)

// The conditions and the actions, each with the fields it uses besides cond or kind (the
// required ones marked '!'), in alphabetical order; and the states a node can be in. Lists
// of strings, not maps: these are static data in the wasm module, with no code to build them.
var (
	condUses = [][]string{
		{"commit", "node", "min", "max"}, {"committed", "!command", "nodes", "exact"}, {"entry", "!node", "!index", "term"},
		{"last-index", "!node", "min"}, {"leader", "node"}, {"match", "!node", "!peer", "min"}, {"no-leader", "node"},
		{"no-violation"}, {"not-committed", "!command"}, {"state", "node", "!state"}, {"term", "node", "min", "max"},
		{"violation", "contains"},
	}
	actionUses = [][]string{
		{"add-server", "!node"}, {"batch", "node", "!commands"}, {"crash", "!node"}, {"crash-all"}, {"cut", "!node", "!peer"}, {"disconnect", "!node"}, {"duplicate", "rate"},
		{"heal", "!node", "!peer"}, {"heal-all"}, {"latency", "!min", "!max"}, {"link-latency", "!node", "!peer", "!min", "!max"},
		{"partition", "!groups"}, {"reconnect", "!node"}, {"remove-server", "!node"}, {"reorder", "rate"}, {"restart", "!node"}, {"restart-all"}, {"set-voters", "!voters"}, {"submit", "node", "!command"},
		{"timeout", "!node"}, {"transfer", "!node"}, {"unreliable", "on"},
	}
	states     = []string{"follower", "pre-candidate", "candidate", "leader", "dead"}
	condFields = []string{"node", "peer", "state", "min", "max", "term", "index", "command", "nodes", "exact", "contains"}
	actFields  = []string{"node", "peer", "groups", "command", "commands", "on", "rate", "min", "max", "prompt", "voters"}
)

// uses returns the fields that name uses in table, and whether table has name.
func uses(table [][]string, name string) ([]string, bool) {
	for _, e := range table {
		if e[0] == name {
			return e[1:], true
		}
	}
	return nil, false
}

// names lists the names a table defines: "commit, committed, …".
func names(table [][]string) string {
	var out []string
	for _, e := range table {
		out = append(out, e[0])
	}
	return strings.Join(out, ", ")
}

// Error lists what is wrong with a scenario file, each problem with its place in the file.
type Error struct {
	File     string   // as the caller named it ("" if none)
	Problems []string // "steps[2].until.cond: unknown condition …"
}

func (e *Error) Error() string {
	prefix := "scenario: "
	if e.File != "" {
		prefix = e.File + ": "
	}
	return prefix + strings.Join(e.Problems, "\n"+prefix)
}

// checker collects the problems of one file.
type checker struct {
	probs   []string
	present map[string]bool // the paths of the fields the file sets
	nodes   int             // n1…n<nodes> exist: the cluster's, and those add-server started so far
}

//go:noinline
func (c *checker) add(path, msg string) {
	if len(c.probs) == maxProblems {
		c.probs = append(c.probs, "(more problems not shown; "+strconv.Itoa(maxProblems)+" is the most reported)")
	}
	if len(c.probs) > maxProblems {
		return
	}
	if path != "" {
		msg = path + ": " + msg
	}
	c.probs = append(c.probs, msg)
}

// ParseFile decodes and validates a scenario file; its problems are an *Error that names the
// file and the place of each problem in it.
func ParseFile(name string, b []byte) (*Scenario, error) {
	sc, probs := parse(b)
	if len(probs) > 0 {
		return nil, &Error{File: name, Problems: probs}
	}
	return sc, nil
}

// Parse decodes and validates a scenario (ParseFile without a file name).
func Parse(b []byte) (*Scenario, error) { return ParseFile("", b) }

func parse(b []byte) (*Scenario, []string) {
	if len(b) > MaxFileBytes {
		return nil, []string{strconv.Itoa(len(b)) + " bytes; a scenario file may have at most " + strconv.Itoa(MaxFileBytes)}
	}
	if !utf8.Valid(b) {
		return nil, []string{"not UTF-8 text"}
	}
	var raw any // (json.Decoder would bring the file-reading code of package os along)
	if err := json.Unmarshal(b, &raw); err != nil {
		msg := "not JSON: " + strings.TrimPrefix(err.Error(), "json: ")
		if se, ok := err.(*json.SyntaxError); ok { // (errors.As would add 25 KB to the page's module)
			// The offset is past the offending byte.
			before := string(b[:min(max(se.Offset-1, 0), int64(len(b)))])
			line, col := 1+strings.Count(before, "\n"), len(before)-strings.LastIndexByte(before, '\n')
			msg = "line " + strconv.Itoa(line) + ", column " + strconv.Itoa(col) + ": " + msg
		}
		return nil, []string{msg}
	}
	c := &checker{present: map[string]bool{}}
	c.shape("", raw, reflect.TypeFor[Scenario]())
	if len(c.probs) > 0 {
		return nil, c.probs
	}
	var sc Scenario
	if err := json.Unmarshal(b, &sc); err != nil { // the shape is right, so this succeeds
		return nil, []string{err.Error()}
	}
	c.scenario(&sc)
	return &sc, c.probs
}

var durationType = reflect.TypeFor[Duration]()

// fieldName is a struct field's name in the file.
func fieldName(f reflect.StructField) string {
	if tag, _, _ := strings.Cut(f.Tag.Get("json"), ","); tag != "" {
		return tag
	}
	return f.Name
}

// shape checks that v, decoded from JSON, has type t's shape: known fields only (spelled
// exactly), and values of the right kinds. It records the fields present.
func (c *checker) shape(path string, v any, t reflect.Type) {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	want := ""
	switch k := t.Kind(); {
	case t == durationType:
		s, ok := v.(string)
		if d, err := time.ParseDuration(s); !ok || err != nil || d < 0 {
			want = `a duration such as "300ms" or "2s"`
		}
	case k == reflect.Struct || k == reflect.Map:
		m, ok := v.(map[string]any)
		if !ok {
			want = "an object"
			break
		}
		var known, unknown []string
		for key, x := range m {
			if k == reflect.Map {
				c.present[join(path, key)] = true
				c.shape(join(path, key), x, t.Elem())
			}
			unknown = append(unknown, key)
		}
		if k == reflect.Map {
			break
		}
		for i := range t.NumField() {
			n := fieldName(t.Field(i))
			known = append(known, n)
			if x, ok := m[n]; ok {
				c.present[join(path, n)] = true
				c.shape(join(path, n), x, t.Field(i).Type)
			}
		}
		slices.Sort(unknown)
		for _, key := range unknown {
			if !c.present[join(path, key)] {
				c.add(join(path, key), "unknown field "+strconv.Quote(key)+" (want one of "+strings.Join(known, ", ")+")")
			}
		}
	case k == reflect.Slice:
		a, ok := v.([]any)
		if !ok {
			want = "a list"
		}
		for i, x := range a {
			c.shape(path+"["+strconv.Itoa(i)+"]", x, t.Elem())
		}
	case k == reflect.String:
		if _, ok := v.(string); !ok {
			want = "a string"
		}
	case k == reflect.Bool:
		if _, ok := v.(bool); !ok {
			want = "true or false"
		}
	case k == reflect.Float64: // a share, from 0 to 1
		if n, ok := v.(float64); !ok || n < 0 || n > 1 {
			want = "a number from 0 to 1"
		}
	default: // the whole numbers, decoded as float64
		n, ok := v.(float64)
		if !ok || n < 0 || n != math.Trunc(n) || (k == reflect.Int && n > 999999999) || n >= 1<<64 {
			want = "a whole number from 0 to 999999999"
			if k == reflect.Uint64 {
				want = "a whole number from 0 to 2^64-1"
			}
		}
	}
	if want != "" {
		c.add(path, "want "+want+", not "+jsonKind(v))
	}
}

//go:noinline
func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func jsonKind(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case string:
		return strconv.Quote(v)
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64)
	case bool:
		return strconv.FormatBool(v)
	case []any:
		return "a list"
	}
	return "an object"
}

//go:noinline
func at(path, field string, i int) string { return path + "." + field + "[" + strconv.Itoa(i) + "]" }

// fields checks that the object at path sets the fields in want (required ones marked '!')
// and no other of all.
func (c *checker) fields(path, what string, want, all []string) {
	for _, f := range all {
		p := join(path, f)
		used, required := false, false
		for _, w := range want {
			used = used || strings.TrimPrefix(w, "!") == f
			required = required || w == "!"+f
		}
		if c.present[p] && !used {
			c.add(p, "not used by "+what)
		}
		if !c.present[p] && required {
			c.add(path, what+" needs "+f)
		}
	}
}

//go:noinline
func (c *checker) text(path, s string, max int, required bool) {
	switch {
	case required && strings.TrimSpace(s) == "":
		c.add(path, "required, and not blank")
	case len(s) > max:
		c.add(path, strconv.Itoa(len(s))+" bytes; at most "+strconv.Itoa(max))
	}
}

//go:noinline
func (c *checker) count(path string, n, most int, what string) {
	if n > most {
		c.add(path, strconv.Itoa(n)+" "+what+"; at most "+strconv.Itoa(most))
	}
}

//go:noinline
func (c *checker) wait(path string, d Duration) {
	if time.Duration(d) > MaxWait {
		c.add(path, strconv.FormatInt(int64(time.Duration(d)/time.Millisecond), 10)+"ms is longer than the most a step may wait, 1m")
	}
}

// scenario checks what the shape cannot: required fields, ranges, names, and which fields
// each condition and action uses.
func (c *checker) scenario(sc *Scenario) {
	if sc.ID == "" || len(sc.ID) > 64 || strings.Trim(sc.ID, "abcdefghijklmnopqrstuvwxyz0123456789-") != "" {
		c.add("id", strconv.Quote(sc.ID)+": want 1 to 64 lower-case letters, digits and '-'")
	}
	c.text("title", sc.Title, MaxTitle, true)
	c.text("summary", sc.Summary, MaxText, false)
	cf := sc.Config
	if cf.Nodes < 1 || cf.Nodes > 9 {
		c.add("config.nodes", strconv.Itoa(cf.Nodes)+" nodes; want 1 to 9")
	}
	lo, hi := time.Duration(cf.ElectionTimeoutMin), time.Duration(cf.ElectionTimeoutMax)
	if c.present["config.electionTimeoutMin"] != c.present["config.electionTimeoutMax"] {
		c.add("config", "set electionTimeoutMin and electionTimeoutMax together")
	} else if c.present["config.electionTimeoutMin"] && (lo < 10*time.Millisecond || hi < lo || hi > time.Minute) {
		c.add("config", "want 10ms ≤ electionTimeoutMin ≤ electionTimeoutMax ≤ 1m")
	}
	c.count("config.maxEntriesPerMsg", cf.MaxEntriesPerMsg, 10000, "entries")
	c.count("config.compact", cf.Compact, 1000000, "entries")
	if cf.Compact < 0 {
		c.add("config.compact", strconv.Itoa(cf.Compact)+": want 0 (never) or more entries")
	}
	if len(sc.Steps) == 0 {
		c.add("steps", "a scenario needs at least one step")
	}
	c.count("steps", len(sc.Steps), MaxSteps, "steps")
	bound := map[string]bool{} // names bound by let so far
	c.nodes = cf.Nodes
	for i := range sc.Steps[:min(len(sc.Steps), MaxSteps)] {
		c.step("steps["+strconv.Itoa(i)+"]", &sc.Steps[i], bound)
	}
}

func (c *checker) step(path string, st *Step, bound map[string]bool) {
	c.text(path+".title", st.Title, MaxTitle, true)
	c.text(path+".text", st.Text, MaxText, true)
	// Names bound by this step's let may be used in its actions and conditions, not in its
	// other let bindings (they are bound in no particular order).
	var letNames []string
	for name := range st.Let {
		letNames = append(letNames, name)
	}
	slices.Sort(letNames)
	for _, name := range letNames {
		p, ref := join(path+".let", name), st.Let[name]
		if name == "" || name == "leader" || len(name) > MaxTitle || strings.Trim(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") != "" {
			c.add(p, strconv.Quote(name)+`: a name is letters, digits, '_' and '-', and not "leader"`)
		}
		c.node(p, ref, bound)
	}
	for name := range st.Let {
		bound[name] = true
	}
	if st.Ask != nil {
		c.action(path+".ask", *st.Ask, bound)
	}
	c.count(path+".do", len(st.Do), MaxActions, "actions")
	for i, a := range st.Do {
		c.action(at(path, "do", i), a, bound)
	}
	switch {
	case st.Until != nil && c.present[path+".for"]:
		c.add(path, "set for or until, not both")
	case st.Until == nil && c.present[path+".within"]:
		c.add(path+".within", "bounds the wait for until, which this step does not have")
	}
	c.wait(path+".for", st.For)
	c.wait(path+".within", st.Within)
	if st.Until != nil {
		c.cond(path+".until", *st.Until, bound)
	}
	c.count(path+".expect", len(st.Expect), MaxConds, "conditions")
	for i, x := range st.Expect {
		c.cond(at(path, "expect", i), x, bound)
	}
	if q := st.Question; q != nil {
		path += ".question"
		c.text(path+".prompt", q.Prompt, MaxTitle, true)
		c.text(path+".explain", q.Explain, MaxText, false)
		if n := len(q.Choices); n < 2 || n > MaxChoices {
			c.add(path+".choices", strconv.Itoa(n)+" choices; want 2 to "+strconv.Itoa(MaxChoices))
		}
		correct, when := 0, 0
		for i, ch := range q.Choices {
			p := at(path, "choices", i)
			c.text(p+".text", ch.Text, MaxTitle, true)
			if c.present[p+".correct"] && ch.When != nil {
				c.add(p, "set correct or when, not both")
			}
			if ch.Correct {
				correct++
			}
			if ch.When != nil {
				when++
				c.cond(p+".when", *ch.When, bound)
			}
		}
		// Either what happens decides (every choice has a condition) or the author does (one
		// choice is marked correct).
		if !(when == len(q.Choices) && correct == 0) && !(when == 0 && correct == 1) {
			c.add(path+".choices", `give every choice a "when" condition (what happens decides), or mark exactly one "correct": true (found `+
				strconv.Itoa(when)+" with when, "+strconv.Itoa(correct)+" correct)")
		}
	}
}

// node checks a reference to a node: "$leader", "$name" bound by an earlier let, or n1…nN.
func (c *checker) node(path, ref string, bound map[string]bool) {
	k, err := strconv.Atoi(strings.TrimPrefix(ref, "n"))
	switch {
	case ref == "$leader" || (strings.HasPrefix(ref, "$") && bound[ref[1:]]):
	case strings.HasPrefix(ref, "$"):
		c.add(path, ref+` is not bound: use "$leader" or a name bound by a let of this step or an earlier one`)
	case err != nil || k < 1 || k > c.nodes || ref != "n"+strconv.Itoa(k):
		c.add(path, strconv.Quote(ref)+" is not a node of this cluster (n1 to n"+strconv.Itoa(c.nodes)+`, one an earlier add-server started, "$leader", or "$name" from a let)`)
	}
}

func (c *checker) cond(path string, x Cond, bound map[string]bool) {
	want, ok := uses(condUses, x.Cond)
	if !ok {
		c.add(path+".cond", "unknown condition "+strconv.Quote(x.Cond)+" (want one of "+names(condUses)+")")
		return
	}
	c.fields(path, "condition "+strconv.Quote(x.Cond), want, condFields)
	c.refs(path, x.Node, x.Peer, nil, bound)
	if x.State != "" && !slices.Contains(states, x.State) {
		c.add(path+".state", "unknown state "+strconv.Quote(x.State)+" (want one of "+strings.Join(states, ", ")+")")
	}
	if x.Max != nil && *x.Max < x.Min {
		c.add(path, "max is below min")
	}
	if x.Nodes > c.nodes {
		c.add(path+".nodes", "more than the cluster's "+strconv.Itoa(c.nodes)+" nodes")
	}
	c.command(path+".command", x.Command)
}

func (c *checker) action(path string, a ActionSpec, bound map[string]bool) {
	want, ok := uses(actionUses, a.Kind)
	if !ok {
		c.add(path+".kind", "unknown action "+strconv.Quote(a.Kind)+" (want one of "+names(actionUses)+")")
		return
	}
	if strings.HasSuffix(path, ".ask") {
		want = append(slices.Clip(want), "!prompt")
	}
	c.fields(path, "action "+strconv.Quote(a.Kind), want, actFields)
	c.text(path+".prompt", a.Prompt, MaxTitle, false)
	if k, err := strconv.Atoi(strings.TrimPrefix(a.Node, "n")); a.Kind == "add-server" && err == nil && a.Node == "n"+strconv.Itoa(k) && k > c.nodes {
		if k > MaxServers {
			c.add(path+".node", strconv.Quote(a.Node)+": a cluster has at most "+strconv.Itoa(MaxServers)+" servers")
		} else {
			c.nodes = k // n<k> exists from here on (and the servers between, which it may add later)
		}
	}
	if a.Kind == "set-voters" {
		c.voters(path, a.Voters, bound)
	}
	c.refs(path, a.Node, a.Peer, a.Groups, bound)
	if a.Kind == "partition" && len(a.Groups) < 2 {
		c.add(path+".groups", "want two groups of nodes or more")
	}
	if a.Min > a.Max {
		c.add(path, "latency min is above max")
	}
	c.wait(path+".max", a.Max)
	c.command(path+".command", a.Command)
	c.count(path+".commands", len(a.Commands), MaxCommands, "commands")
	if a.Kind == "batch" && len(a.Commands) == 0 {
		c.add(path+".commands", "an empty batch")
	}
	for i, s := range a.Commands[:min(len(a.Commands), MaxCommands)] {
		c.command(at(path, "commands", i), s)
	}
}

// voters checks set-voters' list: n1 to n15 (a server above the cluster's joins, as with
// add-server), "$leader" or a bound name, each once.
func (c *checker) voters(path string, ids []string, bound map[string]bool) {
	if len(ids) == 0 {
		c.add(path+".voters", "want one voter or more")
	}
	c.count(path+".voters", len(ids), MaxServers, "voters")
	for i, id := range ids[:min(len(ids), MaxServers)] {
		if k, err := strconv.Atoi(strings.TrimPrefix(id, "n")); err == nil && id == "n"+strconv.Itoa(k) && k > c.nodes {
			if k > MaxServers {
				c.add(at(path, "voters", i), strconv.Quote(id)+": a cluster has at most "+strconv.Itoa(MaxServers)+" servers")
				continue
			}
			c.nodes = k
		}
		c.node(at(path, "voters", i), id, bound)
		if slices.Contains(ids[:i], id) {
			c.add(at(path, "voters", i), strconv.Quote(id)+" is named twice")
		}
	}
}

// refs checks the nodes an action or condition names.
func (c *checker) refs(path, node, peer string, groups [][]string, bound map[string]bool) {
	if node != "" {
		c.node(path+".node", node, bound)
	}
	if peer != "" {
		c.node(path+".peer", peer, bound)
	}
	for i, g := range groups {
		if len(g) == 0 {
			c.add(at(path, "groups", i), "an empty group")
		}
		for j, id := range g {
			c.node(at(path, "groups", i)+"["+strconv.Itoa(j)+"]", id, bound)
		}
	}
}

// command checks a command's length. Whether it is a key-value command is checked by
// scenario.CheckCommands, with the key-value parser, which the checker module does without.
func (c *checker) command(path, s string) {
	if len(s) > MaxCommandLen {
		c.add(path, strconv.Itoa(len(s))+" bytes; at most "+strconv.Itoa(MaxCommandLen))
	}
}
