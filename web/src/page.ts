// The lab page: draws what the wasm cluster reports and drives its clock from the event loop.
// No Raft logic lives here.

import type { Action, Lab, LabEvent, MessageView, Snapshot } from "./api";
import { ClusterView } from "./cluster";
import { Cards } from "./cards";
import { h } from "./dom";
import { count } from "./words";

const $ = <T extends Element = HTMLElement>(id: string): T => {
  const el: Element | null = document.getElementById(id);
  if (!el) throw new Error(`missing #${id}`);
  return el as T;
};

/** Wall-time budget per frame for the simulation, so that drawing keeps its share. */
const FRAME_BUDGET_MS = 10;
/**
 * At max speed the page simulates in slices of this much wall time, each its own task (a
 * MessageChannel message, which the browser neither clamps nor ties to frames), and draws at
 * most once per animation frame, every MAX_DRAW_MS or more: as often as keeps a draw, with the
 * browser's own work for it (style, layout, paint), under 1/DRAW_SHARE of the time, and at
 * least every MAX_DRAW_SLOW_MS.
 */
const SLICE_MS = 8;
const MAX_DRAW_MS = 50;
const MAX_DRAW_SLOW_MS = 500;
const DRAW_SHARE = 4;
/** The speed slider's top position: as fast as the budget allows. */
const SPEED_MAX = 100;
const EVENT_ROWS = 300;
/** While running, the nodes' details are redrawn this often (wall ms); the rest every frame. */
const DETAIL_MS = 66;
/** At max speed, the nodes' details are redrawn this often (their logs scroll by too fast to read). */
const DETAIL_MAX_MS = 250;
/** The event log is redrawn at most this often while running (wall milliseconds), at max speed less often: its rows go by too fast to read. */
const EVENT_FLUSH_MS = 100;
const EVENT_FLUSH_MAX_MS = 250;
/**
 * While running at a finite speed the page asks the module to collect its garbage when the
 * browser is idle, this often (wall ms), so that the collector seldom starts inside a frame.
 */
const COLLECT_MS = 2000;
/** An events-after sequence number that asks for no events. */
const NO_EVENTS = 1e15;

/** speedOf maps the slider (0..100) to a multiple of real time: 0.01× .. ~90×, then max. */
function speedOf(v: number): number {
  return v >= SPEED_MAX ? Infinity : Math.pow(10, (v - 50) / 25);
}

function speedText(s: number): string {
  if (!isFinite(s)) return "max";
  return s >= 10 ? `${Math.round(s)}×` : s >= 1 ? `${s.toFixed(1).replace(/\.0$/, "")}×` : `${s.toPrecision(1)}×`;
}

/** Frames drawn while running and the wall time they took, for benchmarks (server/browser_test.go). */
interface FrameStats {
  frames: number;
  /** Wall ms of page work in all frames (simulating, the snapshot, drawing) and, at max speed, in the slices between them. */
  workMs: number;
  /** Of that, wall ms in the module's advance (the simulation). */
  advanceMs: number;
  /** The longest frame's work, in wall ms, since a script last set it to 0. */
  maxMs: number;
}

declare global {
  // eslint-disable-next-line no-var
  var raftlabFrames: FrameStats;
}
const frameStats: FrameStats = { frames: 0, workMs: 0, advanceMs: 0, maxMs: 0 };
globalThis.raftlabFrames = frameStats;

export class Page {
  private running = true;
  private speed = 1;
  private lastFrame = 0;
  private frameReq = 0;
  private n = 5;
  private eventSeq = 0;
  private dropSeq = 0;
  private snap: Snapshot | null = null;
  /** The ids the cluster view and the cards were laid out for. */
  private built = "";
  private pendingEvents: LabEvent[] = [];
  private lastDetail = 0;
  /** Where the last speed measurement started; null to start a new one. */
  private speedWindow: { wall: number; sim: number; warmup: boolean } | null = null;
  /** Another tab wrote this cluster's storage: this tab stays paused until reloaded. */
  private conflict = false;
  private lastEventFlush = 0;
  /** A slice of max-speed simulation is queued (see SLICE_MS). */
  private sliceQueued = false;
  private readonly slices = new MessageChannel();
  private lastDraw = 0;
  private lastCollect = 0;
  /** At max speed: draw every this many wall ms (MAX_DRAW_MS..MAX_DRAW_SLOW_MS), and when the last draw began (-1: measured). */
  private drawEvery = MAX_DRAW_MS;
  private drawnAt = -1;
  private readonly view: ClusterView;
  private readonly cards: Cards;
  private readonly events = $<HTMLOListElement>("events");
  /** Bumped each time the page adopts a new cluster (start, link, seek, scenario). */
  generation = 0;
  /** Called after each draw (course.ts: time slider, narration). */
  onDraw: ((s: Snapshot) => void) | null = null;

