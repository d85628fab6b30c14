// The checker worker: loads the checker module (checker.wasm, wasm/checker) and checks the
// page's client histories off the page's thread, so that a long check never stalls a frame.
// It also validates the scenario files a course loads. Messages in: {id, history: JSON text,
// timeoutMs} or {id, scenario: text, name}; out: {id, verdict: JSON text}, {id, problems: ""
// or text} or {id, error}. A module that cannot load answers every request with the reason.

declare function importScripts(...urls: string[]): void;
declare class Go {
  importObject: WebAssembly.Imports;
  run(instance: WebAssembly.Instance): Promise<void>;
}

interface Checker {
  check(history: string, timeoutMs: number): string;
  scenario(name: string, text: string): string;
}

interface Request {
  id: number;
  history?: string;
  timeoutMs?: number;
  scenario?: string;
  name?: string;
}

const scope = self as unknown as {
  onmessage: ((e: MessageEvent<Request>) => void) | null;
  postMessage(msg: unknown): void;
  raftlabChecker?: Checker;
};

async function load(): Promise<Checker> {
  importScripts("wasm_exec.js");
  const go = new Go();
  let result: WebAssembly.WebAssemblyInstantiatedSource;
  const resp = await fetch("checker.wasm");
  if (!resp.ok) throw new Error(`checker.wasm: HTTP ${resp.status} ${resp.statusText}`);
  try {
    result = await WebAssembly.instantiateStreaming(resp, go.importObject);
  } catch {
    // A server that sends the wrong content type: fall back to an ArrayBuffer.
    const buf = await (await fetch("checker.wasm")).arrayBuffer();
    result = await WebAssembly.instantiate(buf, go.importObject);
  }
  void go.run(result.instance); // runs main until it blocks, which installs raftlabChecker
  if (!scope.raftlabChecker) throw new Error("the checker module did not install its API");
  return scope.raftlabChecker;
}

const ready = load();
ready.catch(() => undefined); // reported with each request

scope.onmessage = (e) => {
  const { id, history, timeoutMs, scenario, name } = e.data;
  ready.then(
    (c) =>
      scope.postMessage(
        scenario !== undefined ? { id, problems: c.scenario(name ?? "scenario", scenario) } : { id, verdict: c.check(history ?? "", timeoutMs ?? 0) },
      ),
    (err: unknown) => scope.postMessage({ id, error: `the checker module could not be loaded: ${err instanceof Error ? err.message : String(err)}` }),
  );
};
