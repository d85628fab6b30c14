// The client history view: the page's key-value operations (submit box, batches, client load,
// window.raftlab.submit) with their call and return on the simulated clock, checked for
// linearizability by porcupine in the checker module. The module (checker.wasm, 1 MB) is
// loaded in a worker only when needed: when the person opens this view, when the follower-read
// switch is on, or when a script calls checkHistory(). A history that is not linearizable is
// shown in a banner like the live checker's, with porcupine's visualization a click away.

import type { Snapshot } from "./api";
import type { CheckerWorker } from "./checker";
import { h } from "./dom";
import { count } from "./words";

/** One operation (wasm/history.go histOp). c and r are simulated ns (r 0: no answer). */
export interface HistOp {
  src: string;
  op: string;
  key: string;
  value?: string;
  node: string;
  c: number;
  r: number;
  state: "ok" | "pending" | "lost";
  found?: boolean;
  out?: string;
  why?: string;
}

/** The client history (wasm/history.go HistoryView). */
export interface HistoryView {
  fresh: boolean;
  total: number;
  pending: number;
  full: boolean;
  cap: number;
  ver: number;
  ops: HistOp[];
}

/** A check's result (wasm/histcheck Verdict). */
export interface Verdict {
  outcome: "linearizable" | "not linearizable" | "unknown";
  keys?: string[];
  ops: number;
  ms: number;
  html?: string;
}


/** Checks wait for the history to settle this long (wall ms) after a change. */
const DEBOUNCE_MS = 300;
/** Operations listed in the view, newest first. */
const ROWS = 40;
/** The list is redrawn at most this often while it changes (wall ms). */
const LIST_MS = 250;

const secs = (ns: number): string => (ns / 1e9).toFixed(3);

/** HistoryPanel is the client history view and the linearizability banner. */
export class HistoryPanel {
  private readonly box: HTMLDetailsElement;
  private readonly verdictEl: HTMLElement;
  private readonly noteEl: HTMLElement;
  private readonly vizBtn: HTMLButtonElement;
  private readonly rows: HTMLTableSectionElement;
  private readonly banner: HTMLElement;
  private readonly bannerText: HTMLElement;
  private readonly showBtn: HTMLButtonElement;
  /** Set by a script's checkHistory(): checks go on after it, as if the view were open. */
  private asked = false;
  private followerReads = false;
  /** The history version (with the page's cluster generation) last checked, and last listed. */
  private checkedKey = "";
  private listedKey = "";
  private lastList = 0;
  private key = "";
  private timer = 0;
  private running: Promise<Verdict> | null = null;
  private vizURL = "";
  private verdict: Verdict | null = null;
  private verdictKey = "";
  /** The last check failed (the module did not load, or timed out): no automatic checks until Check now. */
  private failed = false;
  private lastGen = -1;

  /** historyJSON is the module's history(n) (api.ts CourseAPI); generation the page's cluster generation. */
  constructor(
    root: HTMLElement,
    private readonly historyJSON: (n: number) => string,
    private readonly generation: () => number,
    /** The checker module's worker, shared with the course's scenario files (checker.ts). */
    private readonly checker: CheckerWorker,
  ) {
    this.box = h("details", "historybox", root);
    this.box.id = "historyBox";
    const sum = h("summary", "", this.box, "Client history: linearizability check");
    sum.title = "every key-value operation of this run with its call and return on the simulated clock, checked by porcupine";
    const bar = h("div", "histbar", this.box);
    this.verdictEl = h("span", "verdict", bar, "not checked yet");
    this.verdictEl.id = "histVerdict";
    this.verdictEl.setAttribute("role", "status");
    const checkBtn = h("button", "", bar, "Check now");
    checkBtn.id = "histCheck";
    checkBtn.type = "button";
    checkBtn.addEventListener("click", () => {
      this.failed = false;
      void this.check().catch(() => undefined);
    });
    this.vizBtn = h("button", "", bar, "Open visualization");
    this.vizBtn.id = "histViz";
    this.vizBtn.type = "button";
    this.vizBtn.title = "porcupine's picture of the history: each client's operations on a timeline and the longest linearizable prefix";
    this.vizBtn.hidden = true;
    this.vizBtn.addEventListener("click", () => this.openViz());
    this.noteEl = h("p", "msg", this.box);
    this.noteEl.id = "histNote";
    const table = h("table", "histops", this.box);
    const head = h("tr", "", h("thead", "", table));
    for (const c of ["call (s)", "return (s)", "from", "node", "operation", "result"]) h("th", "", head, c);
    this.rows = h("tbody", "", table);
    this.rows.id = "histOps";
    this.box.addEventListener("toggle", () => {
      this.listedKey = "";
      if (!this.box.open) return;
      this.list(); // now: a paused page draws no frames
      this.schedule();
    });

    this.banner = h("div", "banner linbanner");
    this.banner.id = "linBanner";
    this.banner.hidden = true;
    this.bannerText = h("p", "", this.banner);
    const open = h("button", "", this.banner, "Open visualization");
    open.type = "button";
    open.addEventListener("click", () => this.openViz());
    const show = h("button", "", this.banner, "Show the history");
    this.showBtn = show;
    show.type = "button";
    show.addEventListener("click", () => {
      this.box.open = true;
      this.box.scrollIntoView({ block: "nearest" });
    });
    (document.getElementById("banner") ?? root).after(this.banner);
  }

