// Mixed clusters: the page hosts browser members of a server's cluster (/?cluster=NAME, or
// /?cluster=NAME&members=b1,b2, or a new member that asks to be added, /?cluster=NAME&join=b3)
// next to members in other tabs and native processes. They run on
// the wall clock, so pause, step and speed are off; the page shows every member, where it runs
// and whether it is reachable, and can crash, restart, disconnect and reconnect its own.

import type { MixedAPI } from "./api";
import { svg } from "./dom";

/** One member as GET /api/clusters/NAME reports it. */
interface ApiMember {
  id: string;
  kind: string;
  host?: string;
  reachable: boolean;
  state?: string;
  term: number;
  leader?: string;
  commit: number;
  applied: number;
  last: number;
  /** Messages to the member that the server dropped, by reason (queue_full, unreachable, unreliable). */
  dropped?: Record<string, number>;
  /** Its part in the configuration: a voter, a learner, or joining (asked to be added). */
  voter?: boolean;
  learner?: boolean;
  joining?: boolean;
}

interface ApiCluster {
  name: string;
  leader?: string;
  term: number;
  /** The latest committed configuration the server knows of. */
  voters?: string[];
  learners?: string[];
  members: ApiMember[];
}

/** A member this page hosts, as the wasm module reports it. */
interface Hosted {
  id: string;
  state: string;
  term: number;
  leader?: string;
  commit: number;
  applied: number;
  last: number;
  disconnected: boolean;
  failure?: string;
}

interface MixedSnap {
  cluster: string;
  connected: boolean;
  stopped?: string;
  members: string[] | null;
  hosted: Hosted[] | null;
  events: string[] | null;
}

const POLL_MS = 250;

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

