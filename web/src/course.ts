// Course features of the page: share links, the time slider (replay to any earlier time, fork
// by acting), and guided scenarios (narration, Back / Next / jump, ←/→, asked actions
// highlighted). The wasm side is wasm/replay.go and wasm/guide.go.

import type { CourseAPI, Snapshot } from "./api";
import type { Page } from "./page";
import { Timeline as TimelineView } from "./timeline";
import { HistoryPanel } from "./history";
import { h } from "./dom";

interface Timeline {
  now: number;
  end: number;
  future: number;
  actions: number;
  memory: string;
  fresh: boolean;
  guided: boolean;
  seed: number;
  nodes: number;
  bugs: string[];
  options: string[];
  /** The log compaction threshold (0: off). */
  compact: number;
  violationAt: number;
}

/** The compaction thresholds the Options panel offers; the page's default is 100. */
const COMPACT_CHOICES: [number, string][] = [
  [0, "off (the log grows until localStorage is full)"],
  [8, "every 8 entries"],
  [32, "every 32 entries"],
  [100, "every 100 entries (default)"],
  [1000, "every 1,000 entries"],
];
const DEFAULT_COMPACT = 100;

interface ScenarioInfo {
  id: string;
  title: string;
  summary: string;
  steps: string[];
}

interface GuideState {
  id: string;
  title: string;
  summary: string;
  step: number;
  steps: string[];
  heading: string;
  text: string;
  asking: { kind: string; node?: string; peer?: string; prompt: string } | null;
  done: boolean;
  last: boolean;
  late?: string;
  checks?: string[];
}

const secs = (ms: number): string => `${(ms / 1000).toFixed(3)} s`;

/** The most a link may inflate to (as sim.DecodeRun). */
const MAX_RUN_JSON = 4 << 20;

/** encodeRun writes a run's JSON as sim.Run.Encode does: raw DEFLATE, then base64url. */
export async function encodeRun(json: string): Promise<string> {
  const stream = new Blob([json]).stream().pipeThrough(new CompressionStream("deflate-raw"));
  const bytes = new Uint8Array(await new Response(stream).arrayBuffer());
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** decodeRun reads what encodeRun (or sim.Run.Encode) wrote; a damaged link is an error. */
export async function decodeRun(text: string): Promise<string> {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) throw new Error("not a raftlab run link (characters outside base64url)");
  let bin: string;
  try {
    bin = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
  } catch {
    throw new Error("not a raftlab run link (bad base64)");
  }
  const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
  const reader = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate-raw")).getReader();
  const parts: BlobPart[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.length;
      if (total > MAX_RUN_JSON) throw new Error("run: link too large");
      parts.push(value);
    }
  } catch (e) {
    throw new Error(`damaged link (${e instanceof Error ? e.message : String(e)})`);
  }
  return new TextDecoder().decode(await new Blob(parts).arrayBuffer());
}

/** Course adds the course controls to the page. */
export class Course {
  private readonly slider: HTMLInputElement;
  private readonly timeText: HTMLElement;
  private readonly storage: HTMLElement;
  private readonly freeBtn: HTMLButtonElement;
  private readonly shareBtn: HTMLButtonElement;
  private readonly shareBox: HTMLElement;
  private readonly shareField: HTMLInputElement;
  private readonly shareNote: HTMLElement;
  private readonly picker: HTMLSelectElement;
  private readonly guidePanel: HTMLElement;
  private readonly msg: HTMLElement;
  private dragging = false;
  private guideKey = "";
  private asked: Element[] = [];
  private wasAsking = false;
  private wasDone = false;
  private scenarios: ScenarioInfo[] = [];
  private readonly breakBox: HTMLDetailsElement;
  private readonly bugBoxes = new Map<string, HTMLInputElement>();
  private readonly optionsBox: HTMLDetailsElement;
  private readonly optionBoxes = new Map<string, HTMLInputElement>();
  private compactSel!: HTMLSelectElement;
  private readonly brokenBadge: HTMLElement;
  private readonly violationBtn: HTMLButtonElement;
  private readonly timelineView: TimelineView;
  /** The client history and its linearizability check (history.ts). */
  readonly history: HistoryPanel;

