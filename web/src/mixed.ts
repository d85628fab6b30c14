// Mixed clusters: the page hosts browser members of a server's cluster (/?cluster=NAME, or
// /?cluster=NAME&members=b1,b2, or a new member that asks to be added, /?cluster=NAME&join=b3)
// next to members in other tabs and native processes. They run on the wall clock, so pause,
// step and speed are off. The page shows every member on a ring and in a table, a node card
// for each (the lab's cards: log, commit mark, key-value contents, a leader's followers) from
// the member's own status report, which the server relays; the messages that pass through the
// page (those of the members it hosts); one event log; and the timeline of its members. It
// can crash, restart, disconnect and reconnect its own members, time one out, make any lead, remove any
// member, add a browser member in a new tab, and submit commands through the server.
//
// A page with no member to host (a cluster of native members only, or every browser member
// hosted elsewhere) watches: it draws every member from the server's API alone.
//
// Everything the server sends is checked before it is drawn (parseCluster): a malformed or
// foreign answer is shown as such and never breaks the page.

import type { MixedAPI, NodeView } from "./api";
import { Cards } from "./cards";
import { Timeline, type Mark as TlMark, type Msg as TlMsg } from "./timeline";
import { svg } from "./dom";

/** A member's node card as GET /api/clusters/NAME?detail=1 reports it (hub.MemberDetail). */
interface Detail {
  vote: string;
  config: string;
  configIndex: number;
  snapshot: number;
  logFrom: number;
  log: { t: number; c: string }[];
  kv: [string, string][];
  kvLen: number;
  progress: { id: string; match: number; next: number; inflight: number; probing: boolean }[];
  events: MemberEvent[];
}

/** One of a member's recent events (wire.StatusEvent). */
interface MemberEvent {
  q: number;
  node: string;
  at: number;
  kind: string;
  state: string;
  term: number;
  index: number;
  text: string;
}

/** One member as GET /api/clusters/NAME reports it, checked. */
interface ApiMember {
  id: string;
  kind: string;
  host: string;
  reachable: boolean;
  /** "" when the member has not reported since it was last connected. */
  state: string;
  term: number;
  leader: string;
  commit: number;
  applied: number;
  last: number;
  statusAgeMs: number;
  /** Messages to the member that the server dropped, by reason (queue_full, unreachable, not_running, unreliable). */
  dropped: [string, number][];
  voter: boolean;
  learner: boolean;
  joining: boolean;
  detail: Detail | null;
}

interface ApiCluster {
  name: string;
  leader: string;
  term: number;
  voters: string[];
  learners: string[];
  members: ApiMember[];
}

/** A member this page hosts, as the wasm module reports it (wasm/mixed_js.go hostedStatus). */
interface Hosted {
  id: string;
  state: string;
  term: number;
  leader: string;
  commit: number;
  applied: number;
  last: number;
  disconnected: boolean;
  failure: string;
  timerLeft: number;
  detail: Detail;
}

interface MixedSnap {
  cluster: string;
  connected: boolean;
  stopped: string;
  hosted: Hosted[];
  events: MemberEvent[];
  now: number;
  epoch: number;
  timerMax: number;
}

const POLL_MS = 250;
/** How long a message's dot takes across the ring (wall ms): real ones take about a millisecond. */
const FLIGHT_MS = 600;
const MAX_FLIGHTS = 160;
const EVENT_ROWS = 300;
const STATES = ["follower", "pre-candidate", "candidate", "leader", "dead"];
const KINDS = ["vote", "vote-reply", "append", "append-reply", "prevote", "prevote-reply", "timeoutnow", "snapshot", "snapshot-reply"];
const HOSTED_ACTIONS = ["crash", "restart", "disconnect", "reconnect", "timeout", "transfer", "remove-server"];
const OTHER_ACTIONS = ["transfer", "remove-server"];

// Checking what arrives: every reader takes unknown and returns a value of its type, bounded.
type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj | null => (typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Obj) : null);
const str = (v: unknown, max = 200): string => (typeof v === "string" ? (v.length > max ? `${v.slice(0, max)}…` : v) : "");
const num = (v: unknown): number => (typeof v === "number" && Number.isFinite(v) && v >= 0 ? v : 0);
const list = (v: unknown, max: number): unknown[] => (Array.isArray(v) ? v.slice(0, max) : []);
const ID = /^[A-Za-z0-9._-]{1,64}$/;
const id = (v: unknown): string => (typeof v === "string" && ID.test(v) ? v : "");
const ids = (v: unknown): string[] => list(v, 64).map(id).filter((x) => x !== "");

function parseEvent(v: unknown, node: string): MemberEvent | null {
  const o = obj(v);
  if (!o || num(o.q) === 0 || num(o.at) === 0) return null;
  return { q: num(o.q), node: id(o.node) || node, at: num(o.at), kind: str(o.kind, 32), state: STATES.includes(str(o.state)) ? str(o.state) : "", term: num(o.term), index: num(o.index), text: str(o.text) };
}

function parseDetail(v: unknown, node: string): Detail | null {
  const o = obj(v);
  if (!o) return null;
  return {
    vote: id(o.vote),
    config: str(o.config, 2000),
    configIndex: num(o.configIndex),
    snapshot: num(o.snapshot),
    logFrom: num(o.logFrom) || 1,
    log: list(o.log, 32).flatMap((e) => {
      const x = obj(e);
      return x ? [{ t: num(x.t), c: str(x.c) }] : [];
    }),
    kv: list(o.kv, 32).flatMap((p) => (Array.isArray(p) && p.length === 2 ? [[str(p[0]), str(p[1])] as [string, string]] : [])),
    kvLen: num(o.kvLen),
    progress: list(o.progress, 64).flatMap((p) => {
      const x = obj(p);
      return x && id(x.id) ? [{ id: id(x.id), match: num(x.match), next: num(x.next), inflight: num(x.inflight), probing: x.probing === true }] : [];
    }),
    events: list(o.events, 32).flatMap((e) => parseEvent(e, node) ?? []),
  };
}

