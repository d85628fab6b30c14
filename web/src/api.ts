// The wasm modules' JS API, typed in this one module: what raftlab.wasm (wasm/labmain_js.go,
// wasm/course_js.go) and mixed.wasm (wasm/mixedmain_js.go) install as globalThis.raftlabWasm,
// and the shapes of what they report. The rest of the page receives the API from here and
// never reads the global itself; window.raftlab is the page's host API (hostapi.ts), a
// different object.

/** One node as the core reports it (wasm/lab.go nodeView). */
export interface NodeView {
  id: string;
  state: "follower" | "pre-candidate" | "candidate" | "leader" | "dead";
  term: number;
  vote: string;
  leader: string;
  commit: number;
  last: number;
  /** Milliseconds of simulated time until the election timeout; -1 for leaders and dead nodes. */
  timerLeft: number;
  /** Its part in the configuration it uses, that configuration, and whether it is committed. */
  role: "voter" | "learner" | "outside" | "removed";
  config: string;
  configCommitted: boolean;
  // The details below come only in a detailed snapshot; empty ones are left out.
  progress?: { id: string; match: number; next: number; inflight: number; probing: boolean }[];
  /** The snapshot that replaces the log up to snapIndex (absent: none), its term and size in bytes. */
  snapIndex?: number;
  snapTerm?: number;
  snapSize?: number;
  /** Index of log[0]: the log shows the newest entries after the snapshot. */
  logFrom?: number;
  log?: { t: number; c: string }[];
  kv?: [string, string][];
  kvLen?: number;
  applied?: string[];
  error?: string;
}

/** A message on the wire. Times are simulated milliseconds. */
export interface Flight {
  /** Names the message while it travels (CourseAPI.message, the drop-message action). */
  id: number;
  from: string;
  to: string;
  type: MsgKind;
  sent: number;
  deliver: number;
  dropped: boolean;
  ok: boolean;
  n: number;
}

export type MsgKind = "vote" | "vote-reply" | "append" | "append-reply" | "prevote" | "prevote-reply" | "timeoutnow" | "snapshot" | "snapshot-reply" | "other";

export interface LabEvent {
  seq: number;
  t: number;
  kind: string;
  node: string;
  text: string;
}

export interface Drop {
  seq: number;
  from: string;
  to: string;
  type: MsgKind;
  why: string;
}

/** Everything the page draws, from one call (wasm/lab.go Snapshot). */
export interface Snapshot {
  now: number;
  seed: number;
  cluster: string;
  leader: string;
  timerMax: number;
  nodes: NodeView[];
  flights: Flight[];
  cut: [string, string][];
  events: LabEvent[];
  drops: Drop[];
  unreliable: boolean;
  /** Messages leave their link's FIFO order (the reorder switch, or a version 1 run's network). */
  reorder: boolean;
  /** A version 1 run: its links reorder every message, and the switch cannot change that. */
  unordered: boolean;
  load: boolean;
  /** Changes when the client history does (wasm/history.go). */
  histVer: number;
  pending: boolean;
  nextAt: number;
  error?: string;
  violation?: string;
  stats: { delivered: number; dropped: number; sent: number; elections: number; committed: number; events: number };
  /** Whether the nodes' details (log, progress, kv, applied) are included. */
  detail: boolean;
}

/** An action of the person (wasm/lab.go Action). */
export interface Action {
  kind: string;
  node?: string;
  peer?: string;
  groups?: string[][];
  command?: string;
  commands?: string[];
  on?: boolean;
  minMs?: number;
  maxMs?: number;
  /** drop-message: the message's id (Flight.id). */
  msg?: number;
  /** set-voters: the voters wanted (with joint consensus, several servers changed at once). */
  voters?: string[];
}

/** A message on the wire, as CourseAPI.message describes it (wasm/lab.go MessageView). */
export interface MessageView {
  id: number;
  type: string;
  from: string;
  to: string;
  sent: number;
  deliver: number;
  dropped: boolean;
  /** [name, value] in Figure 2's names, in order. */
  fields: [string, string][];
}

/** The simulated cluster's calls (wasm/labmain_js.go). */
export interface ClusterAPI {
  /** Where the nodes keep their state: "localStorage", or "memory (why)". */
  storage: string;
  start(nodes: number, seed: number): string | null;
  reset(nodes: number): number;
  advance(simMs: number, budgetMs: number): boolean | string;
  step(): boolean | string;
  act(action: string): string | null;
  snapshot(eventsAfter: number, dropsAfter: number, light?: boolean): string;
  /** Runs the module's garbage collector now (the page calls it when idle, between frames). */
  collect(): null | string;
}