  constructor(
    private readonly page: Page,
    private readonly api: CourseAPI,
  ) {
    const root = document.getElementById("course");
    if (!root) throw new Error("missing #course");

    const bar = h("div", "coursebar", root);
    const time = h("label", "timeline", bar);
    time.title = "go back to any earlier simulated time of this run, and forward again; acting in the past forks a new run";
    h("span", "", time, "time");
    this.slider = h("input", "", time);
    this.slider.type = "range";
    this.slider.id = "timeSlider";
    this.slider.min = "0";
    this.slider.step = "any";
    this.slider.setAttribute("aria-label", "simulated time of this run");
    this.timeText = h("output", "", time);
    this.timeText.id = "timeText";

    this.shareBtn = h("button", "", bar, "Share run");
    this.shareBtn.id = "share";
    this.shareBtn.type = "button";
    this.shareBtn.title = "a link that replays this run exactly: seed, configuration and your actions";

    const pick = h("label", "", bar, "guided ");
    this.picker = h("select", "", pick);
    this.picker.id = "scenario";
    this.picker.setAttribute("aria-label", "guided scenario");

    this.storage = h("span", "storage", bar);
    this.storage.id = "storageNote";
    this.freeBtn = h("button", "", bar, "Back to free play");
    this.freeBtn.id = "freePlay";
    this.freeBtn.type = "button";
    this.freeBtn.hidden = true;

    this.shareBox = h("div", "sharebox", root);
    this.shareBox.hidden = true;
    this.shareField = h("input", "", this.shareBox);
    this.shareField.id = "shareLink";
    this.shareField.readOnly = true;
    this.shareField.setAttribute("aria-label", "share link");
    this.shareNote = h("p", "msg", this.shareBox);
    this.shareNote.id = "shareNote";

    this.msg = h("p", "msg", root);
    this.msg.id = "courseMsg";
    this.msg.setAttribute("role", "status");

    this.brokenBadge = h("span", "broken-badge", bar);
    this.brokenBadge.id = "brokenBadge";
    this.brokenBadge.hidden = true;
    this.breakBox = h("details", "breakit", root);
    this.breakBox.id = "breakIt";
    const sum = h("summary", "", this.breakBox, "Break it: plant a known bug (off by default)");
    sum.title = "each switch plants a known bug in every node; the cluster restarts in memory with the switches on";
    this.switchBoxes(this.breakBox, this.api.bugSwitches(), "bug", this.bugBoxes);
    h("p", "msg", this.breakBox, "The live checker watches every event: a broken safety property is named with its nodes and event, and the run stops there. Reads served from a follower break no Raft property: the client history's linearizability check (below) catches them; turn on the client load, or submit get commands, and cut a follower off.");
    // Options: correct extensions of Raft, off by default, restarting the cluster the same way.
    this.optionsBox = h("details", "breakit options", root);
    this.optionsBox.id = "options";
    const osum = h("summary", "", this.optionsBox, "Options: extensions of Raft (off by default)");
    osum.title = "each option changes every node; the cluster restarts in memory with it on";
    this.switchBoxes(this.optionsBox, this.api.optionSwitches(), "option", this.optionBoxes);
    const cl = h("label", "compact", this.optionsBox, "log compaction (Raft §7): a node takes a snapshot of its key-value store ");
    cl.title = "a node that has applied more entries than this since its last snapshot replaces them with a snapshot, in memory and in localStorage";
    this.compactSel = h("select", "", cl);
    this.compactSel.id = "compact";
    for (const [v, label] of COMPACT_CHOICES) {
      const o = h("option", "", this.compactSel, label);
      o.value = String(v);
    }
    this.compactSel.value = String(DEFAULT_COMPACT);
    this.compactSel.addEventListener("change", () => this.breakIt());
    h("p", "msg", this.optionsBox, "With pre-vote a node whose election timer fires first asks the others whether they would vote for it, without raising its term; they say no while they hear from a leader. Cut a follower off for a few seconds and reconnect it: without pre-vote its inflated term deposes the leader, with it nothing happens (guided scenarios “term inflation” and “pre-vote”). With check quorum, a leader that has not heard from a majority within an election timeout steps down: disconnect the leader and watch it give up instead of leading a minority.");
    this.violationBtn = h("button", "", undefined, "Replay to just before the violation");
    this.violationBtn.id = "beforeViolation";
    this.violationBtn.type = "button";
    this.violationBtn.hidden = true;
    this.violationBtn.addEventListener("click", () => this.beforeViolation());
    document.getElementById("banner")?.append(this.violationBtn);

    const tl = h("details", "timelinebox", root);
    tl.id = "timelineBox";
    this.timelineView = new TimelineView(tl, (m, k) => api.timelineData(m, k));
    this.history = new HistoryPanel(root, (n) => api.history(n), () => page.generation);

    this.guidePanel = h("section", "guide", root);
    this.guidePanel.id = "guide";
    this.guidePanel.hidden = true;
    this.guidePanel.setAttribute("aria-label", "guided scenario");

    this.wire();
    page.onDraw = (s) => this.draw(s);
  }

