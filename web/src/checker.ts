// The checker module (checker.wasm, wasm/checker) in a Web Worker, started on first use: it
// checks the client history for linearizability (history.ts) and validates the scenario files
// a course loads (course.ts), both off the page's thread and out of the page's own module.

import type { Verdict } from "./history";

/** Porcupine's own time limit for one check. */
const CHECK_TIMEOUT_MS = 5000;
/** A request still running after this long is ended with its worker (porcupine cannot stop a key's search in wasm). */
const WATCHDOG_MS = 20000;

/** What the worker answers (checkworker.ts). */
interface Reply {
  id: number;
  verdict?: string;
  problems?: string;
  error?: string;
}

/** CheckerWorker runs the checker module in a worker, started on the first request. */
export class CheckerWorker {
  private worker: Worker | null = null;
  private seq = 0;
  private readonly waiting = new Map<number, { resolve: (r: Reply) => void; reject: (e: Error) => void; timer: number }>();

  get started(): boolean {
    return this.worker !== null;
  }

  /** check checks a client history (its JSON text) for linearizability. */
  async check(history: string): Promise<Verdict> {
    const r = await this.request({ history, timeoutMs: CHECK_TIMEOUT_MS }, `the check took longer than ${WATCHDOG_MS / 1000} s and was stopped; the history may be too large or too concurrent`);
    const v = JSON.parse(r.verdict ?? "{}") as Verdict & { error?: string };
    if (v.error !== undefined) throw new Error(v.error);
    return v;
  }

  /** validateScenario returns "" for a valid scenario file, or its problems, each naming the file and the place. */
  async validateScenario(name: string, text: string): Promise<string> {
    const r = await this.request({ scenario: text, name }, `checking ${name} took longer than ${WATCHDOG_MS / 1000} s and was stopped`);
    return r.problems ?? "";
  }

  private request(msg: object, late: string): Promise<Reply> {
    const w = this.start();
    const id = ++this.seq;
    return new Promise<Reply>((resolve, reject) => {
      const timer = window.setTimeout(() => this.fail(new Error(late)), WATCHDOG_MS);
      this.waiting.set(id, { resolve, reject, timer });
      w.postMessage({ id, ...msg });
    });
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const w = new Worker("checkworker.js");
    w.onmessage = (e: MessageEvent<Reply>) => {
      const p = this.waiting.get(e.data.id);
      if (!p) return;
      this.waiting.delete(e.data.id);
      window.clearTimeout(p.timer);
      if (e.data.error !== undefined) {
        p.reject(new Error(e.data.error));
        this.stop(); // a module that failed to load is fetched again on the next request
        return;
      }
      p.resolve(e.data);
    };
    w.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      this.fail(new Error(`the checker could not start (checkworker.js${e.message ? `: ${e.message}` : " did not load"})`));
    };
    this.worker = w;
    return w;
  }

  /** fail ends the worker and every request waiting on it. */
  private fail(err: Error): void {
    for (const p of this.waiting.values()) {
      window.clearTimeout(p.timer);
      p.reject(err);
    }
    this.waiting.clear();
    this.stop();
  }

  private stop(): void {
    this.worker?.terminate();
    this.worker = null;
  }
}
