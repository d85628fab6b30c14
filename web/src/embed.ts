// URL parameters and embed mode: ?embed=1 gives a compact layout for an iframe (about
// 800×500); nodes, seed, speed, autoplay, controls, unreliable, theme and ns (storage
// namespace) configure it. A bad parameter is named in a visible message and its default used.

import type { Page } from "./page";

/** The controls a host page may show (controls=a,b,c), and the parts of the page they are. */
export const CONTROLS: Record<string, string[]> = {
  nodes: ["label:has(> #nodes)"],
  play: ["#play"],
  step: ["#step"],
  speed: [".bar .speed"],
  clock: ["#clock"],
  status: ["#status"],
  time: [".coursebar .timeline"],
  share: ["#share", ".sharebox", "#saveScenario"],
  guide: [".coursebar label:has(> #scenario)", "#guide"],
  storage: ["#storageNote", "#freePlay"],
  client: ["#submitForm"],
  network: [".panel:has(#groups)"],
  events: [".panel.events"],
  cards: ["#cards"],
  breakit: ["#breakIt"],
  options: ["#options"],
  timeline: ["#timelineBox"],
  history: ["#historyBox"], // a violation's banner shows whatever the controls, as the live checker's
};

/** What embed mode shows when controls= is not given. */
const EMBED_DEFAULT = ["play", "step", "speed", "clock", "time", "guide", "cards"];

/** Options is what the URL asks for, validated. */
export interface Options {
  embed: boolean;
  nodes: number;
  seed: number;
  speed: number | null; // × real time; Infinity for max; null: the page's default
  autoplay: boolean;
  controls: string[] | null; // null: every control (or the embed default)
  unreliable: boolean;
  theme: "light" | "dark";
  ns: string;
  problems: string[];
}

function flag(params: URLSearchParams, name: string, def: boolean, problems: string[]): boolean {
  const v = params.get(name);
  if (v === null) return def;
  if (v === "1" || v === "true" || v === "") return true;
  if (v === "0" || v === "false") return false;
  problems.push(`${name}=${v} is not 1 or 0; using ${def ? 1 : 0}`);
  return def;
}

/** parseOptions reads and validates the URL parameters. */
export function parseOptions(params: URLSearchParams): Options {
  const problems: string[] = [];
  const o: Options = {
    embed: flag(params, "embed", false, problems),
    nodes: 5,
    seed: Math.floor(Math.random() * 2 ** 31),
    speed: null,
    autoplay: flag(params, "autoplay", true, problems),
    controls: null,
    unreliable: flag(params, "unreliable", false, problems),
    theme: "light",
    ns: "",
    problems,
  };
  const nodes = params.get("nodes");
  if (nodes !== null) {
    if (["3", "5", "7", "9"].includes(nodes)) o.nodes = Number(nodes);
    else problems.push(`nodes=${nodes}: choose 3, 5, 7 or 9; using 5`);
  }
  const seed = params.get("seed");
  if (seed !== null) {
    if (/^\d{1,15}$/.test(seed)) o.seed = Number(seed);
    else problems.push(`seed=${seed} is not a whole number; using a random seed`);
  }
  const speed = params.get("speed");
  if (speed !== null) {
    const v = Number(speed);
    if (speed === "max") o.speed = Infinity;
    else if (speed !== "" && isFinite(v) && v >= 0.01 && v <= 90) o.speed = v;
    else problems.push(`speed=${speed}: give a multiple of real time from 0.01 to 90, or max; using 1`);
  }
  const step = params.get("step");
  if (step !== null && !/^[1-9]\d{0,3}$/.test(step)) problems.push(`step=${step} is not a step number (1, 2, …); using 1`);
  const controls = params.get("controls");
  if (controls !== null) {
    const names = controls.split(",").map((c) => c.trim()).filter((c) => c !== "");
    const bad = names.filter((c) => !(c in CONTROLS));
    if (bad.length > 0) problems.push(`controls: unknown ${bad.join(", ")} (known: ${Object.keys(CONTROLS).join(", ")})`);
    o.controls = names.filter((c) => c in CONTROLS);
  } else if (o.embed) {
    o.controls = EMBED_DEFAULT;
  }
  const theme = params.get("theme");
  if (theme !== null) {
    if (theme === "light" || theme === "dark") o.theme = theme;
    else problems.push(`theme=${theme}: light or dark; using light`);
  }
  const ns = params.get("ns");
  if (ns !== null) {
    if (/^[A-Za-z0-9-]{1,32}$/.test(ns)) o.ns = ns;
    else problems.push(`ns=${ns}: letters, digits and '-', at most 32; using the default namespace`);
  }
  if (o.embed && o.ns === "") {
    // Embedded labs of one host page share this origin's localStorage: each gets its own
    // namespace, from its parameters unless ns= names one.
    o.ns = "embed-" + hash(params.toString());
  }
  return o;
}

function hash(s: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return (h >>> 0).toString(36);
}

/** applyLayout sets the theme, embed layout and visible controls; call before the first draw. */
export function applyLayout(o: Options): void {
  document.body.dataset.theme = o.theme;
  document.body.classList.toggle("embed", o.embed);
  if (o.controls !== null) {
    for (const [name, sels] of Object.entries(CONTROLS)) {
      const show = o.controls.includes(name);
      for (const sel of sels) {
        for (const e of document.querySelectorAll(sel)) e.classList.toggle("ctl-hidden", !show);
      }
    }
  }
  showProblems(o.problems);
}

/** showProblems names the bad parameters in a message at the top of the page. */
export function showProblems(problems: string[]): void {
  let el = document.getElementById("paramMsg");
  if (problems.length === 0) {
    el?.remove();
    return;
  }
  if (!el) {
    el = document.createElement("p");
    el.id = "paramMsg";
    el.className = "parammsg";
    el.setAttribute("role", "alert");
    document.body.prepend(el);
  }
  el.textContent = `Some URL parameters were not used as given: ${problems.join("; ")}.`;
}

/** applyRun sets speed, autoplay and the unreliable network once the cluster runs. */
export function applyRun(o: Options, page: Page): void {
  if (o.speed !== null) {
    const slider = document.getElementById("speed") as HTMLInputElement | null;
    if (slider) {
      slider.value = String(isFinite(o.speed) ? Math.round(50 + 25 * Math.log10(o.speed)) : 100);
      slider.dispatchEvent(new Event("input"));
    }
  }
  if (o.unreliable) {
    const msg = document.getElementById("netMsg");
    if (msg) page.act({ kind: "unreliable", on: true }, msg);
  }
  if (!o.autoplay) page.setRunning(false);
}
