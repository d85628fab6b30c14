// Course features of the page: share links, the time slider (replay to any earlier time, fork
// by acting), and guided scenarios (narration, Back / Next / jump, ←/→, asked actions
// highlighted, questions for students), a course's own scenario files (?scenario-url=, validated
// by the checker module), and Save as scenario. The wasm side is wasm/replay.go, wasm/guide.go
// and wasm/record.go.

import type { CourseAPI, Snapshot } from "./api";
import type { Page } from "./page";
import { Timeline as TimelineView } from "./timeline";
import { HistoryPanel } from "./history";
import { CheckerWorker } from "./checker";
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
  /** A course's own scenario, loaded into this page. */
  course?: boolean;
  /** Steps that ask a question. */
  questions?: number;
}

/** A step's question (wasm/guide.go questionView). */
interface QuestionView {
  prompt: string;
  choices: string[];
  /** The answer's index; -1 while waiting for it; -2 skipped. */
  chosen: number;
  /** Once the step reached its pause point: the right choices, and the explanation. */
  right?: number[];
  explain?: string;
}

/** A student's answers to one scenario's questions, kept in localStorage. */
export interface Progress {
  scenario: string;
  /** Questions in the scenario, answered ones, right ones. */
  questions: number;
  answered: number;
  right: number;
  /** Per step (from 1): the choice's text and whether it was right. */
  answers: Record<string, { choice: string; right: boolean }>;
}

/** The most bytes of a course's scenario file the page reads (as scenario.MaxFileBytes). */
const MAX_SCENARIO_BYTES = 256 << 10;
/** How long fetching a scenario file may take (wall ms). */
const FETCH_MS = 15000;

interface GuideState {
  id: string;
  title: string;
  summary: string;
  step: number;
  steps: string[];
  heading: string;
  text: string;
  asking: { kind: string; node?: string; peer?: string; prompt: string; voters?: string[] } | null;
  done: boolean;
  last: boolean;
  late?: string;
  checks?: string[];
  question?: QuestionView;
  course: boolean;
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
  /** The step whose narration was last drawn (id/step). */
  private guideStep = "";
  private asked: Element[] = [];
  private wasAsking = false;
  private wasDone = false;
  private scenarios: ScenarioInfo[] = [];
  private readonly saveBtn: HTMLButtonElement;
  /** Runs the checker module: client histories and course scenario files (checker.ts). */
  private readonly checker = new CheckerWorker();
  /** The localStorage namespace (embeds), with its slash: where answers are kept. */
  private ns = "";
  /** Steps whose answer has been recorded since the scenario was opened (scenario id/step). */
  private readonly recorded = new Set<string>();
  /** Called with each recorded answer (hostapi.ts posts it to a host page). */
  onAnswer: ((a: { scenario: string; step: number; choice: number; text: string; right: boolean; progress: Progress }) => void) | null = null;
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
    this.saveBtn = h("button", "", bar, "Save as scenario");
    this.saveBtn.id = "saveScenario";
    this.saveBtn.type = "button";
    this.saveBtn.title = "download this run as a scenario file: one step per action, with text for you to write";

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
    h("p", "msg", this.optionsBox, "With pre-vote a node whose election timer fires first asks the others whether they would vote for it, without raising its term; they say no while they hear from a leader. Cut a follower off for a few seconds and reconnect it: without pre-vote its inflated term deposes the leader, with it nothing happens (guided scenarios “term inflation” and “pre-vote”). With check quorum, a leader that has not heard from a majority within an election timeout steps down: disconnect the leader and watch it give up instead of leading a minority. With joint consensus, membership changes pass through a joint configuration C_old,new that needs a majority of the old voters and one of the new: type n4 n5 n6 beside Set voters to replace three servers at once (guided scenario “joint consensus”).");
    this.violationBtn = h("button", "", undefined, "Replay to just before the violation");
    this.violationBtn.id = "beforeViolation";
    this.violationBtn.type = "button";
    this.violationBtn.hidden = true;
    this.violationBtn.addEventListener("click", () => this.beforeViolation());
    document.getElementById("banner")?.append(this.violationBtn);

