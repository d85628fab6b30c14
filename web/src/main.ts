// The lab page's entry: reads the URL, loads the wasm module, and starts the page, its course
// features and its host API. Nothing imports this file.

import { loadLab, loadMixed, type Lab, type MixedAPI } from "./api";
import { Page } from "./page";
import { Course } from "./course";
import { startMixed } from "./mixed";
import { applyLayout, applyRun, parseOptions } from "./embed";
import { installHostAPI } from "./hostapi";

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
    await startMixed(api, cluster, params.get("members")); // a server's cluster, on the wall clock (mixed.ts)
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
  applyRun(opts, page);
  installHostAPI(page, course); // hostapi.ts: window.raftlab.status/submit/… and postMessage
}

void main();