/** parseCluster checks the server's answer: the cluster asked for, members with valid ids, each field of its type. */
function parseCluster(v: unknown, cluster: string): ApiCluster | string {
  const o = obj(v);
  if (!o) return "the server's answer is not a JSON object";
  if (o.name !== cluster) return `the server answered for cluster ${JSON.stringify(str(o.name, 64))}, not ${cluster}`;
  const seen = new Set<string>();
  const members: ApiMember[] = [];
  for (const m of list(o.members, 64)) {
    const x = obj(m);
    const mid = x ? id(x.id) : "";
    if (!x || !mid || seen.has(mid)) continue; // malformed, or listed twice: left out
    seen.add(mid);
    const state = str(x.state);
    const dropped = obj(x.dropped);
    members.push({
      id: mid,
      kind: x.kind === "native" ? "native" : "browser",
      host: str(x.host, 100),
      reachable: x.reachable === true,
      state: STATES.includes(state) ? state : "",
      term: num(x.term),
      leader: id(x.leader),
      commit: num(x.commit),
      applied: num(x.applied),
      last: num(x.last),
      statusAgeMs: num(x.statusAgeMs),
      dropped: dropped ? Object.entries(dropped).slice(0, 8).map(([k, n]) => [str(k, 32), num(n)] as [string, number]) : [],
      voter: x.voter === true,
      learner: x.learner === true,
      joining: x.joining === true,
      detail: parseDetail(x.detail, mid),
    });
  }
  return { name: cluster, leader: id(o.leader), term: num(o.term), voters: ids(o.voters), learners: ids(o.learners), members };
}

/** parseSnap reads the wasm module's snapshot (our own module, checked all the same). */
function parseSnap(raw: string): MixedSnap | null {
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    return null;
  }
  const o = obj(v);
  if (!o) return null;
  return {
    cluster: str(o.cluster, 64),
    connected: o.connected === true,
    stopped: str(o.stopped, 2000),
    hosted: list(o.hosted, 64).flatMap((h) => {
      const x = obj(h);
      if (!x || !id(x.id)) return [];
      return [{
        id: id(x.id), state: STATES.includes(str(x.state)) ? str(x.state) : "dead", term: num(x.term), leader: id(x.leader),
        commit: num(x.commit), applied: num(x.applied), last: num(x.last), disconnected: x.disconnected === true,
        failure: str(x.failure, 2000), timerLeft: typeof x.timerLeft === "number" ? x.timerLeft : -1, detail: parseDetail(x, id(x.id))!,
      }];
    }),
    events: list(o.events, 1000).flatMap((e) => parseEvent(e, "") ?? []),
    now: num(o.now),
    epoch: num(o.epoch),
    timerMax: num(o.timerMax) || 300,
  };
}

const byId = <T extends HTMLElement = HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`missing #${id}`);
  return el as T;
};

function el<K extends keyof HTMLElementTagNameMap>(tag: K, text = "", cls = ""): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (text) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}

/** parseConfig reads a configuration as a status carries it: "n1,n2;n4" (voters, then learners), "n1,n2>n2,n3;n4" during joint consensus (old voters > new voters). */
function parseConfig(enc: string): { voters: string[]; old: string[]; learners: string[] } {
  const [v = "", l = ""] = enc.split(";");
  const [old, voters] = v.includes(">") ? v.split(">", 2) : ["", v];
  const ids = (x: string | undefined): string[] => (x ? x.split(",") : []);
  return { voters: ids(voters), old: ids(old), learners: ids(l) };
}

/** configText writes a configuration as the lab's cards do (raft.Configuration.String). */
function configText(enc: string): string {
  const c = parseConfig(enc);
  const v = c.old.length > 0 ? `voters ${c.old.join(",")} → ${c.voters.join(",")} (joint)` : `voters ${c.voters.join(",")}`;
  return c.learners.length > 0 ? `${v} learners ${c.learners.join(",")}` : v;
}

function roleIn(enc: string, node: string): "voter" | "learner" | "outside" {
  const c = parseConfig(enc);
  return c.voters.includes(node) || c.old.includes(node) ? "voter" : c.learners.includes(node) ? "learner" : "outside";
}