  constructor(readonly lab: Lab, private readonly seed: number) {
    this.view = new ClusterView(
      $<SVGSVGElement>("svg"),
      (a) => this.act(a, $("netMsg")),
      (id) => this.cards.focus(id),
      (id) => this.inspect(id),
    );
    this.cards = new Cards($("cards"), (a) => this.act(a, $("submitMsg")));
    this.slices.port1.onmessage = () => this.slice();
    this.wire();
  }

  /** start (re)starts the cluster of n nodes from storage, or shows why it cannot. */
  start(n: number): void {
    this.n = n;
    $<HTMLSelectElement>("nodes").value = String(n);
    this.eventSeq = 0;
    this.dropSeq = 0;
    this.pendingEvents = [];
    this.conflict = false;
    this.events.replaceChildren();
    const err = this.lab.start(n, this.seed);
    if (err) {
      this.snap = null;
      this.showBanner(err, true);
      this.view.clear();
      this.cards.clear();
      this.setStatus("stopped");
      return;
    }
    this.adopt();
  }

  /** adopt draws the cluster the wasm module now runs from scratch (after start, or a run opened by course.ts). */
  adopt(): void {
    this.generation++;
    this.eventSeq = 0;
    this.dropSeq = 0;
    this.pendingEvents = [];
    this.conflict = false;
    this.events.replaceChildren();
    this.snap = null;
    this.hideBanner();
    const s = this.lab.snapshot(0, 0);
    if (!s) return;
    // The cluster's first size names its storage (lab5), whatever nodes joined it since.
    this.n = Number(/lab(\d+)$/.exec(s.cluster)?.[1] ?? s.nodes.length);
    if ([3, 5, 7, 9].includes(this.n)) $<HTMLSelectElement>("nodes").value = String(this.n);
    this.built = s.nodes.map((nd) => nd.id).join(",");
    this.view.build(s.nodes.map((nd) => nd.id));
    this.cards.build(s.nodes.map((nd) => nd.id));
    this.draw(s);
    this.schedule();
  }