  /** switchBoxes adds a checkbox per switch of list (JSON [{name, label}]) to panel, marked
   * data-<key>=name; each change restarts the cluster with every box that is on. */
  private switchBoxes(panel: HTMLElement, list: string, key: string, boxes: Map<string, HTMLInputElement>): void {
    const div = h("div", "switches", panel);
    let switches: { name: string; label: string }[] = [];
    try {
      switches = JSON.parse(list) as { name: string; label: string }[];
    } catch {
      // none: the panel stays empty
    }
    for (const sw of switches) {
      const l = h("label", "", div);
      const box = h("input", "", l);
      box.type = "checkbox";
      box.dataset[key] = sw.name;
      l.append(` ${sw.label}`);
      box.addEventListener("change", () => this.breakIt());
      boxes.set(sw.name, box);
    }
  }

  /** setNamespace gives this lab's clusters their own localStorage namespace (embeds). */
  setNamespace(ns: string): void {
    const err = this.api.setNamespace(ns);
    if (err) this.say(err, true);
  }

  /** boot opens what the URL asks for (a shared run or a scenario); false means free play. */
  async boot(params: URLSearchParams): Promise<boolean> {
    const run = params.get("run");
    if (run !== null) {
      const at = Number(params.get("t") ?? "0");
      let err: string | null;
      try {
        err = this.api.openRun(await decodeRun(run), isFinite(at) && at >= 0 ? at : 0);
      } catch (e) {
        err = e instanceof Error ? e.message : String(e);
      }
      if (err) {
        this.say(`This link's run cannot be opened: ${err}. Showing free play instead.`, true);
        return false;
      }
      this.page.adopt();
      this.page.setRunning(false);
      this.say(`Opened a shared run at ${secs(at)}, paused. Run to continue it; the time slider goes back.`, false);
      return true;
    }
    const sc = params.get("scenario");
    if (sc !== null) {
      const step = Number(params.get("step") ?? "1");
      if (this.openGuide(sc, Number.isInteger(step) && step >= 1 ? step - 1 : 0)) return true;
      return false;
    }
    return false;
  }

  private wire(): void {
    try {
      this.scenarios = JSON.parse(this.api.scenarios()) as ScenarioInfo[];
    } catch {
      this.scenarios = [];
    }
    const none = h("option", "", this.picker, "— free play —");
    none.value = "";
    for (const s of this.scenarios) {
      const o = h("option", "", this.picker, s.title);
      o.value = s.id;
      o.title = s.summary;
    }
    this.picker.addEventListener("change", () => {
      const id = this.picker.value;
      if (id === "") this.freePlay();
      else this.openGuide(id, 0);
    });
    this.slider.addEventListener("input", () => {
      this.dragging = true;
      this.timeText.textContent = `${secs(Number(this.slider.value))} / ${secs(Number(this.slider.max))}`;
    });
    this.slider.addEventListener("change", () => {
      this.dragging = false;
      this.seek(Number(this.slider.value));
    });
    this.shareBtn.addEventListener("click", () => void this.share());
    this.freeBtn.addEventListener("click", () => this.freePlay());
    this.shareField.addEventListener("focus", () => this.shareField.select());
    // Capture phase: in guided mode ← and → go Back and Next, before the page's → (step).
    window.addEventListener(
      "keydown",
      (e) => {
        if (!this.guided() || e.altKey || e.ctrlKey || e.metaKey) return;
        const t = e.target as HTMLElement;
        if (t.closest("input, textarea, select")) return;
        if (e.key === "ArrowRight" || e.key === "ArrowLeft") {
          e.preventDefault();
          e.stopImmediatePropagation();
          if (e.key === "ArrowRight") this.next();
          else this.back();
        }
      },
      true,
    );
  }