/** clock writes a wall time as hh:mm:ss.mmm. */
function clock(ms: number): string {
  const d = new Date(ms);
  const p = (n: number, w = 2): string => String(n).padStart(w, "0");
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

/** startMixed turns the page into the view of a mixed cluster and joins it. */
export async function startMixed(api: MixedAPI, cluster: string, membersParam: string | null, joinParam: string | null = null): Promise<void> {
  const why = "This cluster has members outside this page, so it runs on the wall clock: pause, step and speed are off.";
  for (const cid of ["play", "step", "speed", "nodes"]) {
    const c = document.getElementById(cid) as HTMLInputElement | null;
    if (c) {
      c.disabled = true;
      c.title = why;
    }
  }
  byId("clock").textContent = "real time";
  // The lab's cluster size means nothing here (the cluster's members are the server's): it
  // showed a disabled 5 beside a cluster of three.
  const sizeLabel = byId("nodes").closest("label");
  if (sizeLabel) sizeLabel.hidden = true;
  // The picture of the cluster where the simulator's is; the members table, the timeline and
  // the cards where the lab's cards are.
  const section = document.querySelector("section.cluster") as HTMLElement;
  section.replaceChildren();
  const title = el("h2", `Cluster ${cluster}`);
  const note = el("p", why, "msg");
  note.id = "mixedNote";
  const conn = el("p", "connecting to the server…", "msg conn");
  conn.id = "connState";
  conn.setAttribute("role", "status");
  let focusCard: (nid: string) => void = () => {}; // the cards' focus, once they exist
  const picture = new MixedPicture((nid) => focusCard(nid));
  section.append(title, note, conn, picture.svg, picture.legend);
  const table = el("table", "", "members");
  table.id = "members";
  const tablePanel = el("div", "", "panel members-panel");
  tablePanel.append(table);
  const tlBox = el("details", "", "timelinebox panel members-panel");
  tlBox.id = "timelineBox";
  tlBox.open = true;
  const cardsBox = el("div", "", "mixedcards");
  cardsBox.id = "mixedCards";
  byId("cards").replaceChildren(tablePanel, tlBox, cardsBox);
  // The network controls belong to the simulator; a real network has none.
  const net = document.getElementById("netMsg")?.closest(".panel") as HTMLElement | null;
  if (net) net.hidden = true;

  const showError = (text: string): void => {
    byId("bannerText").textContent = text;
    byId("reset").hidden = true;
    byId("banner").hidden = false;
  };

  if (!ID.test(cluster)) {
    showError(`?cluster=${JSON.stringify(str(cluster, 100))}: want the name of a cluster the server hosts (letters, digits, '-', '_', '.'), such as ?cluster=demo`);
    document.body.dataset.ready = "1";
    return;
  }
  // Which members to host: those named in the URL, else the browser members nobody hosts. Just
  // after a reload the server may not have noticed the old page leave: ask again for a while.
  // With none to host (no browser member at all, or all hosted elsewhere), the page watches.
  if (joinParam) membersParam = joinParam;
  let members = membersParam ?? "";
  for (let attempt = 0; ; attempt++) {
    let info: ApiCluster;
    try {
      const resp = await fetch(`/api/clusters/${encodeURIComponent(cluster)}`);
      const body = (await resp.json()) as unknown;
      if (!resp.ok) {
        showError(`Cannot join cluster ${cluster}: ${str(obj(body)?.error, 2000) || resp.statusText}`);
        document.body.dataset.ready = "1";
        return;
      }
      const c = parseCluster(body, cluster);
      if (typeof c === "string") {
        showError(`Cannot join cluster ${cluster}: ${c}`);
        document.body.dataset.ready = "1";
        return;
      }
      info = c;
    } catch (e) {
      showError(e instanceof SyntaxError ? `Cannot join cluster ${cluster}: the server's answer is not JSON` : `Cannot reach the server to join cluster ${cluster}: ${String(e)}`);
      document.body.dataset.ready = "1";
      return;
    }
    if (membersParam) break;
    const browsers = info.members.filter((m) => m.kind === "browser");
    members = browsers.filter((m) => !m.reachable).map((m) => m.id).join(",");
    if (members || browsers.length === 0 || attempt >= 20) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  const watching = members.trim() === "";
  if (!watching) {
    const wsURL = `${location.protocol === "https:" ? "wss:" : "ws:"}//${location.host}/ws`;
    const err = api.joinCluster(wsURL, cluster, members, !!joinParam);
    if (err) {
      document.body.dataset.ready = "1";
      showError(`Cannot join cluster ${cluster}: ${err}`);
      return;
    }
  }
  document.body.dataset.ready = "1";
  const hostedIds = new Set(members.split(",").filter((m) => m));
  const hosting = watching ? "watching (no browser member left for this page to host)" : `hosting ${members}`;
  byId("status").textContent = joinParam ? `hosting ${members}, asking to be added` : hosting;
  // The lab's Set voters changes a simulated cluster; a mixed cluster changes one member at a
  // time through Add member and each card's Remove.
  for (const lab of ["setVoters", "voters"]) byId(lab).hidden = true;
  if (watching) {
    byId("flightNote").textContent = "This page hosts no member, so no message passes through it: messages between members elsewhere (the server's, native processes', other pages') are not drawn.";
  }

  // The client: commands go through the server, which finds the leader wherever it runs.
  const msg = byId("submitMsg");
  const say = (text: string, isError = false): void => {
    msg.textContent = text;
    msg.classList.toggle("error", isError);
  };
  const submit = async (cmd: string): Promise<string | null> => {
    try {
      const resp = await fetch(`/api/clusters/${encodeURIComponent(cluster)}/commands`, { method: "POST", body: cmd });
      const r = obj(await resp.json()) ?? {};
      if (!resp.ok) return str(r.error, 2000) || resp.statusText;
      let text = `${str(r.command)} committed at index ${num(r.index)} by ${id(r.member)}`;
      if (str(r.command).startsWith("get")) text += r.found === true ? ` → ${JSON.stringify(str(r.value, 2000))}` : " → not found";
      say(text);
      return null;
    } catch (e) {
      return `the server did not answer: ${String(e)}`;
    }
  };
  byId<HTMLFormElement>("submitForm").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const input = byId<HTMLInputElement>("cmd");
    const cmd = input.value.trim();
    if (!cmd) return;
    say(`submitting ${cmd}…`);
    void submit(cmd).then((e) => {
      if (e) say(e, true);
      else input.value = "";
    });
  });
  // A batch: ten puts at once, which the leader appends together.
  const batch = byId<HTMLButtonElement>("batch");
  batch.title = "submit 10 puts at once through the server";
  batch.addEventListener("click", () => {
    const base = Date.now() % 1000;
    say("submitting 10 puts…");
    void Promise.all(Array.from({ length: 10 }, (_, i) => submit(`put k${i} v${base}`))).then((errs) => {
      const failed = errs.filter((e) => e !== null);
      say(failed.length === 0 ? `10 puts committed (k0…k9 = v${base})` : `${10 - failed.length} of 10 puts committed; ${failed[0]}`, failed.length > 0);
    });
  });
  // Client load: a put every 100 ms, one at a time.
  const load = byId<HTMLInputElement>("load");
  load.closest("label")!.title = "a put every 100 ms through the server (one at a time)";
  let loadN = 0;
  const loadStep = async (): Promise<void> => {
    if (!load.checked) return;
    const e = await submit(`put load ${++loadN}`);
    if (e) say(`client load: ${e}`, true);
    setTimeout(() => void loadStep(), 100);
  };
  load.addEventListener("change", () => void loadStep());
  // Adding a member: a browser member needs a page to run in, so a new tab hosts it and asks.
  const add = byId<HTMLButtonElement>("addNode");
  add.textContent = "Add member";
  add.title = "open a new tab that hosts a new browser member and asks the leader to add it: it joins as a learner and becomes a voter once caught up (Raft §6)";
  let known: string[] = [];
  add.addEventListener("click", () => {
    let n = 1;
    while (known.includes(`b${n}`)) n++;
    window.open(`/?cluster=${encodeURIComponent(cluster)}&join=b${n}`, "_blank");
    say(`opened a tab that hosts b${n} and asks to add it`);
  });

  const removeMember = (node: string): void => {
    say(`asking the leader to remove ${node}…`);
    void (async () => {
      try {
        const resp = await fetch(`/api/clusters/${encodeURIComponent(cluster)}/members`, { method: "POST", body: `remove ${node}` });
        const r = obj(await resp.json()) ?? {};
        say(resp.ok ? `${node} removed; voters ${ids(r.voters).join(",")}` : str(r.error, 2000) || resp.statusText, !resp.ok);
      } catch (e) {
        say(`the server did not answer: ${String(e)}`, true);
      }
    })();
  };
  // Lead: the server asks the leader, wherever it runs, to hand its leadership to the node.
  const transferTo = (node: string): void => {
    say(`asking the leader to hand its leadership to ${node}…`);
    void (async () => {
      try {
        const resp = await fetch(`/api/clusters/${encodeURIComponent(cluster)}/transfer?to=${encodeURIComponent(node)}`, { method: "POST" });
        const r = obj(await resp.json()) ?? {};
        const from = id(r.from);
        say(resp.ok ? `${node} leads term ${num(r.term)}${from ? ` (${from} handed over)` : " (it led already)"}` : str(r.error, 2000) || resp.statusText, !resp.ok);
      } catch (e) {
        say(`the server did not answer: ${String(e)}`, true);
      }
    })();
  };
  const cards = new Cards(cardsBox, (a) => {
    const node = a.node ?? "";
    if (a.kind === "remove-server") return removeMember(node);
    if (a.kind === "transfer") return transferTo(node);
    const e = api.mixedAct(JSON.stringify({ kind: a.kind, node }));
    say(e ?? "", !!e);
  });
  focusCard = (nid) => cards.focus(nid);
  let built = "";

  // The timeline: the page's own (messages through it, its members' marks) and the marks of
  // the other members' reported events (roles, commits), at their wall times.
  const tl = new MixedTimeline(api);
  const timeline = new Timeline(tlBox, () => tl.data());
  tlBox.querySelector("summary")!.textContent = watching ? "Timeline: the members' roles, timeouts and commits, from their reports" : "Timeline: this page's members and the messages that pass through this page";
  const tlNote = el("p", watching ? "Marks are the roles, timeouts and commits the members report, at their wall times. This page hosts no member, so no message passes through it and none is drawn." : "Arrows are messages to and from this page's members, at the time they leave or reach this page (the other end's time is not known here; on a real network they take about a millisecond). Roles and commits of the other members come from their reports.", "msg");
  tlBox.querySelector(".tlbar")!.after(tlNote);

  // The event log: this page's (its members' events and its own sentences) and the other
  // members' reported events, by wall time, newest first.
  const eventsEl = byId("events");
  const events = new Map<string, MemberEvent>();
  let eventsKey = "";
  const noteEvents = (list: MemberEvent[], source: string): void => {
    for (const e of list) {
      const k = `${source}|${e.q}`;
      const old = events.get(k);
      if (!old || old.at !== e.at || old.text !== e.text) events.set(k, e);
    }
  };
  const drawEvents = (): void => {
    let all = [...events.entries()].sort(([, a], [, b]) => b.at - a.at || b.q - a.q);
    if (all.length > 2 * EVENT_ROWS) {
      for (const [k] of all.slice(2 * EVENT_ROWS)) events.delete(k);
    }
    all = all.slice(0, EVENT_ROWS);
    const key = all.map(([k, e]) => `${k}@${e.at}`).join(",");
    if (key === eventsKey) return;
    eventsKey = key;
    eventsEl.replaceChildren(
      ...all.map(([, e]) => {
        const li = el("li");
        li.dataset.kind = e.kind;
        if (e.node) li.dataset.node = e.node;
        const time = el("time", clock(e.at));
        li.append(time, " ", e.text);
        return li;
      }),
    );
  };

  // The connection: what the page tells when it loses the server and when it is back.
  let apiFailing = ""; // why the last GET of the cluster failed ("" when it did not)
  let lostAt = 0; // when the page lost the server (0: it has not)
  let backAt = 0; // when it last got it back
  let lostBefore = 0;
  let ever = false;
  let wasAway = false;
  const serverButtons = [byId<HTMLFormElement>("submitForm").querySelector<HTMLButtonElement>("button[type=submit]")!, batch, add];
  // A page that hosts members has its module say the loss and the return in the event log; a
  // watching page, which has no connection of its own, says them here.
  let connQ = 0;
  const connEvent = (at: number, text: string): void => {
    if (watching) noteEvents([{ q: ++connQ, node: "", at, kind: "note", state: "", term: 0, index: 0, text }], "conn");
  };
  const drawConn = (s: MixedSnap | null): void => {
    const up = !!s?.connected && !apiFailing;
    const now = Date.now();
    if (up) {
      if (lostAt) {
        [backAt, lostBefore, lostAt] = [now, lostAt, 0];
        connEvent(now, `reconnected to the server after ${Math.round((backAt - lostBefore) / 1000)} s away`);
      }
      ever = true;
    } else if (ever && !lostAt) {
      lostAt = now;
      connEvent(now, `lost the server${apiFailing ? ` (${apiFailing})` : ""}: reconnecting; the cards show each member's last report`);
    }
    // What goes through the server waits for it: its controls are greyed out while it is away,
    // with why, instead of each failing when pressed.
    const away = !up && ever;
    if (away !== wasAway) {
      wasAway = away;
      const why = "the server is away: this goes through it, and comes back when the page reconnects";
      cards.block(away ? ["transfer", "remove-server"] : [], why);
      for (const b of serverButtons) {
        b.disabled = away;
        if (away) b.dataset.title ??= b.title;
        b.title = away ? why : (b.dataset.title ?? b.title);
      }
    }
    let text: string;
    if (s?.stopped) text = `The server refused this page: ${s.stopped}`;
    else if (up) text = backAt && now - backAt < 20000 ? `Reconnected to the server at ${clock(backAt).slice(0, 8)} (lost at ${clock(lostBefore).slice(0, 8)}).` : "Connected to the server.";
    else if (!ever) text = "Connecting to the server…";
    else text = `Lost the server at ${clock(lostAt).slice(0, 8)}${apiFailing ? ` (${apiFailing})` : ""}: reconnecting. ${watching ? "The members' cards show their last report." : "This page's members keep running but reach nobody outside it; the other members' cards show their last report."}`;
    conn.textContent = text;
    conn.classList.toggle("error", !up);
    conn.dataset.state = s?.stopped ? "refused" : up ? (backAt && now - backAt < 20000 ? "reconnected" : "connected") : ever ? "lost" : "connecting";
  };

  let lastCluster: ApiCluster | null = null;
  let lastSnap: MixedSnap | null = null;
  let snapAt = 0; // performance.now() of lastSnap
  const nodeViews = (c: ApiCluster | null, s: MixedSnap | null): NodeView[] => {
    const hosted = new Map((s?.hosted ?? []).map((h) => [h.id, h]));
    const out: NodeView[] = [];
    for (const nid of known) {
      const h = hosted.get(nid);
      const m = c?.members.find((x) => x.id === nid);
      if (h) {
        const d = h.detail;
        out.push({
          id: nid, state: h.state as NodeView["state"], term: h.term, vote: d.vote, leader: h.leader, commit: h.commit, last: h.last,
          timerLeft: h.timerLeft, role: h.state === "dead" ? (m?.learner ? "learner" : "voter") : roleIn(d.config, nid),
          config: d.config ? configText(d.config) : "", configCommitted: d.configIndex <= h.commit,
          progress: d.progress, snapIndex: d.snapshot, logFrom: d.logFrom, log: d.log, kv: d.kv, kvLen: d.kvLen,
          error: h.failure || (h.disconnected ? "disconnected from the server by this page" : ""),
        });
        continue;
      }
      const d = m?.detail ?? null;
      const state = m?.state ? (m.state as NodeView["state"]) : ("unknown" as NodeView["state"]);
      let error = "";
      if (apiFailing && m) error = "the server is away: this is its last report";
      else if (!m) error = "not in the server's list yet";
      else if (!m.reachable) error = `unreachable: the server has no connection to it${m.state ? "; this is its last report" : ", and no report"}`;
      else if (!m.state) error = "no report from it yet";
      else if (m.statusAgeMs > 3000) error = `its last report is ${(m.statusAgeMs / 1000).toFixed(0)} s old`;
      out.push({
        id: nid, state, term: m?.term ?? 0, vote: d?.vote ?? "", leader: m?.leader ?? "", commit: m?.commit ?? 0, last: m?.last ?? 0, timerLeft: -1,
        role: d?.config ? roleIn(d.config, nid) : m?.voter ? "voter" : m?.learner ? "learner" : "outside",
        config: d?.config ? configText(d.config) : c ? configText(`${c.voters.join(",")};${c.learners.join(",")}`) : "",
        configCommitted: d ? d.configIndex <= (m?.commit ?? 0) : true,
        progress: d?.progress ?? [], snapIndex: d?.snapshot ?? 0, logFrom: d?.logFrom ?? 1, log: d?.log ?? [], kv: d?.kv ?? [], kvLen: d?.kvLen ?? 0,
        error,
      });
    }
    return out;
  };
  const cutOf = (views: NodeView[], s: MixedSnap | null): [string, string][] => {
    const cut: [string, string][] = [];
    for (const h of s?.hosted ?? []) {
      if (!h.disconnected && s?.connected) continue;
      for (const o of views) if (o.id !== h.id) cut.push([h.id, o.id]);
    }
    return cut;
  };

  const render = (c: ApiCluster | null, s: MixedSnap | null): void => {
    const hosted = new Map((s?.hosted ?? []).map((h) => [h.id, h]));
    // Every member the page knows of: the server's list, then its own members not in it yet.
    const ids: string[] = (c?.members ?? []).map((m) => m.id);
    for (const h of s?.hosted ?? []) if (!ids.includes(h.id)) ids.push(h.id);
    if (c || ids.length > 0) known = ids;
    const head = el("tr");
    for (const hd of ["member", "runs", "reachable", "state", "term", "leader", "commit", "applied", "dropped by the server"]) head.append(el("th", hd));
    const rows: HTMLElement[] = [head];
    for (const m of c?.members ?? []) {
      const h = hosted.get(m.id);
      const tr = el("tr");
      tr.dataset.id = m.id;
      const state = h ? h.state : m.state || "?";
      // A member the server cannot reach: its state is its last report's, told as such (a
      // killed leader would otherwise lead on in the table beside the new one).
      const stale = !h && (!m.reachable || !!apiFailing) && m.state !== "";
      tr.className = stale ? "state-unknown" : `state-${state}`;
      const runs = h ? "this page" : m.kind === "native" ? (m.host === "server" ? "server (native)" : "native process") : m.reachable ? "another page" : "browser";
      // While the page cannot read the server, whether the server reaches a member is not known.
      const reach = h ? (h.disconnected ? "disconnected" : s?.connected ? "yes" : "no") : apiFailing ? "?" : m.reachable ? "yes" : "no";
      const dropped = m.dropped
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([w, n]) => `${n} ${w.replace("_", " ")}`)
        .join(", ");
      const part = m.learner ? `${m.id} (learner)` : m.joining ? `${m.id} (joining)` : m.id;
      for (const v of [part, runs, reach, stale ? `${state} (last report)` : state, String(h ? h.term : m.term), (h ? h.leader : m.leader) || "", String(h ? h.commit : m.commit), String(h ? h.applied : m.applied), dropped || "0"]) {
        tr.append(el("td", v));
      }
      rows.push(tr);
    }
    table.replaceChildren(...rows);
    picture.draw(
      known.map((mid) => {
        const m = c?.members.find((x) => x.id === mid);
        const h = hosted.get(mid);
        const reachable = h ? !h.disconnected && !!s?.connected : !!m?.reachable;
        const where = h ? "this page" : m?.kind === "native" ? (m.host === "server" ? "server" : "process") : m?.reachable ? "other page" : "browser";
        // An unreachable member's state is not known: drawn as "?", not as its last report.
        return { id: mid, state: h ? h.state : m?.reachable ? m.state : "", term: h ? h.term : m?.term ?? 0, where, reachable };
      }),
      c?.leader ?? "",
    );
    if (s?.stopped) showError(`The server refused this page: ${s.stopped}`);
    const status = s?.connected ? `connected; ${hosting}` : "connecting to the server…";
    let conf = c?.voters.length ? `; voters ${c.voters.join(",")}` : "";
    if (c?.learners.length) conf += `, learners ${c.learners.join(",")}`;
    byId("status").textContent = (c?.leader ? `${status}; leader ${c.leader} (term ${c.term})` : `${status}; no leader`) + conf;
    // The cards.
    if (known.join(",") !== built) {
      built = known.join(",");
      cards.build(known, (nid) => (hostedIds.has(nid) ? HOSTED_ACTIONS : OTHER_ACTIONS));
      for (const card of cardsBox.querySelectorAll<HTMLElement>(".card")) {
        const nid = card.dataset.node ?? "";
        card.dataset.where = hostedIds.has(nid) ? "page" : "elsewhere";
        // Only this page's members have a timer the page can see.
        if (!hostedIds.has(nid)) card.querySelector<HTMLElement>(".timerbar")!.hidden = true;
      }
    }
    const views = nodeViews(c, s);
    cards.draw({ nodes: views, timerMax: s?.timerMax ?? 300, cut: cutOf(views, s), detail: true });
    // Where each member runs, in its card's header; this page's connect buttons as its members are.
    for (const card of cardsBox.querySelectorAll<HTMLElement>(".card")) {
      const nid = card.dataset.node ?? "";
      const m = c?.members.find((x) => x.id === nid);
      const h = hosted.get(nid);
      let where = card.querySelector<HTMLElement>("header .where");
      if (!where) {
        where = el("span", "", "where");
        card.querySelector("header")!.append(where);
      }
      const text = h ? "in this page" : !m ? "" : m.kind === "native" ? (m.host === "server" ? "in the server" : "native process") : m.reachable ? "in another page" : "browser, not running";
      if (where.textContent !== text) where.textContent = text;
      if (h) {
        card.querySelector<HTMLButtonElement>("button[data-act=disconnect]")!.disabled = h.disconnected || h.state === "dead";
        card.querySelector<HTMLButtonElement>("button[data-act=reconnect]")!.disabled = !h.disconnected;
      }
    }
    // The events.
    if (s) noteEvents(s.events, "page");
    for (const m of c?.members ?? []) if (!hostedIds.has(m.id) && m.detail) noteEvents(m.detail.events, m.id);
    drawConn(s); // first: it may add an event
    drawEvents();
    if (c) for (const m of c.members) if (!hostedIds.has(m.id) && m.detail) tl.noteEvents(m.detail.events, s?.epoch ?? 0);
  };

  const watchEpoch = Date.now();
  // While the server does not answer, the page asks it less often (500 ms doubling to 2 s, so
  // it sees it back within 2 s) instead of four times a second, each refusal a line in the
  // browser's console; its own members are drawn every poll all the same.
  let fetchAt = 0;
  let fetchGap = 0;
  const poll = async (): Promise<void> => {
    let c: ApiCluster | null = null;
    if (performance.now() >= fetchAt) c = await fetchCluster();
    let s: MixedSnap | null;
    if (watching) {
      // No module state: the page's own clock, and the server's API for its connection.
      s = { cluster, connected: !apiFailing, stopped: "", hosted: [], events: [], now: Date.now() - watchEpoch, epoch: watchEpoch, timerMax: 300 };
    } else {
      const raw = api.mixedSnapshot();
      s = raw === "null" ? null : parseSnap(raw);
      if (raw !== "null" && !s) showError(raw);
    }
    lastCluster = c ?? lastCluster; // the last known picture stays while the server is away
    lastSnap = s;
    snapAt = performance.now();
    try {
      render(c ?? (apiFailing ? lastCluster : null), s);
    } catch (e) {
      // A bug of the page's, not the server's: say it and keep polling.
      showError(`The page failed to draw the cluster: ${String(e)}`);
    }
    setTimeout(() => void poll(), POLL_MS);
  };
  // fetchCluster reads the cluster from the server's API: its members with their cards, or
  // null with apiFailing saying why.
  const fetchCluster = async (): Promise<ApiCluster | null> => {
    let c: ApiCluster | null = null;
    try {
      const resp = await fetch(`/api/clusters/${encodeURIComponent(cluster)}?detail=1`);
      const body = (await resp.json()) as unknown;
      if (!resp.ok) {
        apiFailing = `the server answered ${resp.status}: ${str(obj(body)?.error, 200) || resp.statusText}`;
      } else {
        const parsed = parseCluster(body, cluster);
        if (typeof parsed === "string") apiFailing = parsed;
        else {
          c = parsed;
          apiFailing = "";
        }
      }
    } catch (e) {
      apiFailing = e instanceof SyntaxError ? "the server's answer is not JSON" : "the server does not answer";
    }
    fetchGap = apiFailing === "the server does not answer" ? Math.min(fetchGap ? 2 * fetchGap : 500, 2000) : 0;
    fetchAt = performance.now() + fetchGap;
    return c;
  };
  void poll();

  // Every frame: the messages' dots and the members' timers; every 100 ms, the timeline.
  let lastTl = 0;
  const frame = (t: number): void => {
    if (lastSnap) {
      const now = lastSnap.now + (performance.now() - snapAt);
      for (const m of tl.poll()) picture.fly(m.f, m.to, m.k, !!m.d, t);
      picture.animate(t);
      if (t - lastTl > 100) {
        lastTl = t;
        timeline.draw({ nodes: known.map((k) => ({ id: k })), now });
      }
      const views = nodeViews(lastCluster, lastSnap);
      for (const v of views) if (v.timerLeft >= 0) v.timerLeft = Math.max(0, v.timerLeft - (performance.now() - snapAt));
      cards.draw({ nodes: views, timerMax: lastSnap.timerMax, cut: [], detail: false });
    }
    requestAnimationFrame(frame);
  };
  requestAnimationFrame(frame);
}