  private wire(): void {
    $<HTMLSelectElement>("nodes").addEventListener("change", (e) => {
      this.start(Number((e.target as HTMLSelectElement).value));
    });
    $("play").addEventListener("click", () => this.setRunning(!this.running));
    $("step").addEventListener("click", () => this.stepOnce());
    const speed = $<HTMLInputElement>("speed");
    const onSpeed = (): void => {
      this.speed = speedOf(Number(speed.value));
      this.speedWindow = null;
      $("speedText").textContent = speedText(this.speed);
    };
    speed.addEventListener("input", () => {
      onSpeed();
      this.schedule();
    });
    onSpeed();
    $("reset").addEventListener("click", () => {
      this.lab.reset(this.n);
      this.start(this.n);
    });
    $<HTMLFormElement>("submitForm").addEventListener("submit", (e) => {
      e.preventDefault();
      const input = $<HTMLInputElement>("cmd");
      if (this.act({ kind: "submit", command: input.value }, $("submitMsg"))) {
        $("submitMsg").textContent = `submitted: ${input.value}`;
        input.value = "";
      }
    });
    $("addNode").addEventListener("click", () => {
      if (this.act({ kind: "add-server" }, $("submitMsg"))) $("submitMsg").textContent = "asked the leader to add a node: it joins as a learner";
    });
    $("setVoters").addEventListener("click", () => {
      const voters = $<HTMLInputElement>("voters").value.split(/[\s,]+/).filter((v) => v !== "");
      if (this.act({ kind: "set-voters", voters }, $("submitMsg"))) {
        $("submitMsg").textContent = `asked the leader for the voters ${voters.join(", ")}: new servers join as learners first`;
      }
    });
    $("batch").addEventListener("click", () => {
      const t = Math.floor(this.snap?.now ?? 0);
      const commands = Array.from({ length: 10 }, (_, i) => `put b${i} ${t}`);
      if (this.act({ kind: "batch", commands }, $("submitMsg"))) {
        $("submitMsg").textContent = "submitted a batch of 10 puts";
      }
    });
    $<HTMLInputElement>("load").addEventListener("change", (e) => {
      this.act({ kind: "load", on: (e.target as HTMLInputElement).checked }, $("submitMsg"));
    });
    $<HTMLInputElement>("unreliable").addEventListener("change", (e) => {
      this.act({ kind: "unreliable", on: (e.target as HTMLInputElement).checked }, $("netMsg"));
    });
    $<HTMLInputElement>("reorder").addEventListener("change", (e) => {
      this.act({ kind: "reorder", on: (e.target as HTMLInputElement).checked }, $("netMsg"));
    });
    const onLatency = (): void => {
      const lo = Number($<HTMLInputElement>("latMin").value);
      const hi = Number($<HTMLInputElement>("latMax").value);
      this.act({ kind: "latency", minMs: lo, maxMs: hi }, $("netMsg"));
    };
    $("latMin").addEventListener("change", onLatency);
    $("latMax").addEventListener("change", onLatency);
    $("partition").addEventListener("click", () => {
      const text = $<HTMLInputElement>("groups").value;
      const groups = text.split("|").map((g) => g.split(/[\s,]+/).filter((x) => x !== ""));
      if (groups.filter((g) => g.length > 0).length < 2) {
        this.say($("netMsg"), "write two groups or more, such as: n1 n2 | n3 n4 n5", true);
        return;
      }
      if (this.act({ kind: "partition", groups }, $("netMsg"))) {
        this.say($("netMsg"), `partitioned: ${groups.map((g) => g.join(" ")).join(" | ")}`, false);
      }
    });
    $("healAll").addEventListener("click", () => {
      if (this.act({ kind: "heal-all" }, $("netMsg"))) this.say($("netMsg"), "every link healed", false);
    });
    document.addEventListener("keydown", (e) => {
      const t = e.target as HTMLElement;
      if (t.closest("input, textarea, select") || e.altKey || e.ctrlKey || e.metaKey) return;
      if (e.key === " ") {
        e.preventDefault();
        this.setRunning(!this.running);
      } else if (e.key === "ArrowRight") {
        e.preventDefault();
        this.stepOnce();
      }
    });
    document.addEventListener("visibilitychange", () => {
      this.lastFrame = 0; // a hidden tab gets no frames: don't catch up on return
      this.schedule(); // nor slices at max speed (slice): they start again on return
    });
    // localStorage is shared by the tabs of one origin: two tabs running the same cluster
    // would overwrite each other's nodes. The storage event fires only for other tabs' writes.
    window.addEventListener("storage", (e) => {
      if (!this.snap || e.key === null || !e.key.startsWith(`raftlab/${this.snap.cluster}/`)) return;
      if (this.running) this.setRunning(false);
      this.conflict = true; // its nodes' memory no longer matches storage: never resume
      this.showBanner(
        `Another tab is running cluster ${this.snap.cluster} on this browser's storage (it wrote ${e.key}). ` +
          "This tab paused so that the two do not overwrite each other's nodes: close the other tab and reload this one, or choose another cluster size.",
        false,
      );
    });
  }

  /** act performs an action, draws its result, and reports whether it succeeded. */
  act(a: Action, msg: HTMLElement): boolean {
    if (!this.snap) return false;
    if (this.conflict) {
      this.say(msg, "another tab is running this cluster: reload this tab to go on", true);
      return false;
    }
    const err = this.lab.act(a);
    if (err) {
      this.say(msg, err, true);
    } else if (a.kind !== "submit" && a.kind !== "batch") {
      this.say(msg, "", false);
    }
    this.refresh();
    return !err;
  }