/** startMixed turns the page into the view of a mixed cluster and joins it. */
export async function startMixed(api: MixedAPI, cluster: string, membersParam: string | null, joinParam: string | null = null): Promise<void> {
  const why = "This cluster has members outside this page, so it runs on the wall clock: pause, step and speed are off.";
  for (const id of ["play", "step", "speed", "nodes", "batch", "load", "latMin", "latMax", "unreliable", "reorder", "groups", "partition", "healAll"]) {
    const c = document.getElementById(id) as HTMLInputElement | null;
    if (c) {
      c.disabled = true;
      c.title = why;
    }
  }
  byId("clock").textContent = "real time";
  // The picture of the cluster where the simulator's is; the members table where the cards are.
  const section = document.querySelector("section.cluster") as HTMLElement;
  section.replaceChildren();
  const title = el("h2", `Cluster ${cluster}`);
  const note = el("p", why, "msg");
  note.id = "mixedNote";
  const picture = new MixedPicture();
  section.append(title, note, picture.svg, picture.legend);
  const table = el("table", "", "members");
  table.id = "members";
  const tablePanel = el("div", "", "panel members-panel");
  tablePanel.append(table);
  byId("cards").replaceChildren(tablePanel);
  // The network controls belong to the simulator; a real network has none.
  const net = document.getElementById("netMsg")?.closest(".panel") as HTMLElement | null;
  if (net) net.hidden = true;

  const showError = (text: string): void => {
    byId("bannerText").textContent = text;
    byId("reset").hidden = true;
    byId("banner").hidden = false;
  };

  // Which members to host: those named in the URL, else the browser members nobody hosts. Just
  // after a reload the server may not have noticed the old page leave: ask again for a while.
  if (joinParam) membersParam = joinParam;
  let members = membersParam ?? "";
  for (let attempt = 0; ; attempt++) {
    let info: ApiCluster;
    try {
      const resp = await fetch(`/api/clusters/${encodeURIComponent(cluster)}`);
      const body = (await resp.json()) as ApiCluster & { error?: string };
      if (!resp.ok) {
        showError(`Cannot join cluster ${cluster}: ${body.error ?? resp.statusText}`);
        document.body.dataset.ready = "1";
        return;
      }
      info = body;
    } catch (e) {
      showError(`Cannot reach the server to join cluster ${cluster}: ${String(e)}`);
      document.body.dataset.ready = "1";
      return;
    }
    if (membersParam) break;
    members = info.members.filter((m) => m.kind === "browser" && !m.reachable).map((m) => m.id).join(",");
    if (members || attempt >= 20) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  const wsURL = `${location.protocol === "https:" ? "wss:" : "ws:"}//${location.host}/ws`;
  const err = api.joinCluster(wsURL, cluster, members, !!joinParam);
  document.body.dataset.ready = "1";
  if (err) {
    showError(`Cannot join cluster ${cluster}: ${err}`);
    return;
  }
  byId("status").textContent = joinParam ? `hosting ${members}, asking to be added` : `hosting ${members}`;

  // The client: commands go through the server, which finds the leader wherever it runs.
  const msg = byId("submitMsg");
  byId<HTMLFormElement>("submitForm").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const input = byId<HTMLInputElement>("cmd");
    const cmd = input.value.trim();
    if (!cmd) return;
    msg.textContent = `submitting ${cmd}…`;
    void (async () => {
      try {
        const resp = await fetch(`/api/clusters/${encodeURIComponent(cluster)}/commands`, { method: "POST", body: cmd });
        const r = (await resp.json()) as { error?: string; index?: number; member?: string; value?: string; found?: boolean; command?: string };
        if (!resp.ok) {
          msg.textContent = r.error ?? resp.statusText;
          return;
        }
        let text = `${r.command} committed at index ${r.index} by ${r.member}`;
        if (r.command?.startsWith("get")) text += r.found ? ` → ${JSON.stringify(r.value)}` : " → not found";
        msg.textContent = text;
        input.value = "";
      } catch (e) {
        msg.textContent = `the server did not answer: ${String(e)}`;
      }
    })();
  });

  const act = (kind: string, node: string): void => {
    const e = api.mixedAct(JSON.stringify({ kind, node }));
    if (e) msg.textContent = e;
  };

  const render = (c: ApiCluster | null, s: MixedSnap | null): void => {
    const hosted = new Map((s?.hosted ?? []).map((h) => [h.id, h]));
    const head = el("tr");
    for (const h of ["member", "runs", "reachable", "state", "term", "leader", "commit", "applied", "dropped by the server", ""]) head.append(el("th", h));
    const rows: HTMLElement[] = [head];
    for (const m of c?.members ?? []) {
      const h = hosted.get(m.id);
      const tr = el("tr");
      tr.dataset.id = m.id;
      const state = h ? h.state : m.state ?? "?";
      tr.className = `state-${state}`;
      const runs = h ? "this page" : m.kind === "native" ? (m.host === "server" ? "server (native)" : m.reachable ? "native process" : "native") : m.reachable ? "another page" : "browser";
      const reach = h ? (h.disconnected ? "disconnected" : s?.connected ? "yes" : "no") : m.reachable ? "yes" : "no";
      const dropped = Object.entries(m.dropped ?? {})
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([why, n]) => `${n} ${why.replace("_", " ")}`)
        .join(", ");
      const part = m.learner ? `${m.id} (learner)` : m.joining ? `${m.id} (joining)` : m.id;
      for (const v of [part, runs, reach, state, String(h ? h.term : m.term), (h ? h.leader : m.leader) ?? "", String(h ? h.commit : m.commit), String(h ? h.applied : m.applied), dropped || "0"]) {
        tr.append(el("td", v));
      }
      const actions = el("td");
      if (h) {
        const crashed = h.state === "dead";
        const b1 = el("button", crashed ? "Restart" : "Crash");
        b1.type = "button";
        b1.dataset.act = crashed ? "restart" : "crash";
        b1.onclick = () => act(crashed ? "restart" : "crash", m.id);
        const b2 = el("button", h.disconnected ? "Reconnect" : "Disconnect");
        b2.type = "button";
        b2.dataset.act = h.disconnected ? "reconnect" : "disconnect";
        b2.onclick = () => act(h.disconnected ? "reconnect" : "disconnect", m.id);
        actions.append(b1, b2);
        if (h.failure) actions.append(el("span", ` ${h.failure}`, "msg"));
      }
      tr.append(actions);
      rows.push(tr);
    }
    table.replaceChildren(...rows);
    picture.draw(
      (c?.members ?? []).map((m) => {
        const h = hosted.get(m.id);
        const reachable = h ? !h.disconnected && !!s?.connected : m.reachable;
        const where = h ? "this page" : m.kind === "native" ? (m.host === "server" ? "server" : m.reachable ? "process" : "native") : m.reachable ? "other page" : "browser";
        return { id: m.id, state: h ? h.state : m.state ?? "", term: h ? h.term : m.term, where, reachable };
      }),
      c?.leader ?? "",
    );
    if (s?.stopped) showError(`The server refused this page: ${s.stopped}`);
    const status = s?.connected ? `connected; hosting ${members}` : "connecting to the server…";
    let conf = c?.voters?.length ? `; voters ${c.voters.join(",")}` : "";
    if (c?.learners?.length) conf += `, learners ${c.learners.join(",")}`;
    byId("status").textContent = (c?.leader ? `${status}; leader ${c.leader} (term ${c.term})` : `${status}; no leader`) + conf;
    const events = byId("events");
    events.replaceChildren(...(s?.events ?? []).slice().reverse().map((t) => el("li", t)));
  };

  const poll = async (): Promise<void> => {
    let c: ApiCluster | null = null;
    try {
      const resp = await fetch(`/api/clusters/${encodeURIComponent(cluster)}`);
      if (resp.ok) c = (await resp.json()) as ApiCluster;
    } catch {
      c = null; // the server is away; the snapshot says so
    }
    let s: MixedSnap | null = null;
    const raw = api.mixedSnapshot();
    if (raw !== "null") {
      try {
        s = JSON.parse(raw) as MixedSnap;
      } catch {
        showError(raw);
      }
    }
    render(c, s);
    setTimeout(() => void poll(), POLL_MS);
  };
  void poll();
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
 * where each runs, the leader's links to its followers, and members the server cannot reach
 * (or this page has disconnected) cut off. Real messages are not drawn: they travel faster
 * than a frame.
 */