    const tl = h("details", "timelinebox", root);
    tl.id = "timelineBox";
    this.timelineView = new TimelineView(tl, (m, k) => api.timelineData(m, k), true);
    this.history = new HistoryPanel(root, (n) => api.history(n), () => page.generation, this.checker);

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
    else this.ns = ns ? `${ns}/` : "";
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
    const src = params.get("scenario-url");
    if (src !== null) {
      const step = Number(params.get("step") ?? "1");
      let err: string | null;
      try {
        err = await this.loadFromURL(src, Number.isInteger(step) && step >= 1 ? step - 1 : 0);
      } catch (e) {
        err = `scenario-url=${src}: ${e instanceof Error ? e.message : String(e)}`; // never thrown into the page
      }
      if (err === null) return true;
      this.showLoadError(err);
      return false;
    }
    const sc = params.get("scenario");
    if (sc !== null) {
      const step = Number(params.get("step") ?? "1");
      if (this.openGuide(sc, Number.isInteger(step) && step >= 1 ? step - 1 : 0)) return true;
      return false;
    }
    return false;
  }

  /** fillPicker lists the scenarios (the course's own last) in the picker. */
  private fillPicker(): void {
    try {
      this.scenarios = JSON.parse(this.api.scenarios()) as ScenarioInfo[];
    } catch {
      this.scenarios = [];
    }
    this.picker.replaceChildren();
    const none = h("option", "", this.picker, "— free play —");
    none.value = "";
    for (const s of this.scenarios) {
      const o = h("option", "", this.picker, s.course ? `Course: ${s.title}` : s.title);
      o.value = s.id;
      o.title = s.summary;
    }
  }

  // ---- a course's own scenario files ---------------------------------------------------------

  /** loadFromURL fetches a scenario file (same origin, or served with CORS) and opens it at step; it returns why it cannot. */
  async loadFromURL(src: string, step: number): Promise<string | null> {
    let url: URL;
    try {
      url = new URL(src, location.href);
    } catch {
      return `scenario-url=${src} is not a URL`;
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") return `scenario-url=${src}: want an http or https address`;
    const last = url.pathname.split("/").pop() || "";
    let name = last;
    try {
      name = decodeURIComponent(last);
    } catch {
      // a malformed escape: the name as written
    }
    name ||= url.host;
    const ctl = new AbortController();
    const timer = window.setTimeout(() => ctl.abort(), FETCH_MS);
    let text: string;
    try {
      const resp = await fetch(url, { signal: ctl.signal, credentials: "omit" });
      if (!resp.ok) return `${name}: cannot fetch ${url.href}: HTTP ${resp.status} ${resp.statusText}`.trim();
      const body = await resp.blob();
      if (body.size > MAX_SCENARIO_BYTES) return `${name}: ${body.size} bytes; a scenario file may have at most ${MAX_SCENARIO_BYTES}`;
      text = await body.text();
    } catch (e) {
      const why = ctl.signal.aborted ? `no answer within ${FETCH_MS / 1000} s` : e instanceof Error ? e.message : String(e);
      return `${name}: cannot fetch ${url.href} (${why}; another origin must send Access-Control-Allow-Origin)`;
    } finally {
      window.clearTimeout(timer);
    }
    return this.loadScenario(text, name, step);
  }

  /**
   * loadScenario validates a scenario file's text in the checker module and opens it at step
   * (from 0) as a guided scenario. It returns the problems, each naming the file and its place,
   * or null. The cluster running before is left as it was when the file is refused.
   */
  async loadScenario(text: string, name: string, step = 0): Promise<string | null> {
    if (new Blob([text]).size > MAX_SCENARIO_BYTES) return `${name}: a scenario file may have at most ${MAX_SCENARIO_BYTES} bytes`;
    let problems: string;
    try {
      problems = await this.checker.validateScenario(name, text);
    } catch (e) {
      return `${name}: cannot be checked: ${e instanceof Error ? e.message : String(e)}`;
    }
    if (problems) return problems;
    const err = this.api.openCourseScenario(text, step);
    if (err) return `${name}: ${err}`;
    this.fillPicker();
    this.adoptGuide();
    const g = this.guideState();
    if (g) this.setStepURL(g.id, g.step);
    document.getElementById("scenarioError")?.remove();
    return null;
  }

  /** showLoadError shows why a course's scenario could not be opened, at the top of the frame. */
  showLoadError(problems: string): void {
    let el = document.getElementById("scenarioError");
    if (!el) {
      el = h("div", "parammsg scenarioerror");
      el.id = "scenarioError";
      el.setAttribute("role", "alert");
      document.body.prepend(el);
    }
    el.replaceChildren();
    h("strong", "", el, "This course's scenario cannot be opened; the lab runs in free play.");
    h("pre", "", el, problems); // the author's file names and text, as text
  }

  // ---- Save as scenario ----------------------------------------------------------------------

  /** scenarioFile returns the run as a scenario file {name, file} (indented JSON), or throws why it cannot. */
  scenarioFile(): { name: string; file: string } {
    const raw = this.api.saveScenario();
    if (!raw.startsWith("{")) throw new Error(raw);
    const s = JSON.parse(raw) as { name: string; file: string };
    return { name: s.name, file: JSON.stringify(JSON.parse(s.file), null, 2) + "\n" };
  }

  private saveScenario(): void {
    let f: { name: string; file: string };
    try {
      f = this.scenarioFile();
    } catch (e) {
      this.say(`Cannot save this run as a scenario: ${e instanceof Error ? e.message : String(e)}`, true);
      return;
    }
    // The link stays (hidden) with the file's text, as the timeline's export does, until the next save.
    let a = document.getElementById("scenarioDownload") as HTMLAnchorElement | null;
    if (a) URL.revokeObjectURL(a.href);
    else {
      a = h("a", "", document.body);
      a.id = "scenarioDownload";
      a.hidden = true;
    }
    a.href = URL.createObjectURL(new Blob([f.file], { type: "application/json" }));
    a.download = f.name;
    a.dataset.file = f.file;
    a.click();
    this.say(`Saved ${f.name}: one step per action of this run. Write each step's title and text, add questions, check it with go run ./server scenario check ${f.name}, and open it with ?scenario-url=.`, false);
  }

  private wire(): void {
    this.fillPicker();
    this.saveBtn.addEventListener("click", () => this.saveScenario());
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
    for (const k of ["run", "t", "scenario", "scenario-url", "step"]) url.searchParams.delete(k);
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
    this.adoptGuide();
    this.setStepURL(id, step);
    return true;
  }

  /** adoptGuide shows the guided scenario the module has just opened. */
  private adoptGuide(): void {
    this.say("", false);
    this.shareBox.hidden = true;
    this.guidePanel.hidden = false;
    this.guideKey = "";
    this.wasAsking = false;
    this.wasDone = false;
    this.recorded.clear();
    const g = this.guideState();
    if (g) this.picker.value = g.id;
    this.page.adopt();
    this.page.setRunning(true);
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

  /** setStepURL puts the scenario and step in the address; a course's file keeps its scenario-url. */
  private setStepURL(id: string, step: number): void {
    const url = new URL(location.href);
    for (const k of ["run", "t"]) url.searchParams.delete(k);
    if (this.scenarios.find((s) => s.id === id)?.course) url.searchParams.delete("scenario");
    else {
      url.searchParams.delete("scenario-url");
      url.searchParams.set("scenario", id);
    }
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
    if (g.question) this.drawQuestion(p, g, g.question);
    const state = h("p", "state", p);
    state.id = "guideState";
    if (g.question?.chosen === -1) {
      state.classList.add("ask");
      state.textContent = "Answer the question to play this step (Next → goes on without answering).";
      state.dataset.question = "1";
    } else if (g.asking) {
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
    // A new step's narration comes into view if the page was scrolled down (to the control the
    // last step asked for); a control this step asks for is then brought into view by highlight.
    const stepKey = `${g.id}/${g.step}`;
    if (stepKey !== this.guideStep) {
      this.guideStep = stepKey;
      if (p.getBoundingClientRect().top < 0) p.scrollIntoView({ block: "start" });
    }
    this.highlight(g);
  }

  /** drawQuestion shows a step's question: its choices until answered, then the answer and, at the pause point, whether it was right. */
  private drawQuestion(p: HTMLElement, g: GuideState, q: QuestionView): void {
    const box = h("div", "question", p);
    box.id = "question";
    h("p", "prompt", box, q.prompt);
    const list = h("div", q.right ? "choices known" : "choices", box);
    q.choices.forEach((text, i) => {
      const b = h("button", "", list, text);
      b.type = "button";
      b.dataset.choice = String(i);
      b.disabled = q.chosen !== -1;
      if (i === q.chosen) b.classList.add("chosen");
      if (q.right?.includes(i)) b.classList.add("right");
      b.addEventListener("click", () => this.answer(i));
    });
    const verdict = h("p", "verdict", box);
    verdict.id = "answerVerdict";
    if (q.chosen === -2) {
      verdict.textContent = "You went on without answering.";
    } else if (q.chosen >= 0 && q.right) {
      const ok = q.right.includes(q.chosen);
      verdict.dataset.right = ok ? "1" : "0";
      verdict.textContent = ok ? "Right." : `Not quite: the answer is ${q.right.map((r) => q.choices[r] ?? "").join(", ") || "none of these"}.`;
      if (q.explain) h("p", "explain", box, q.explain);
    } else if (q.chosen >= 0) {
      verdict.textContent = `You answered “${q.choices[q.chosen] ?? ""}”. Watch what happens…`;
    }
    const pr = this.progress(g.id);
    if (pr.questions > 0) {
      const line = h("p", "progress", box, `Your answers to this scenario: ${pr.right} of ${pr.questions} right${pr.answered < pr.questions ? ` (${pr.answered} answered)` : ""}. `);
      line.id = "answerProgress";
      const reset = h("button", "", line, "Reset my answers");
      reset.type = "button";
      reset.id = "resetAnswers";
      reset.addEventListener("click", () => {
        this.resetProgress(g.id);
        this.guideKey = "";
      });
    }
  }

  /** answer answers the current step's question with choice i (from 0); the step then plays. It returns why it cannot. */
  answer(i: number): string | null {
    const err = this.api.answer(i);
    if (err) {
      this.say(err, true);
      return err;
    }
    this.say("", false);
    this.page.setRunning(true);
    return null;
  }

  private answersKey(id: string): string {
    return `raftlab/${this.ns}answers/${id}`;
  }

  /** progress returns the student's answers to scenario id, as kept in localStorage. */
  progress(id: string): Progress {
    const questions = this.scenarios.find((s) => s.id === id)?.questions ?? 0;
    const p: Progress = { scenario: id, questions, answered: 0, right: 0, answers: {} };
    try {
      const stored = JSON.parse(localStorage.getItem(this.answersKey(id)) ?? "{}") as Record<string, { choice?: unknown; right?: unknown }>;
      for (const [step, a] of Object.entries(stored)) {
        if (typeof a?.choice !== "string" || typeof a.right !== "boolean") continue;
        p.answers[step] = { choice: a.choice, right: a.right };
        p.answered++;
        if (a.right) p.right++;
      }
    } catch {
      // no storage, or not ours: no answers
    }
    return p;
  }

  /** resetProgress forgets the student's answers to scenario id. */
  resetProgress(id: string): void {
    try {
      localStorage.removeItem(this.answersKey(id));
    } catch {
      // no storage
    }
  }

  /** recordAnswer keeps an answered question's outcome once its step reached its pause point. */
  private recordAnswer(g: GuideState, q: QuestionView): void {
    const key = `${g.id}/${g.step}`;
    if (q.chosen < 0 || !q.right || this.recorded.has(key)) return;
    this.recorded.add(key);
    const right = q.right.includes(q.chosen);
    const text = q.choices[q.chosen] ?? "";
    const answers = this.progress(g.id).answers;
    answers[String(g.step + 1)] = { choice: text, right };
    try {
      localStorage.setItem(this.answersKey(g.id), JSON.stringify(answers));
    } catch {
      // storage full or refused: the answer still counts for the host page
    }
    this.onAnswer?.({ scenario: g.id, step: g.step + 1, choice: q.chosen, text, right, progress: this.progress(g.id) });
    this.guideKey = ""; // redraw the progress line
  }

  private clearAsk(): void {
    for (const e of this.asked) e.classList.remove("asked", "ctl-asked");
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
    const global: Record<string, string> = { submit: "#submitForm", batch: "#batch", "add-server": "#addNode", "set-voters": "#setVoters", partition: "#partition", "heal-all": "#healAll", unreliable: "#unreliable", reorder: "#reorder", latency: "#latMin" };
    if (global[a.kind]) sel.push(global[a.kind]!);
    const votersInput = document.getElementById("voters");
    if (a.kind === "set-voters" && a.voters && votersInput instanceof HTMLInputElement && votersInput.value === "") votersInput.value = a.voters.join(" ");
    for (const s of sel) {
      for (const e of document.querySelectorAll(s)) {
        e.classList.add("asked");
        this.asked.push(e);
      }
    }
    // An embed's controls= may hide the asked control (Add node, Set voters, Partition…): show
    // it, with the part of the page it is in, while the step asks for it.
    const control = global[a.kind] ? document.querySelector(global[a.kind]!) : null;
    for (let e = control; e !== null; e = e.parentElement) {
      if (e.classList.contains("ctl-hidden")) {
        e.classList.add("ctl-asked");
        this.asked.push(e);
      }
    }
    // Bring it into view when it is below the fold (the client panel, on a small screen).
    const r = control?.getBoundingClientRect();
    if (control && r && (r.bottom > innerHeight || r.top < 0)) control.scrollIntoView({ block: "nearest" });
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
    this.saveBtn.disabled = t.guided;
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
      if (g.question && g.done) this.recordAnswer(g, g.question);
      this.drawGuide(g);
      // At a pause point, or waiting for the person (an action, an answer), nothing runs: stop the frame loop.
      const asking = g.asking !== null || g.question?.chosen === -1;
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