  /** The message the message view shows (its id), or null when the view is closed. */
  private inspected: number | null = null;

  /**
   * inspect pauses the run and shows a message in flight: its fields, named as in Figure 2 of
   * the Raft paper, and a button that drops it (an action, recorded like a person's).
   */
  inspect(id: number): void {
    if (!this.snap) return;
    if (this.running) this.setRunning(false);
    const box = $("msgView");
    const raw = this.lab.api.message(id);
    box.replaceChildren();
    box.hidden = false;
    this.inspected = id;
    const close = h("button", "close", box, "×");
    close.type = "button";
    close.title = "close";
    close.setAttribute("aria-label", "close the message view");
    close.addEventListener("click", () => this.closeInspect());
    if (!raw.startsWith("{")) {
      h("p", "msg error", box, raw);
      return;
    }
    let m: MessageView;
    try {
      m = JSON.parse(raw) as MessageView;
    } catch {
      h("p", "msg error", box, "the module's answer could not be read");
      return;
    }
    h("h3", "", box, `${m.type} ${m.from} → ${m.to}`);
    const when = h("p", "when", box, `sent at ${(m.sent / 1000).toFixed(3)} s, arrives at ${(m.deliver / 1000).toFixed(3)} s`);
    const table = h("table", "", box);
    for (const [name, value] of m.fields) {
      const tr = h("tr", "", table);
      h("th", "", tr, name);
      h("td", "", tr, value);
    }
    const state = h("p", "msg", box);
    state.id = "msgViewState";
    const drop = h("button", "", box, "Drop it");
    drop.id = "dropMsg";
    drop.type = "button";
    drop.title = "lose this message on arrival (recorded: a share link repeats it)";
    const lost = (): void => {
      drop.disabled = true;
      when.textContent += " · lost on arrival";
    };
    if (m.dropped) lost();
    drop.addEventListener("click", () => {
      if (this.act({ kind: "drop-message", msg: m.id }, state)) {
        lost();
        state.textContent = "dropped: it will be lost on arrival; run or step on to see what Raft does about it";
      }
    });
  }

  private closeInspect(): void {
    this.inspected = null;
    $("msgView").hidden = true;
  }

  /** noteInspected tells, in the message view, when its message has left the wire. */
  private noteInspected(s: Snapshot): void {
    if (this.inspected === null || s.flights.some((f) => f.id === this.inspected)) return;
    const state = document.getElementById("msgViewState");
    const drop = document.getElementById("dropMsg") as HTMLButtonElement | null;
    if (state && drop && !state.classList.contains("gone")) {
      drop.disabled = true;
      state.classList.add("gone");
      state.textContent = "this message has left the wire" + (state.textContent ? ` (${state.textContent})` : "");
    }
  }

  private say(el: HTMLElement, text: string, isError: boolean): void {
    el.textContent = text;
    el.classList.toggle("error", isError);
  }

  isRunning(): boolean {
    return this.running;
  }

  setRunning(on: boolean): void {
    if (on && this.conflict) return;
    this.running = on;
    this.speedWindow = null;
    $("play").textContent = on ? "Pause" : "Run";
    document.body.classList.toggle("paused", !on);
    this.lastFrame = 0;
    this.schedule();
    this.refresh();
  }

  stepOnce(): void {
    if (this.running) this.setRunning(false);
    if (!this.snap || this.conflict) return;
    this.lab.step(); // with nothing pending it does nothing; the status line says so
    this.refresh();
  }

  /**
   * schedule asks for a frame while running, and at max speed for the next slice of
   * simulation; paused, nothing runs at all, and a hidden tab does not simulate.
   */
  private schedule(): void {
    if (!this.running || !this.snap) return;
    if (this.frameReq === 0) this.frameReq = requestAnimationFrame((t) => this.frame(t));
    if (!isFinite(this.speed) && !this.sliceQueued && !document.hidden) {
      this.sliceQueued = true;
      this.slices.port2.postMessage(null);
    }
  }