/**
 * MixedTimeline feeds the timeline view: the module's messages and marks, and marks made from
 * the other members' reported events. It also hands each new message to the ring's dots.
 */
class MixedTimeline {
  private msgSeq = 0;
  private markSeq = 0;
  private q = 0;
  private marks: TlMark[] = [];
  private fresh: TlMsg[] = [];
  private seen = new Set<string>();

  constructor(private readonly api: MixedAPI) {}

  /** poll takes what the module has added and returns the new messages (for the dots). */
  poll(): TlMsg[] {
    let d: { msgs: TlMsg[]; marks: TlMark[] } | null = null;
    try {
      d = JSON.parse(this.api.mixedTimeline(this.msgSeq, this.markSeq)) as { msgs: TlMsg[]; marks: TlMark[] } | null;
    } catch {
      d = null;
    }
    if (!d || !Array.isArray(d.msgs) || !Array.isArray(d.marks)) return [];
    if (d.msgs.length > 0) this.msgSeq = d.msgs[d.msgs.length - 1]!.q;
    if (d.marks.length > 0) this.markSeq = d.marks[d.marks.length - 1]!.q;
    this.fresh.push(...d.msgs);
    if (this.fresh.length > 8000) this.fresh.splice(0, this.fresh.length - 8000);
    for (const m of d.marks) this.marks.push({ ...m, q: ++this.q });
    return d.msgs;
  }