  /** active says whether checks run: the view is open, the follower-read switch is on, or a script asked. */
  private active(): boolean {
    return (this.box.open || this.followerReads || this.asked) && !this.failed;
  }

  /** draw is called every frame: cheap unless the history changed. */
  draw(s: Snapshot, bugs: string[]): void {
    this.followerReads = bugs.includes("FollowerReads");
    if (this.generation() !== this.lastGen) {
      this.lastGen = this.generation();
      this.failed = false; // a new cluster: check it as usual
    }
    this.key = `${this.generation()}/${s.histVer}`;
    if (this.verdictKey !== "" && !this.verdictKey.startsWith(`${this.generation()}/`)) this.clearVerdict();
    if (this.box.open && this.key !== this.listedKey && performance.now() - this.lastList >= LIST_MS) this.list();
    if (this.active() && this.key !== this.checkedKey && this.timer === 0 && this.running === null) this.schedule();
  }

  private schedule(): void {
    if (this.timer !== 0) return;
    this.timer = window.setTimeout(() => {
      this.timer = 0;
      if (this.active() && this.key !== this.checkedKey && this.running === null) void this.check().catch(() => undefined);
    }, DEBOUNCE_MS);
  }

  /** history returns the whole client history, or null when no cluster runs. */
  history(): HistoryView | null {
    const t = this.historyJSON(0);
    return t === "null" ? null : (JSON.parse(t) as HistoryView);
  }

  /** checkFromScript checks the history now and keeps checking it as it grows. */
  checkFromScript(): Promise<Verdict> {
    this.asked = true;
    this.failed = false;
    return this.check();
  }

  /** check checks the history as it is now and shows the verdict. */
  async check(): Promise<Verdict> {
    if (this.running) await this.running.catch(() => undefined);
    // The whole history goes to the worker as the module's text, unparsed (the checker reads
    // fresh and ops and ignores the rest); the page parses only the last operation's summary.
    const text = this.historyJSON(0);
    const hist = text === "null" ? null : (JSON.parse(this.historyJSON(1)) as HistoryView);
    if (!hist) throw new Error("the cluster is not running");
    const key = this.key;
    this.checkedKey = key;
    this.verdictEl.textContent = this.checker.started ? `checking ${count(hist.total, "operation")}…` : `loading the checker module, then checking ${count(hist.total, "operation")}…`;
    this.verdictEl.dataset.outcome = "checking";
    this.verdictEl.classList.remove("error");
    const run = this.checker.check(text);
    this.running = run;
    try {
      const v = await run;
      if (key.startsWith(`${this.generation()}/`)) this.show(v, hist, key);
      return v;
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      this.verdictEl.textContent = `No verdict: ${msg}. Check now tries again.`;
      this.verdictEl.dataset.outcome = "error";
      this.verdictEl.classList.add("error");
      this.failed = true; // not again by itself: a missing module would be fetched over and over
      throw new Error(msg);
    } finally {
      this.running = null;
      if (this.active() && this.key !== this.checkedKey) this.schedule();
    }
  }