  /** slice simulates SLICE_MS of wall time at max speed, as its own task, and queues the next. */
  private slice(): void {
    this.sliceQueued = false;
    if (!this.running || !this.snap || isFinite(this.speed) || document.hidden) return;
    const start = performance.now();
    if (this.drawnAt >= 0) {
      // The last draw and what the browser did for it before this task could run.
      this.drawEvery = Math.min(MAX_DRAW_SLOW_MS, Math.max(MAX_DRAW_MS, (start - this.drawnAt) * DRAW_SHARE));
      this.drawnAt = -1;
    }
    this.lab.advance(SLICE_MS * 10000, SLICE_MS);
    const took = performance.now() - start;
    frameStats.workMs += took;
    frameStats.advanceMs += took;
    if (this.lab.failure !== null) {
      this.refresh(); // shows the failure and stops
      return;
    }
    this.schedule();
  }

  private frame(t: number): void {
    this.frameReq = 0;
    if (!this.running || !this.snap) return;
    const start = performance.now();
    const dt = this.lastFrame === 0 ? 0 : Math.min(t - this.lastFrame, 100);
    this.lastFrame = t;
    if (!isFinite(this.speed)) {
      // Max speed: slices simulate between frames; a frame only draws, and not every one.
      if (t - this.lastDraw >= this.drawEvery) {
        this.lastDraw = t;
        this.drawnAt = start;
        this.refresh(t - this.lastDetail < DETAIL_MAX_MS);
        this.measureSpeed(t);
        const end = performance.now();
        frameStats.frames++;
        frameStats.workMs += end - start;
        frameStats.maxMs = Math.max(frameStats.maxMs, end - start);
      }
      this.schedule();
      return;
    }
    const simMs = dt * this.speed;
    if (simMs > 0) this.lab.advance(simMs, FRAME_BUDGET_MS);
    const simulated = performance.now();
    this.refresh(t - this.lastDetail < DETAIL_MS);
    this.measureSpeed(t);
    const end = performance.now();
    frameStats.frames++;
    frameStats.workMs += end - start;
    frameStats.advanceMs += simulated - start;
    frameStats.maxMs = Math.max(frameStats.maxMs, end - start);
    if (t - this.lastCollect >= COLLECT_MS && typeof requestIdleCallback === "function") {
      this.lastCollect = t;
      requestIdleCallback(() => this.lab.api.collect(), { timeout: COLLECT_MS });
    }
    this.schedule();
  }

  /**
   * measureSpeed shows the speed reached when it falls short of the one asked for (the
   * machine's limit, or "max"), measured over a second of wall time.
   */
  private measureSpeed(t: number): void {
    const now = this.snap?.now ?? 0;
    if (this.speedWindow === null) {
      // The first window after a start, a resume or a new speed is a warm-up: not shown.
      this.speedWindow = { wall: t, sim: now, warmup: true };
      return;
    }
    const wall = t - this.speedWindow.wall;
    if (wall < 1000) return;
    const reached = (now - this.speedWindow.sim) / wall;
    const warmup = this.speedWindow.warmup;
    this.speedWindow = { wall: t, sim: now, warmup: false };
    if (warmup) return;
    const asked = speedText(this.speed);
    $("speedText").textContent = !isFinite(this.speed) || reached < this.speed * 0.8 ? `${asked} (${speedText(reached)})` : asked;
  }

  /** refresh draws the lab; light leaves the nodes' details (logs, kv, progress) as they are. */
  private refresh(light = false): void {
    if (!light) this.lastDetail = performance.now();
    // Events are asked for at most every EVENT_FLUSH_MS while running: the module writes each
    // one's text only when it is asked for.
    const events = !this.running || performance.now() - this.lastEventFlush >= (isFinite(this.speed) ? EVENT_FLUSH_MS : EVENT_FLUSH_MAX_MS);
    const s = this.lab.snapshot(events ? this.eventSeq : NO_EVENTS, this.dropSeq, light);
    if (s) this.draw(s);
    if (this.lab.failure !== null && this.running) {
      this.showBanner(`The Raft module failed: ${this.lab.failure}. Reload the page; if it happens again, please report it.`, false);
      this.setRunning(false);
    }
  }