  private guided(): boolean {
    return !this.guidePanel.hidden;
  }

  private say(text: string, isError: boolean): void {
    this.msg.textContent = text;
    this.msg.classList.toggle("error", isError);
  }

  private timeline(): Timeline | null {
    const t = this.api.timeline();
    return t === "null" ? null : (JSON.parse(t) as Timeline);
  }

  /** seek replays the run to ms of simulated time (in memory), paused there. */
  seek(ms: number): void {
    const err = this.seekTo(ms);
    if (err) this.say(err, true);
  }

  /** seekTo replays the run to ms, paused there; it returns why it cannot. */
  seekTo(ms: number): string | null {
    const err = this.api.seek(ms);
    if (err) return err;
    this.page.adopt();
    this.page.setRunning(false);
    this.say(`Replayed to ${secs(ms)}. Run to play the recorded actions again; act to fork a new run from here.`, false);
    return null;
  }

  private async share(): Promise<void> {
    const raw = this.api.share();
    if (!raw.startsWith("{")) {
      this.say(raw, true);
      return;
    }
    const s = JSON.parse(raw) as { run: unknown; now: number; fresh: boolean; hash: string };
    const url = new URL(location.href);
    for (const k of ["run", "t", "scenario", "step"]) url.searchParams.delete(k);
    url.searchParams.set("t", String(s.now));
    url.searchParams.set("run", await encodeRun(JSON.stringify(s.run)));
    this.shareField.value = url.toString();
    this.shareBox.hidden = false;
    this.shareField.dataset.hash = s.hash;
    this.shareField.dataset.now = String(s.now);
    let note = `The link opens this run at ${secs(s.now)} (trace ${s.hash}).`;
    if (!s.fresh) {
      note += " This cluster started from state saved in this browser, which a link cannot carry: opened elsewhere it starts empty and differs. Reset the cluster's storage for a run a link reproduces.";
    }
    this.shareNote.textContent = note;
    this.shareNote.classList.toggle("error", !s.fresh);
    navigator.clipboard?.writeText(url.toString()).then(
      () => (this.shareNote.textContent = `Copied. ${note}`),
      () => undefined, // no clipboard permission: the field holds the link
    );
  }

  private freePlay(): void {
    const url = new URL(location.href);
    for (const k of ["run", "t", "scenario", "step"]) url.searchParams.delete(k);
    history.replaceState(null, "", url);
    this.guidePanel.hidden = true;
    this.picker.value = "";
    this.shareBox.hidden = true;
    this.say("", false);
    this.clearAsk();
    this.page.start(Number((document.getElementById("nodes") as HTMLSelectElement).value) || 5);
    this.page.setRunning(true);
  }

  // ---- break it ------------------------------------------------------------------------------

  private breakIt(): void {
    const bugs = [...this.bugBoxes].filter(([, b]) => b.checked).map(([n]) => n);
    const options = [...this.optionBoxes].filter(([, b]) => b.checked).map(([n]) => n);
    const names = [...bugs, ...options];
    const compact = Number(this.compactSel.value);
    if (names.length === 0 && compact === DEFAULT_COMPACT) {
      this.freePlay();
      return;
    }
    const t = this.timeline();
    const n = Number((document.getElementById("nodes") as HTMLSelectElement).value) || 5;
    const err = this.api.breakIt(n, t?.seed ?? 1, JSON.stringify(names), compact);
    if (err) {
      this.say(err, true);
      return;
    }
    this.guidePanel.hidden = true;
    this.picker.value = "";
    this.page.adopt();
    this.page.setRunning(true);
    const planted = bugs.length > 0 ? `Planted: ${bugs.join(", ")}. ` : "";
    const on = options.length > 0 || compact !== DEFAULT_COMPACT ? `On: ${[...options, compact === 0 ? "no log compaction" : `compaction every ${compact} entries`].join(", ")}. ` : "";
    this.say(`${planted}${on}The cluster restarted in memory${bugs.length > 0 ? "; crash, partition and submit to make the bug show" : ""}.`, false);
  }