class MixedPicture {
  readonly svg = svg("svg", { viewBox: "0 0 600 600", id: "mixedSvg", role: "img", "aria-label": "the cluster's members" });
  readonly legend = el("p", "green: leader · blue: follower · yellow: candidate · grey: crashed · red dashes: unreachable", "legend");
  private key = "";

  draw(members: PictureMember[], leader: string): void {
    const key = JSON.stringify([members, leader]);
    if (key === this.key) return; // nothing changed since the last poll
    this.key = key;
    const links = svg("g", {});
    const nodes = svg("g", {});
    const n = members.length;
    const at = (i: number): { x: number; y: number } => {
      const a = -Math.PI / 2 + (2 * Math.PI * i) / Math.max(n, 1);
      return { x: 300 + 215 * Math.cos(a), y: 300 + 215 * Math.sin(a) };
    };
    const li = members.findIndex((m) => m.id === leader);
    members.forEach((m, i) => {
      const p = at(i);
      if (li >= 0 && i !== li) {
        const q = at(li);
        const cut = !m.reachable || !members[li]!.reachable;
        svg("line", { x1: p.x, y1: p.y, x2: q.x, y2: q.y, class: cut ? "link cut" : "link" }, links);
      }
      const state = m.state === "" ? "dead" : m.state;
      const g = svg("g", { class: "node", transform: `translate(${p.x.toFixed(1)} ${p.y.toFixed(1)})`, "data-node": m.id, "data-state": state }, nodes);
      svg("circle", { r: 40, class: m.reachable ? "body" : "body unreachable" }, g);
      svg("text", { class: "id", y: -6 }, g).textContent = m.id;
      svg("text", { class: "term", y: 12 }, g).textContent = m.state ? `T${m.term} ${m.state[0]!.toUpperCase()}` : "?";
      svg("text", { class: "where", y: 62 }, g).textContent = m.reachable ? m.where : `${m.where}, unreachable`;
    });
    this.svg.replaceChildren(links, nodes);
  }
}
