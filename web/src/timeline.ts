// The timeline (space-time) diagram: one lane per node, messages as arrows from send to
// arrival (a cross where one was lost), roles, crashes, timeouts and commits marked on the
// lanes; it scrolls with simulated time and exports as a standalone SVG file.

import { count } from "./words";

/** A timeline message (wasm/timeline.go msgMark). */
export interface Msg {
  q: number;
  f: string;
  to: string;
  k: string;
  s: number;
  a: number;
  d?: boolean;
  ok?: boolean;
  n?: number;
}

/** A timeline mark (wasm/timeline.go laneMark). */
export interface Mark {
  q: number;
  node: string;
  t: number;
  k: string;
  term?: number;
  i?: number;
}

const NS = "http://www.w3.org/2000/svg";
const W = 1000; // viewBox width
const LEFT = 44; // room for the lane labels
const LANE = 34;
const TOP = 18;
const KEEP = 4000; // messages and marks kept in the page
const COLORS: Record<string, string> = {
  vote: "#e07b00",
  "vote-reply": "#f0b400",
  append: "#2f6fd0",
  "append-reply": "#18a0a0",
  prevote: "#a05cc8",
  "prevote-reply": "#c99be3",
  timeoutnow: "#d0308a",
  snapshot: "#7a5218",
  "snapshot-reply": "#c49a5a",
  other: "#888",
};
const WINDOWS = [100, 300, 1000, 3000, 10000]; // simulated ms shown across the diagram

/** Timeline draws the diagram into root (a <details>, drawn only while open). */
export class Timeline {
  private readonly svg: SVGSVGElement;
  private msgs: Msg[] = [];
  private marks: Mark[] = [];
  private msgSeq = 0;
  private markSeq = 0;
  private lastNow = -1;
  private ids: string[] = [];
  private win = 1000;
  private readonly winText: HTMLElement;
  private heartbeats = true;

  /**
   * root holds the view; data is the module's timelineData (api.ts CourseAPI). Lazy, data is
   * asked for only while the view is open (the lab's module keeps the last messages itself).
   */
  constructor(
    private readonly root: HTMLDetailsElement,
    private readonly data: (msgsAfter: number, marksAfter: number) => string,
    private readonly lazy = false,
  ) {
    const sum = document.createElement("summary");
    sum.textContent = "Timeline: messages between nodes over time";
    root.append(sum);
    const bar = document.createElement("div");
    bar.className = "tlbar";
    const zoom = (dir: number): void => {
      const i = Math.max(0, Math.min(WINDOWS.length - 1, WINDOWS.indexOf(this.win) + dir));
      this.win = WINDOWS[i]!;
      this.winText.textContent = `last ${this.win >= 1000 ? `${this.win / 1000} s` : `${this.win} ms`}`;
      this.render();
    };
    const btn = (text: string, title: string, f: () => void): HTMLButtonElement => {
      const b = document.createElement("button");
      b.type = "button";
      b.textContent = text;
      b.title = title;
      b.addEventListener("click", f);
      bar.append(b);
      return b;
    };
    btn("−", "show a longer stretch of time", () => zoom(1)).id = "tlOut";
    this.winText = document.createElement("span");
    this.winText.textContent = "last 1 s";
    bar.append(this.winText);
    btn("+", "show a shorter stretch of time", () => zoom(-1)).id = "tlIn";
    const hb = document.createElement("label");
    const hbBox = document.createElement("input");
    hbBox.type = "checkbox";
    hbBox.checked = true;
    hbBox.addEventListener("change", () => {
      this.heartbeats = hbBox.checked;
      this.render();
    });
    hb.append(hbBox, " empty AppendEntries (heartbeats)");
    bar.append(hb);
    btn("Export SVG", "download the diagram as it is now, as an SVG file", () => this.exportSVG()).id = "tlExport";
    const legend = document.createElement("span");
    legend.className = "tllegend";
    legend.innerHTML =
      '<i style="background:#e07b00"></i>RequestVote <i style="background:#f0b400"></i>vote reply <i style="background:#2f6fd0"></i>AppendEntries <i style="background:#18a0a0"></i>reply · <b style="color:#1f7a3a">◆</b> leader <b style="color:#b8860b">●</b> candidate <b style="color:#b8860b">○</b> pre-candidate <b>✕</b> crash <b style="color:#2f6fd0">|</b> commit';
    bar.append(legend);
    root.append(bar);
    this.svg = document.createElementNS(NS, "svg");
    this.svg.id = "timelineSvg";
    this.svg.setAttribute("role", "img");
    this.svg.setAttribute("aria-label", "space-time diagram of the messages between nodes");
    root.append(this.svg);
    root.addEventListener("toggle", () => {
      if (!root.open) return;
      if (this.lazy) this.fetch();
      this.render();
    });
  }