  private beforeViolation(): void {
    const err = this.api.beforeViolation();
    if (err) {
      this.say(err, true);
      return;
    }
    this.page.adopt();
    this.page.setRunning(false);
    this.say("Replayed to just before the violation: step (→) to watch the event that breaks the property.", false);
  }

  // ---- guided scenarios ----------------------------------------------------------------------

  private openGuide(id: string, step: number): boolean {
    const err = this.api.guide(id, step);
    if (err) {
      this.say(`Cannot open the scenario: ${err}`, true);
      return false;
    }
    this.say("", false);
    this.shareBox.hidden = true;
    this.picker.value = id;
    this.guidePanel.hidden = false;
    this.guideKey = "";
    this.wasAsking = false;
    this.wasDone = false;
    this.page.adopt();
    this.page.setRunning(true);
    const url = new URL(location.href);
    for (const k of ["run", "t"]) url.searchParams.delete(k);
    url.searchParams.set("scenario", id);
    url.searchParams.set("step", String(step + 1));
    history.replaceState(null, "", url);
    return true;
  }

  private guideState(): GuideState | null {
    const g = this.api.guideState();
    return g === "null" ? null : (JSON.parse(g) as GuideState);
  }

  next(): void {
    const g = this.guideState();
    if (!g) return;
    if (g.done && g.last) {
      this.say("This is the last step. Choose another scenario, or free play.", false);
      return;
    }
    const err = this.api.next();
    if (err) {
      this.say(err, true);
      return;
    }
    this.say("", false);
    const now = this.guideState();
    if (now) this.setStepURL(now.id, now.step);
    this.page.setRunning(true);
  }

  back(): void {
    const g = this.guideState();
    if (!g) return;
    // At the start of a step's story (still asking, or not done), Back goes to the step before.
    this.openGuide(g.id, Math.max(0, g.done ? g.step : g.step - 1));
  }

  private setStepURL(id: string, step: number): void {
    const url = new URL(location.href);
    url.searchParams.set("scenario", id);
    url.searchParams.set("step", String(step + 1));
    history.replaceState(null, "", url);
  }

  private drawGuide(g: GuideState): void {
    const key = JSON.stringify(g);
    if (key === this.guideKey) return;
    this.guideKey = key;
    const p = this.guidePanel;
    p.replaceChildren();
    const head = h("header", "", p);
    h("h2", "", head, g.title);
    const nav = h("div", "nav", head);
    const back = h("button", "", nav, "← Back");
    back.id = "guideBack";
    back.type = "button";
    back.title = "the step before (←)";
    back.disabled = g.step === 0 && !g.done;
    back.addEventListener("click", () => this.back());
    const next = h("button", "", nav, g.done ? "Next →" : "Skip to pause →");
    next.id = "guideNext";
    next.type = "button";
    next.title = g.done ? "the next step (→)" : "run this step to its pause point (→)";
    next.disabled = g.done && g.last;
    next.addEventListener("click", () => this.next());
    const steps = h("ol", "steps", p);
    g.steps.forEach((title, i) => {
      const li = h("li", i === g.step ? "current" : i < g.step ? "past" : "", steps);
      const b = h("button", "", li, `${i + 1}. ${title}`);
      b.type = "button";
      b.dataset.step = String(i);
      b.title = "jump to this step (replays the steps before it)";
      b.addEventListener("click", () => this.openGuide(g.id, i));
    });
    h("h3", "", p, `Step ${g.step + 1} of ${g.steps.length}: ${g.heading}`);
    h("p", "text", p, g.text);
    const state = h("p", "state", p);
    state.id = "guideState";
    if (g.asking) {
      state.classList.add("ask");
      state.textContent = `Your turn: ${g.asking.prompt} Time stands still until you do.`;
      state.dataset.ask = g.asking.kind;
    } else if (g.done) {
      state.textContent = g.last ? "The scenario is complete." : "Paused at this step's point. Next → (or →) goes on; ← goes back.";
      state.dataset.done = "1";
    } else {
      state.textContent = "Running to this step's pause point…";
    }
    if (g.late) h("p", "msg error", p, g.late);
    for (const c of g.checks ?? []) h("p", "msg error", p, `A claim of this narration does not hold (please report): ${c}`);
    this.highlight(g);
  }