  /** noteEvents turns another member's reported roles, timeouts and commits into marks on its lane. */
  noteEvents(list: MemberEvent[], epoch: number): void {
    if (epoch === 0) return;
    for (const e of list) {
      const key = `${e.node}|${e.q}|${e.at}`;
      if (this.seen.has(key)) continue;
      this.seen.add(key);
      if (this.seen.size > 5000) this.seen.clear();
      const t = e.at - epoch;
      if (t < 0) continue;
      if (e.kind === "state" && e.state) this.marks.push({ q: ++this.q, node: e.node, t, k: e.state, term: e.term });
      else if (e.kind === "commit") this.marks.push({ q: ++this.q, node: e.node, t, k: "commit", i: e.index });
      else if (e.kind === "timeout") this.marks.push({ q: ++this.q, node: e.node, t, k: "timeout", term: e.term });
    }
  }

  /** data is the timeline view's source: what was added since it last asked. */
  data(): string {
    return JSON.stringify({ msgs: this.fresh.splice(0), marks: this.marks.splice(0) });
  }
}

/** One member as the picture draws it. */
interface PictureMember {
  id: string;
  state: string;
  term: number;
  where: string;
  reachable: boolean;
}

/**
 * MixedPicture draws the members on a ring as the simulator's view does: role by colour, term,
 * where each runs, the leader's links to its followers, members the server cannot reach (or
 * this page has disconnected) cut off, and the messages that pass through this page as dots,
 * slowed down to be seen.
 */