  /** reset forgets what was drawn (a new cluster or a replay). */
  reset(): void {
    this.msgs = [];
    this.marks = [];
    this.msgSeq = 0;
    this.markSeq = 0;
  }

  /**
   * draw adds what is new and redraws: s is the lab's Snapshot, or lanes and a clock (the mixed
   * page). A lazy view asks for messages and marks only while it is open (at max speed they
   * come by the thousand a second): opened, it asks for what the module still keeps (the
   * lab's last 3,000 messages and 1,500 marks).
   */
  draw(s: { nodes: readonly { id: string }[]; now: number }): void {
    const ids = s.nodes.map((n) => n.id);
    if (s.now < this.lastNow || ids.join() !== this.ids.join()) this.reset();
    this.ids = ids;
    this.lastNow = s.now;
    if (this.root.open || !this.lazy) this.fetch();
    if (this.root.open) this.render();
  }

  /** fetch adds the messages and marks the module has after those the diagram holds. */
  private fetch(): void {
    let d: { msgs: Msg[]; marks: Mark[] } | null;
    try {
      d = JSON.parse(this.data(this.msgSeq, this.markSeq)) as { msgs: Msg[]; marks: Mark[] } | null;
    } catch {
      return;
    }
    if (!d) return;
    if (d.msgs.length > 0) {
      this.msgs.push(...d.msgs);
      this.msgSeq = d.msgs[d.msgs.length - 1]!.q;
      if (this.msgs.length > KEEP) this.msgs.splice(0, this.msgs.length - KEEP);
    }
    if (d.marks.length > 0) {
      this.marks.push(...d.marks);
      this.markSeq = d.marks[d.marks.length - 1]!.q;
      if (this.marks.length > KEEP) this.marks.splice(0, this.marks.length - KEEP);
    }
  }

