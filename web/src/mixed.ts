// Mixed clusters: the page hosts browser members of a server's cluster (/?cluster=NAME, or
// /?cluster=NAME&members=b1,b2) next to members in other tabs and native processes. They run on
// the wall clock, so pause, step and speed are off; the page shows every member, where it runs
// and whether it is reachable, and can crash, restart, disconnect and reconnect its own.

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
}

interface ApiCluster {
  name: string;
  leader?: string;
  term: number;
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

/** The part of globalThis.raftlab that mixed clusters use (wasm/mixed_js.go). */
interface MixedAPI {
  joinCluster(url: string, cluster: string, members: string): string | null;
  mixedAct(action: string): string | null;
  mixedSnapshot(): string;
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
export async function startMixed(cluster: string, membersParam: string | null): Promise<void> {
  const api = globalThis.raftlab as unknown as MixedAPI;
  const why = "This cluster has members outside this page, so it runs on the wall clock: pause, step and speed are off.";
  for (const id of ["play", "step", "speed", "nodes", "batch", "load", "latMin", "latMax", "unreliable", "groups", "partition", "healAll"]) {
    const c = document.getElementById(id) as HTMLInputElement | null;
    if (c) {
      c.disabled = true;
      c.title = why;
    }
  }
  byId("clock").textContent = "real time";
  byId("cards").hidden = true;
  const section = document.querySelector("section.cluster") as HTMLElement;
  section.replaceChildren();
  const title = el("h2", `Cluster ${cluster}`);
  const note = el("p", why, "msg");
  note.id = "mixedNote";
  const table = el("table", "", "members");
  table.id = "members";
  table.style.width = "100%";
  table.style.borderCollapse = "collapse";
  // The network controls belong to the simulator; a real network has none.
  const net = document.getElementById("netMsg")?.closest(".panel") as HTMLElement | null;
  if (net) net.hidden = true;
  section.append(title, note, table);

  const showError = (text: string): void => {
    byId("bannerText").textContent = text;
    byId("reset").hidden = true;
    byId("banner").hidden = false;
  };

  // Which members to host: those named in the URL, else the browser members nobody hosts. Just
  // after a reload the server may not have noticed the old page leave: ask again for a while.
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
  const err = api.joinCluster(wsURL, cluster, members);
  document.body.dataset.ready = "1";
  if (err) {
    showError(`Cannot join cluster ${cluster}: ${err}`);
    return;
  }
  byId("status").textContent = `hosting ${members}`;

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
    for (const h of ["member", "runs", "reachable", "state", "term", "leader", "commit", "applied", ""]) head.append(el("th", h));
    const rows: HTMLElement[] = [head];
    for (const m of c?.members ?? []) {
      const h = hosted.get(m.id);
      const tr = el("tr");
      tr.dataset.id = m.id;
      const state = h ? h.state : m.state ?? "?";
      tr.className = `state-${state}`;
      const runs = h ? "this page" : m.kind === "native" ? (m.host === "server" ? "native, in the server" : m.reachable ? "native process" : "native") : m.reachable ? "another page" : "browser";
      const reach = h ? (h.disconnected ? "disconnected" : s?.connected ? "yes" : "no") : m.reachable ? "yes" : "no";
      tr.style.borderTop = "1px solid rgba(0,0,0,0.1)";
      for (const v of [m.id, runs, reach, state, String(h ? h.term : m.term), (h ? h.leader : m.leader) ?? "", String(h ? h.commit : m.commit), String(h ? h.applied : m.applied)]) {
        tr.append(el("td", v));
      }
      const actions = el("td");
      actions.style.whiteSpace = "nowrap";
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
    if (s?.stopped) showError(`The server refused this page: ${s.stopped}`);
    const status = s?.connected ? `connected; hosting ${members}` : "connecting to the server…";
    byId("status").textContent = c?.leader ? `${status}; leader ${c.leader} (term ${c.term})` : `${status}; no leader`;
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
