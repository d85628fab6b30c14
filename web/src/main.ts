// The lab page's entry: reads the URL, loads the wasm module, and starts the page, its course
// features and its host API. Nothing imports this file.

import { loadLab, loadMixed, type Lab, type MixedAPI } from "./api";
import { Page } from "./page";
import { Course } from "./course";
import { startMixed } from "./mixed";
import { applyLayout, applyRun, parseOptions, showProblems, type Options } from "./embed";
import { installHostAPI } from "./hostapi";

/**
 * conflicts names the parameters that a shared run or a scenario overrides (it has its own
 * cluster size and seed), so that an embed of ?nodes=3&scenario=figure8 says why it shows 5.
 */
function conflicts(params: URLSearchParams, opts: Options, lab: Lab): string[] {
  let t: { nodes: number; seed: number };
  try {
    t = JSON.parse(lab.api.timeline()) as { nodes: number; seed: number };
  } catch {
    return [];
  }
  const what = params.has("run") ? "the shared run" : `scenario ${params.get("scenario") ?? params.get("scenario-url") ?? ""}`;
  const out: string[] = [];
  if (params.has("nodes") && t.nodes !== opts.nodes) out.push(`nodes=${opts.nodes} is overridden: ${what} has ${t.nodes} nodes of its own`);
  if (params.has("seed") && t.seed !== opts.seed) out.push(`seed=${opts.seed} is overridden: ${what} has seed ${t.seed} of its own`);
  return out;
}

/** fatal shows why the page cannot run at all. */
function fatal(text: string): void {
  const banner = document.getElementById("banner");
  const textEl = document.getElementById("bannerText");
  const reset = document.getElementById("reset");
  if (!banner || !textEl || !reset) return;
  textEl.textContent = text;
  reset.hidden = true;
  banner.hidden = false;
}

async function main(): Promise<void> {
  const params = new URLSearchParams(location.search);
  const opts = parseOptions(params); // embed.ts: validated URL parameters
  // A server's mixed cluster has a module of its own, without the simulator (mixed.ts).
  const cluster = params.get("cluster");
  if (cluster !== null) {
    let api: MixedAPI;
    try {
      api = await loadMixed("mixed.wasm");
    } catch (e) {
      fatal(`The Raft module could not be loaded: ${String(e)}`);
      return;
    }
    // A server's cluster, on the wall clock (mixed.ts); join=ID hosts a new member that asks
    // to be added.
    await startMixed(api, cluster, params.get("members"), params.get("join"));
    return;
  }
  let lab: Lab;
  try {
    lab = await loadLab("raftlab.wasm");
  } catch (e) {
    fatal(`The Raft module could not be loaded: ${String(e)}`);
    return;
  }
  const page = new Page(lab, opts.seed);
  if (lab.storage !== "localStorage") {
    const msg = document.getElementById("submitMsg");
    if (msg) msg.textContent = `Nodes keep their state in ${lab.storage}.`;
  }
  const course = new Course(page, lab.api);
  applyLayout(opts);
  if (opts.ns) course.setNamespace(opts.ns);
  if (!(await course.boot(params))) page.start(opts.nodes);
  else showProblems([...opts.problems, ...conflicts(params, opts, lab)]);
  applyRun(opts, page);
  installHostAPI(page, course); // hostapi.ts: window.raftlab.status/submit/… and postMessage
}

void main();