  private draw(s: Snapshot): void {
    const first = this.snap === null;
    const ids = s.nodes.map((nd) => nd.id);
    if (this.built !== ids.join(",")) {
      // A node joined (a membership change): lay the cluster out again.
      this.built = ids.join(",");
      this.view.build(ids);
      this.cards.build(ids);
    }
    this.snap = s;
    $("clock").textContent = `${(s.now / 1000).toFixed(3)} s`;
    const problem = s.violation ? `Safety violation: ${s.violation}` : s.error;
    if (problem) {
      // A run in memory (guided, replayed, broken on purpose) has no storage to reset: the button
      // would clear the free-play cluster's instead.
      this.showBanner(problem, !s.cluster.startsWith("memory:"));
      if (this.running) this.setRunning(false);
    }
    this.setStatus(
      `${s.leader ? `leader ${s.leader}` : "no leader"} · ${count(s.stats.elections, "election")} · ${count(s.stats.committed, "command")} committed · ${count(s.stats.delivered, "message")} delivered, ${s.stats.dropped} dropped · seed ${s.seed}` +
        (this.running ? "" : s.pending ? " · paused" : " · paused, nothing pending"),
    );
    $<HTMLInputElement>("unreliable").checked = s.unreliable;
    const reorder = $<HTMLInputElement>("reorder");
    reorder.checked = s.reorder;
    reorder.disabled = s.unordered;
    if (s.unordered) reorder.title = "this run was shared before links were FIFO: every message draws its own delay, and it replays so";
    $<HTMLInputElement>("load").checked = s.load;
    this.view.draw(s);
    this.noteInspected(s);
    this.cards.draw(s);
    this.appendEvents(s);
    if (s.drops.length > 0) this.dropSeq = s.drops[s.drops.length - 1]!.seq;
    this.onDraw?.(s);
    if (first) {
      document.body.dataset.ready = "1";
      performance.mark("raftlab-interactive");
    }
  }

  /**
   * appendEvents adds the new events at the top of the log, newest first. Under load events
   * come by the hundred per second, so they are asked for and added at most every
   * EVENT_FLUSH_MS (refresh), and the list is never measured (reading its layout every frame cost more than the whole rest).
   */
  private appendEvents(s: Snapshot): void {
    if (s.events.length > 0) {
      this.pendingEvents.push(...s.events);
      this.eventSeq = s.events[s.events.length - 1]!.seq;
    }
    const now = performance.now();
    const every = isFinite(this.speed) ? EVENT_FLUSH_MS : EVENT_FLUSH_MAX_MS;
    if (this.pendingEvents.length === 0 || (this.running && now - this.lastEventFlush < every)) return;
    this.lastEventFlush = now;
    const list = this.events;
    const frag = document.createDocumentFragment();
    const events = this.pendingEvents.slice(-EVENT_ROWS);
    this.pendingEvents = [];
    for (let i = events.length - 1; i >= 0; i--) {
      const e = events[i]!;
      const li = document.createElement("li");
      li.dataset.kind = e.kind;
      const time = document.createElement("time");
      time.textContent = (e.t / 1000).toFixed(3);
      li.append(time, " ", e.text);
      frag.append(li);
    }
    if (events.length >= EVENT_ROWS) {
      list.replaceChildren(frag);
    } else {
      list.prepend(frag);
      const extra = list.children[EVENT_ROWS];
      if (extra) {
        // The rows beyond EVENT_ROWS go in one operation (one by one they cost more than the rest of the frame at max speed).
        const r = document.createRange();
        r.setStartBefore(extra);
        r.setEndAfter(list.lastChild!);
        r.deleteContents();
      }
    }
  }

  private setStatus(text: string): void {
    $("status").textContent = text;
  }

  private showBanner(text: string, canReset: boolean): void {
    $("bannerText").textContent = text;
    $("reset").hidden = !canReset;
    $("banner").hidden = false;
  }

  private hideBanner(): void {
    $("banner").hidden = true;
  }
}
