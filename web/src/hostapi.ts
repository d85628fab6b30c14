// The page's scripting API for course pages: window.raftlab.status/submit/crash/restart/transfer/
// partition/heal/load/seek/traceHash/pause/run/history/checkHistory/loadScenario/answer/answers/
// resetAnswers/saveScenario, and the same through postMessage for host pages on another origin
// (checkHistory's and loadScenario's answers come when their promises settle); a host page is
// also sent each answer a student gives. Actions go through the page, so they are drawn and
// recorded as a person's.
// window.raftlab is this API alone: the wasm module's own calls stay on globalThis.raftlabWasm
// (api.ts), which the page reads only through api.ts.

import type { Page } from "./page";
import type { Course } from "./course";

declare global {
  /** The host API, installed by installHostAPI. */
  // eslint-disable-next-line no-var
  var raftlab: Record<string, Method> | undefined;
}

/** What status() returns. */
export interface Status {
  now: number; // simulated ms
  leader: string;
  running: boolean;
  violation: string;
  nodes: { id: string; state: string; term: number; commit: number; last: number }[];
}

/** The methods a host page may call; each returns a value or throws an Error with the reason. */
type Method = (...args: unknown[]) => unknown;

const str = (v: unknown, what: string): string => {
  if (typeof v !== "string" || v === "") throw new Error(`${what}: want a string`);
  return v;
};

const nodeID = (v: unknown, what: string): string => {
  if (typeof v !== "string" || v === "") throw new Error(`${what}: want a node's id, such as "n2"`);
  return v;
};

export function hostMethods(page: Page, course: Course): Record<string, Method> {
  const lab = page.lab;
  const act = (a: Parameters<Page["act"]>[0]): null => {
    const sink = document.createElement("p"); // the page writes its refusal here
    if (!page.act(a, sink)) throw new Error(sink.textContent || "the cluster is not running");
    return null;
  };
  return {
    status: (): Status => {
      const s = lab.snapshot(1e15, 1e15, true);
      if (!s) throw new Error("the cluster is not running");
      return {
        now: s.now,
        leader: s.leader,
        running: page.isRunning(),
        violation: s.violation ?? "",
        nodes: s.nodes.map((n) => ({ id: n.id, state: n.state, term: n.term, commit: n.commit, last: n.last })),
      };
    },
    submit: (cmd: unknown) => act({ kind: "submit", command: str(cmd, "submit") }),
    crash: (id: unknown) => act({ kind: "crash", node: nodeID(id, "crash") }),
    restart: (id: unknown) => act({ kind: "restart", node: nodeID(id, "restart") }),
    transfer: (id: unknown) => act({ kind: "transfer", node: nodeID(id, "transfer") }),
    addNode: (id?: unknown) => act({ kind: "add-server", node: id === undefined ? "" : nodeID(id, "addNode") }),
    removeNode: (id: unknown) => act({ kind: "remove-server", node: nodeID(id, "removeNode") }),
    setVoters: (...ids: unknown[]) => {
      const list = ids.length === 1 && Array.isArray(ids[0]) ? (ids[0] as unknown[]) : ids;
      if (list.length === 0 || !list.every((x) => typeof x === "string" && x !== "")) {
        throw new Error('setVoters: want the voters\' ids, such as "n4", "n5", "n6" (several at once need the joint consensus option)');
      }
      return act({ kind: "set-voters", voters: list as string[] });
    },
    partition: (...groups: unknown[]) => {
      if (groups.length < 2 || !groups.every((g) => Array.isArray(g) && g.every((x) => typeof x === "string"))) {
        throw new Error("partition: want two groups of node ids or more, such as [\"n1\"], [\"n2\", \"n3\"]");
      }
      return act({ kind: "partition", groups: groups as string[][] });
    },
    heal: () => act({ kind: "heal-all" }),
    load: (on: unknown) => {
      if (typeof on !== "boolean") throw new Error("load: want true or false");
      return act({ kind: "load", on });
    },
    seek: (ms: unknown) => {
      if (typeof ms !== "number" || !isFinite(ms)) throw new Error("seek: want simulated milliseconds");
      const err = course.seekTo(ms);
      if (err) throw new Error(err);
      return null;
    },
    traceHash: () => lab.api.traceHash(),
    history: () => {
      const h = course.history.history();
      if (!h) throw new Error("the cluster is not running");
      return h;
    },
    checkHistory: () =>
      course.history.checkFromScript().then((v) => ({ outcome: v.outcome, keys: v.keys ?? [], ops: v.ops, ms: v.ms })),
    loadScenario: async (text: unknown, name: unknown) => {
      const file = typeof name === "string" && name !== "" ? name : "scenario.json";
      const err = await course.loadScenario(str(text, "loadScenario"), file);
      if (err) throw new Error(err);
      const g = JSON.parse(lab.api.guideState()) as { id: string; title: string; steps: string[] };
      return { id: g.id, title: g.title, steps: g.steps.length };
    },
    answer: (choice: unknown) => {
      if (typeof choice !== "number" || !Number.isInteger(choice)) throw new Error("answer: want the choice's index, from 0");
      const err = course.answer(choice);
      if (err) throw new Error(err);
      return null;
    },
    answers: (id: unknown) => {
      const g = JSON.parse(lab.api.guideState()) as { id: string } | null;
      const sc = typeof id === "string" && id !== "" ? id : g?.id;
      if (!sc) throw new Error("answers: no guided scenario is open; name one");
      return course.progress(sc);
    },
    resetAnswers: (id: unknown) => {
      course.resetProgress(str(id, "resetAnswers"));
      return null;
    },
    saveScenario: () => course.scenarioFile(),
    pause: () => (page.setRunning(false), null),
    run: () => (page.setRunning(true), null),
  };
}

/** installHostAPI adds the methods to window.raftlab and answers postMessage calls. */
export function installHostAPI(page: Page, course: Course): void {
  const methods = hostMethods(page, course);
  globalThis.raftlab = methods;
  // A host page sends {raftlab: id, method, args}; the answer is {raftlab: id, result} or
  // {raftlab: id, error}. Only these methods can be called.
  window.addEventListener("message", (e: MessageEvent) => {
    const d = e.data as { raftlab?: unknown; method?: unknown; args?: unknown } | null;
    if (!d || typeof d !== "object" || d.raftlab === undefined || !e.source) return;
    const reply = (body: object): void => (e.source as WindowProxy).postMessage({ raftlab: d.raftlab, ...body }, e.origin === "null" ? "*" : e.origin);
    const m = typeof d.method === "string" && Object.prototype.hasOwnProperty.call(methods, d.method) ? methods[d.method] : undefined;
    if (!m) {
      reply({ error: `unknown method ${JSON.stringify(d.method)}; known: ${Object.keys(methods).join(", ")}` });
      return;
    }
    const fail = (err: unknown): void => reply({ error: err instanceof Error ? err.message : String(err) });
    try {
      const result = m(...(Array.isArray(d.args) ? d.args : []));
      if (result instanceof Promise) result.then((r) => reply({ result: r }), fail);
      else reply({ result });
    } catch (err) {
      fail(err);
    }
  });
  // Tell an embedding page that calls are answered from now on (messages sent before are lost),
  // and each answer a student gives, so that a course platform can grade.
  if (window.parent !== window) {
    window.parent.postMessage({ raftlab: "ready" }, "*");
    course.onAnswer = (a) => window.parent.postMessage({ raftlab: "answer", ...a }, "*");
  }
}