class MixedPicture {
  readonly svg = svg("svg", { viewBox: "0 0 600 600", id: "mixedSvg", role: "img", "aria-label": "the cluster's members" });
  readonly legend = el("p", "", "legend");
  private readonly gLinks = svg("g", { class: "links" }, this.svg);
  private readonly gMsgs = svg("g", { class: "msgs" }, this.svg);
  private readonly gNodes = svg("g", { class: "nodes" }, this.svg);
  private key = "";
  private pos = new Map<string, { x: number; y: number }>();
  private flights: { from: string; to: string; start: number; dot: SVGCircleElement }[] = [];

  /** select is called with a member's id when its circle is clicked (its card comes into view). */
  constructor(private readonly select: (id: string) => void) {
    this.gNodes.addEventListener("click", (e) => {
      const nid = (e.target as Element).closest("[data-node]")?.getAttribute("data-node");
      if (nid) this.select(nid);
    });
    this.legend.innerHTML =
      'green: leader · blue: follower · yellow: candidate · grey: crashed · red dashes: unreachable<br>' +
      '<span class="li"><span class="m vote"></span>RequestVote</span> <span class="li"><span class="m vote-reply"></span>vote reply</span> ' +
      '<span class="li"><span class="m append"></span>AppendEntries</span> <span class="li"><span class="m append-reply"></span>reply</span> ' +
      '<span class="li"><span class="m prevote"></span>pre-vote</span> <span class="li"><span class="m snapshot"></span>InstallSnapshot</span><br>' +
      '<span id="flightNote">Dots are the messages to and from the members this page hosts, which pass through it, drawn as they leave or reach it and slowed down to be seen (a real one takes about a millisecond); faded ones were lost. Messages between members elsewhere (the server\'s, native processes\', other pages\') do not pass through this page and are not drawn.</span>';
  }