/** The course calls of the lab module (wasm/course_js.go); JSON texts, or null / an error text. */
export interface CourseAPI {
  share(): string;
  openRun(run: string, atMs: number): string | null;
  seek(ms: number): string | null;
  timeline(): string;
  traceHash(): string;
  scenarios(): string;
  guide(id: string, step: number): string | null;
  guideState(): string;
  next(): string | null;
  setNamespace(ns: string): string | null;
  bugSwitches(): string;
  optionSwitches(): string;
  /** A cluster in memory with the named switches and options on and the given compaction threshold (0: off). */
  breakIt(n: number, seed: number, names: string, compact: number): string | null;
  beforeViolation(): string | null;
  /** The client history, its last n operations (0: all), as JSON, or "null". */
  history(n: number): string;
  /** The message on the wire named id, as JSON (MessageView), or why there is none. */
  message(id: number): string;
  /** Messages and lane marks after the given sequence numbers, as JSON. */
  timelineData(msgsAfter: number, marksAfter: number): string;
  /** Opens a course's scenario file (validated by the checker module) at a step from 0. */
  openCourseScenario(text: string, step: number): string | null;
  /** Answers the current step's question (a choice from 0). */
  answer(choice: number): string | null;
  /** The run as a scenario file: JSON {name, file}, or an error text. */
  saveScenario(): string;
}

/** What raftlab.wasm installs. */
export type LabAPI = ClusterAPI & CourseAPI;

/** What mixed.wasm installs (wasm/mixed_js.go). */
export interface MixedAPI {
  storage: string;
  /** With add, the members ask to be added to the cluster's configuration (?join=ID). */
  joinCluster(url: string, cluster: string, members: string, add?: boolean): string | null;
  mixedAct(action: string): string | null;
  mixedSnapshot(): string;
  /** The timeline's messages and marks after these sequence numbers (wasm/timeline.go TimelineData). */
  mixedTimeline(msgsAfter: number, marksAfter: number): string;
}

declare class Go {
  importObject: WebAssembly.Imports;
  run(instance: WebAssembly.Instance): Promise<void>;
}

declare global {
  // The wasm module's own global, read once by instantiate; tests may read it too.
  // eslint-disable-next-line no-var
  var raftlabWasm: unknown;
}

/** Lab wraps the wasm API with types. Every method returns an error text or a value; none throws. */
export class Lab {
  /** The first internal error a call reported (a Go panic, turned into text); null if none. */
  failure: string | null = null;

  constructor(readonly api: LabAPI) {}

  private check<T>(v: T | string, isError: (v: T | string) => v is string): T | null {
    if (isError(v)) {
      this.failure ??= v;
      return null;
    }
    return v;
  }

  /** Where the nodes keep their state: "localStorage", or memory when the browser refuses it. */
  get storage(): string {
    return this.api.storage;
  }

  /** Starts a cluster of n nodes from what localStorage holds; an error text when it cannot. */
  start(n: number, seed: number): string | null {
    return this.api.start(n, seed);
  }

  /** Clears the stored data of the cluster of n nodes. */
  reset(n: number): number {
    return this.api.reset(n);
  }

  /** Runs simMs of simulated time, spending at most budgetMs of wall time; true if caught up. */
  advance(simMs: number, budgetMs: number): boolean {
    return this.check(this.api.advance(simMs, budgetMs), isText) === true;
  }

  /** Processes the next pending event; false when there is none. */
  step(): boolean {
    return this.check(this.api.step(), isText) === true;
  }

  /** Performs an action; returns what to tell the person if it failed. */
  act(a: Action): string | null {
    return this.api.act(JSON.stringify(a));
  }

  /** The state to draw; events and drops after the given sequence numbers. A light one leaves out the nodes' details. */
  snapshot(eventsAfter: number, dropsAfter: number, light = false): Snapshot | null {
    const s = this.api.snapshot(eventsAfter, dropsAfter, light);
    if (s === "null") return null;
    try {
      return JSON.parse(s) as Snapshot;
    } catch {
      this.failure ??= s; // not JSON: the text of an internal error
      return null;
    }
  }
}

function isText(v: unknown): v is string {
  return typeof v === "string";
}

/** instantiate runs a module with wasm_exec.js's Go runtime and returns what it installed. */
async function instantiate(url: string): Promise<object> {
  const go = new Go();
  const resp = fetch(url);
  let result: WebAssembly.WebAssemblyInstantiatedSource;
  try {
    result = await WebAssembly.instantiateStreaming(resp, go.importObject);
  } catch (e) {
    // A server that sends the wrong content type: fall back to an ArrayBuffer.
    const buf = await (await fetch(url)).arrayBuffer();
    result = await WebAssembly.instantiate(buf, go.importObject);
  }
  void go.run(result.instance); // runs main until it blocks, which installs globalThis.raftlabWasm
  const api = globalThis.raftlabWasm;
  if (typeof api !== "object" || api === null) {
    throw new Error("the wasm module did not install its API");
  }
  return api;
}

/** Loads the lab's module (raftlab.wasm) and returns its API, with types. */
export async function loadLab(url: string): Promise<Lab> {
  return new Lab((await instantiate(url)) as LabAPI);
}

/** Loads the mixed-cluster module (mixed.wasm) and returns its API, with types. */
export async function loadMixed(url: string): Promise<MixedAPI> {
  return (await instantiate(url)) as MixedAPI;
}