  private show(v: Verdict, hist: HistoryView, key: string): void {
    this.verdict = v;
    this.verdictKey = key;
    const el = this.verdictEl;
    el.dataset.outcome = v.outcome;
    el.dataset.ops = String(v.ops);
    const keys = (v.keys ?? []).join(", ");
    const took = `${count(v.ops, "operation")} checked in ${v.ms < 10 ? v.ms.toFixed(1) : Math.round(v.ms)} ms`;
    if (v.outcome === "linearizable") el.textContent = `Linearizable: ${took}.`;
    else if (v.outcome === "unknown") el.textContent = `Unknown: the check ran out of time (${took}); fewer operations check faster.`;
    else el.textContent = `NOT linearizable: key${v.keys && v.keys.length > 1 ? "s" : ""} ${keys} (${took}).`;
    if (this.vizURL) URL.revokeObjectURL(this.vizURL);
    this.vizURL = v.html ? URL.createObjectURL(new Blob([v.html], { type: "text/html" })) : "";
    this.vizBtn.hidden = this.vizURL === "";
    this.vizBtn.dataset.href = this.vizURL;
    const bad = v.outcome === "not linearizable";
    this.banner.hidden = !bad;
    this.showBtn.hidden = this.box.classList.contains("ctl-hidden"); // an embed without the history view
    if (bad) {
      this.bannerText.textContent =
        `Linearizability violation in the client history: key${v.keys && v.keys.length > 1 ? "s" : ""} ${keys}. ` +
        "No order of the operations, each taking effect between its call and its return, explains what the reads returned" +
        (this.followerReads ? " (reads are served from a follower: BROKEN ON PURPOSE)." : ".");
    }
    const notes: string[] = [];
    if (hist.full) notes.push(`The history stopped at ${hist.cap} operations (porcupine slows down on long histories): later operations are not recorded. Go back with the time slider or start a new run to check more.`);
    if (!hist.fresh) notes.push("This cluster started from data saved in this browser: each key's first value is taken as unknown.");
    if (hist.pending > 0) notes.push(`${hist.pending} operation${hist.pending > 1 ? "s" : ""} without an answer: each may or may not have taken effect.`);
    this.noteEl.textContent = notes.join(" ");
  }

  private clearVerdict(): void {
    this.verdict = null;
    this.verdictKey = "";
    this.banner.hidden = true;
    this.vizBtn.hidden = true;
    this.verdictEl.textContent = "not checked yet";
    this.verdictEl.dataset.outcome = "";
    this.noteEl.textContent = "";
  }

  private openViz(): void {
    if (!this.vizURL) return;
    if (!window.open(this.vizURL, "_blank")) {
      // A blocked pop-up: fall back to a download of the same file.
      const a = h("a", "");
      a.href = this.vizURL;
      a.download = "linearizability.html";
      a.click();
    }
  }

  /** list draws the newest operations. */
  private list(): void {
    this.lastList = performance.now();
    this.listedKey = this.key;
    const t = this.historyJSON(ROWS);
    if (t === "null") return;
    const hist = JSON.parse(t) as HistoryView;
    const frag = document.createDocumentFragment();
    for (let i = hist.ops.length - 1; i >= 0; i--) {
      const o = hist.ops[i]!;
      const tr = h("tr", "", frag);
      tr.dataset.state = o.state;
      h("td", "", tr, secs(o.c));
      h("td", "", tr, o.r > 0 ? secs(o.r) : "—");
      h("td", "", tr, o.src);
      h("td", "", tr, o.node);
      h("td", "", tr, `${o.op} ${o.key}${o.value !== undefined ? ` ${o.value}` : ""}`);
      const res = h("td", "", tr, result(o));
      if (o.why) res.title = o.why;
    }
    this.rows.replaceChildren(frag);
    if (!this.verdict) {
      this.noteEl.textContent = `${count(hist.total, "operation")}${hist.full ? ` (stopped at ${hist.cap})` : ""}.`;
    }
  }
}

function result(o: HistOp): string {
  if (o.state === "lost") return "lost (never applied)";
  if (o.state === "pending") return "no answer";
  if (o.op === "get") return o.found ? JSON.stringify(o.out ?? "") : "not found";
  if (o.op === "delete") return o.found ? "deleted" : "not found";
  return "ok";
}