  draw(members: PictureMember[], leader: string): void {
    const key = JSON.stringify([members, leader]);
    if (key === this.key) return; // nothing changed since the last poll
    this.key = key;
    this.gLinks.replaceChildren();
    this.gNodes.replaceChildren();
    const n = members.length;
    const at = (i: number): { x: number; y: number } => {
      const a = -Math.PI / 2 + (2 * Math.PI * i) / Math.max(n, 1);
      return { x: 300 + 215 * Math.cos(a), y: 300 + 215 * Math.sin(a) };
    };
    this.pos.clear();
    members.forEach((m, i) => this.pos.set(m.id, at(i)));
    const li = members.findIndex((m) => m.id === leader);
    members.forEach((m, i) => {
      const p = at(i);
      if (li >= 0 && i !== li) {
        const q = at(li);
        const cut = !m.reachable || !members[li]!.reachable;
        svg("line", { x1: p.x, y1: p.y, x2: q.x, y2: q.y, class: cut ? "link cut" : "link" }, this.gLinks);
      }
      const state = m.state === "" ? "dead" : m.state;
      const g = svg("g", { class: "node", transform: `translate(${p.x.toFixed(1)} ${p.y.toFixed(1)})`, "data-node": m.id, "data-state": state }, this.gNodes);
      svg("circle", { r: 40, class: m.reachable ? "body" : "body unreachable" }, g);
      svg("text", { class: "id", y: -6 }, g).textContent = m.id;
      svg("text", { class: "term", y: 12 }, g).textContent = m.state ? `T${m.term} ${m.state[0]!.toUpperCase()}` : "?";
      svg("text", { class: "where", y: 62 }, g).textContent = m.reachable ? m.where : `${m.where}, unreachable`;
    });
  }

  /** fly starts a dot for a message seen now (t: the frame's time). */
  fly(from: string, to: string, kind: string, lost: boolean, t: number): void {
    if (!this.pos.has(from) || !this.pos.has(to)) return;
    if (this.flights.length >= MAX_FLIGHTS) this.flights.shift()!.dot.remove();
    const dot = svg("circle", { r: 6, class: `m ${KINDS.includes(kind) ? kind : "other"}${lost ? " doomed" : ""}`, "data-from": from, "data-to": to }, this.gMsgs);
    this.flights.push({ from, to, start: t, dot });
  }

  /** animate moves the dots; those that arrived are removed. */
  animate(t: number): void {
    this.flights = this.flights.filter((f) => {
      const p = this.pos.get(f.from);
      const q = this.pos.get(f.to);
      const k = (t - f.start) / FLIGHT_MS;
      if (!p || !q || k >= 1) {
        f.dot.remove();
        return false;
      }
      f.dot.setAttribute("cx", (p.x + (q.x - p.x) * k).toFixed(1));
      f.dot.setAttribute("cy", (p.y + (q.y - p.y) * k).toFixed(1));
      return true;
    });
    this.svg.dataset.flights = String(this.flights.length);
  }
}