  /** render draws the last window of simulated time up to now. */
  private render(): void {
    const ids = this.ids;
    const h = TOP + ids.length * LANE + 10;
    const now = this.lastNow;
    const t0 = now - this.win;
    const x = (t: number): number => LEFT + ((t - t0) / this.win) * (W - LEFT - 8);
    const y = (id: string): number => TOP + ids.indexOf(id) * LANE + LANE / 2;
    const parts: string[] = [];
    parts.push(`<defs>${Object.entries(COLORS)
      .map(([k, c]) => `<marker id="ah-${k}" viewBox="0 0 6 6" refX="6" refY="3" markerWidth="6" markerHeight="6" orient="auto"><path d="M0,0L6,3L0,6z" fill="${c}"/></marker>`)
      .join("")}</defs>`);
    // Time grid: a tick every tenth of the window.
    const step = this.win / 10;
    for (let t = Math.ceil(t0 / step) * step; t <= now; t += step) {
      if (t < 0) continue;
      parts.push(`<line x1="${x(t).toFixed(1)}" x2="${x(t).toFixed(1)}" y1="${TOP - 4}" y2="${h - 10}" stroke="#e3e5e8"/>`);
      parts.push(`<text x="${x(t).toFixed(1)}" y="${TOP - 6}" font-size="9" text-anchor="middle" fill="#889">${(t / 1000).toFixed(t % 1000 === 0 ? 0 : 2)}s</text>`);
    }
    for (const id of ids) {
      parts.push(`<line x1="${LEFT}" x2="${W - 8}" y1="${y(id)}" y2="${y(id)}" stroke="#b8bec6" stroke-width="1.5"/>`);
      parts.push(`<text x="4" y="${y(id) + 4}" font-size="12" font-weight="600" fill="#1d232b">${id}</text>`);
    }
    let shown = 0;
    for (const m of this.msgs) {
      if (m.a < t0 || m.s > now || !ids.includes(m.f) || !ids.includes(m.to)) continue;
      if (!this.heartbeats && m.k === "append" && !m.n) continue;
      if (!this.heartbeats && m.k === "append-reply" && !m.n && m.ok) continue;
      const c = COLORS[m.k] ?? COLORS.other!;
      const x1 = x(Math.max(m.s, t0)), x2 = x(m.a);
      const y1 = y(m.f), y2 = y(m.to);
      if (m.d) {
        parts.push(`<line class="msg dropped" x1="${x1.toFixed(1)}" y1="${y1}" x2="${x2.toFixed(1)}" y2="${y2}" stroke="${c}" stroke-dasharray="3 2" stroke-width="1.2"/>`);
        parts.push(`<text x="${x2.toFixed(1)}" y="${y2 + 4}" font-size="12" text-anchor="middle" fill="#d0302f">×</text>`);
      } else {
        parts.push(`<line class="msg" x1="${x1.toFixed(1)}" y1="${y1}" x2="${x2.toFixed(1)}" y2="${y2}" stroke="${c}" stroke-width="${m.n ? 2 : 1.2}" marker-end="url(#ah-${m.k in COLORS ? m.k : "other"})"><title>${m.k} ${m.f}→${m.to}${m.n ? ` (${count(m.n, "entry", "entries")})` : ""}</title></line>`);
      }
      shown++;
    }
    for (const k of this.marks) {
      if (k.t < t0 || k.t > now || !ids.includes(k.node)) continue;
      const cx = x(k.t).toFixed(1), cy = y(k.node);
      const title = `<title>${k.node} ${k.k}${k.term ? ` term ${k.term}` : ""}${k.k === "commit" ? ` index ${k.i}` : ""} at ${(k.t / 1000).toFixed(3)} s</title>`;
      switch (k.k) {
        case "leader":
          parts.push(`<g class="mark leader"><path d="M${cx},${cy - 8}l7,8l-7,8l-7,-8z" fill="#1f7a3a"/><text x="${cx}" y="${cy - 10}" font-size="9" text-anchor="middle" fill="#1f7a3a">T${k.term}</text>${title}</g>`);
          break;
        case "candidate":
          parts.push(`<g class="mark candidate"><circle cx="${cx}" cy="${cy}" r="5" fill="#b8860b"/>${title}</g>`);
          break;
        case "pre-candidate":
          parts.push(`<g class="mark pre-candidate"><circle cx="${cx}" cy="${cy}" r="4" fill="#fff" stroke="#b8860b" stroke-width="2"/>${title}</g>`);
          break;
        case "crash":
          parts.push(`<g class="mark crash"><path d="M${+cx - 7},${cy - 7}l14,14M${+cx + 7},${cy - 7}l-14,14" stroke="#1d232b" stroke-width="3"/>${title}</g>`);
          break;
        case "restart":
          parts.push(`<g class="mark restart"><path d="M${cx},${cy - 7}l10,7l-10,7z" fill="#667"/>${title}</g>`);
          break;
        case "commit":
          parts.push(`<g class="mark commit"><line x1="${cx}" x2="${cx}" y1="${cy - 9}" y2="${cy + 9}" stroke="#2f6fd0" stroke-width="2"/>${title}</g>`);
          break;
        case "violation":
          parts.push(`<g class="mark violation"><circle cx="${cx}" cy="${cy}" r="9" fill="none" stroke="#d0302f" stroke-width="3"/>${title}</g>`);
          break;
      }
    }
    this.svg.setAttribute("viewBox", `0 0 ${W} ${h}`);
    this.svg.setAttribute("width", String(W));
    this.svg.setAttribute("height", String(h));
    this.svg.dataset.shown = String(shown);
    this.svg.innerHTML = parts.join("");
  }

  /** exportSVG downloads the diagram as a standalone SVG file. */
  private exportSVG(): void {
    if (this.lazy) this.fetch();
    this.render();
    const clone = this.svg.cloneNode(true) as SVGSVGElement;
    clone.setAttribute("xmlns", NS);
    clone.removeAttribute("id");
    const bg = document.createElementNS(NS, "rect");
    bg.setAttribute("width", "100%");
    bg.setAttribute("height", "100%");
    bg.setAttribute("fill", "#fff");
    clone.insertBefore(bg, clone.firstChild);
    const text = `<?xml version="1.0" encoding="UTF-8"?>\n${new XMLSerializer().serializeToString(clone)}\n`;
    const a = document.createElement("a");
    a.href = URL.createObjectURL(new Blob([text], { type: "image/svg+xml" }));
    a.download = `raftlab-timeline-${Math.round(this.lastNow)}ms.svg`;
    a.dataset.svg = text.length > 2_000_000 ? "" : text; // for tests: the file's contents
    a.id = "tlDownload";
    document.getElementById("tlDownload")?.remove();
    a.hidden = true;
    document.body.append(a);
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
  }
}