  private clearAsk(): void {
    for (const e of this.asked) e.classList.remove("asked");
    this.asked = [];
  }

  /** highlight marks the control the step asks the person to use. */
  private highlight(g: GuideState): void {
    this.clearAsk();
    const a = g.asking;
    if (!a) return;
    const sel: string[] = [];
    if (a.node) {
      sel.push(`.card[data-node="${a.node}"]`, `#svg g.node[data-node="${a.node}"]`);
      sel.push(`.card[data-node="${a.node}"] button[data-act="${a.kind}"]`);
    }
    const global: Record<string, string> = { submit: "#submitForm", batch: "#batch", partition: "#partition", "heal-all": "#healAll", unreliable: "#unreliable", reorder: "#reorder", latency: "#latMin" };
    if (global[a.kind]) sel.push(global[a.kind]!);
    for (const s of sel) {
      for (const e of document.querySelectorAll(s)) {
        e.classList.add("asked");
        this.asked.push(e);
      }
    }
  }

  // ---- every frame ---------------------------------------------------------------------------

  private draw(s: Snapshot): void {
    const t = this.timeline();
    if (!t) return;
    this.timelineView.draw(s);
    this.history.draw(s, t.bugs);
    if (!this.dragging) {
      this.slider.max = String(t.end);
      this.slider.value = String(t.now);
      this.timeText.textContent = `${secs(t.now)} / ${secs(t.end)}`;
    }
    this.slider.disabled = t.guided;
    this.shareBtn.disabled = t.guided;
    document.body.classList.toggle("replaying", t.future > 0);
    this.storage.textContent = t.memory
      ? `Nodes keep this run (${t.memory}${t.future > 0 ? `, ${t.future} recorded actions ahead` : ""}) in memory; your free-play cluster in localStorage is left as it was.`
      : `Free play: nodes keep their state in ${this.page.lab.storage}. Seed ${t.seed}.`;
    this.storage.classList.toggle("memory", t.memory !== "");
    for (const [name, box] of this.bugBoxes) box.checked = t.bugs.includes(name);
    for (const [name, box] of this.optionBoxes) box.checked = (t.options ?? []).includes(name);
    if (this.compactSel.value !== String(t.compact)) {
      if (![...this.compactSel.options].some((o) => o.value === String(t.compact))) {
        h("option", "", this.compactSel, `every ${t.compact} entries`).value = String(t.compact); // a link's own threshold
      }
      this.compactSel.value = String(t.compact);
    }
    this.optionsBox.hidden = t.guided;
    this.brokenBadge.hidden = t.bugs.length === 0;
    this.brokenBadge.textContent = `BROKEN ON PURPOSE: ${t.bugs.join(", ")}`;
    document.body.classList.toggle("is-broken", t.bugs.length > 0);
    this.breakBox.hidden = t.guided;
    this.violationBtn.hidden = t.violationAt < 0;
    this.freeBtn.hidden = t.memory === "";
    if (t.guided) {
      const g = this.guideState();
      if (!g) return;
      this.drawGuide(g);
      // At a pause point, or waiting for the person, nothing runs: stop the frame loop.
      const asking = g.asking !== null;
      const stop = (asking && !this.wasAsking) || (g.done && !this.wasDone);
      const resume = !asking && this.wasAsking && !g.done; // the person did what was asked
      this.wasAsking = asking;
      this.wasDone = g.done;
      if (stop && this.page.isRunning()) this.page.setRunning(false);
      else if (resume && !this.page.isRunning()) this.page.setRunning(true);
    } else if (!this.guidePanel.hidden) {
      this.guidePanel.hidden = true;
      this.clearAsk();
    }
    void s;
  }
}
