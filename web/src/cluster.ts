// The cluster drawing: nodes on a circle, links (click to cut or heal), messages in flight,
// drops, and each node's election countdown.

import type { Action, Snapshot } from "./api";
import { svg as el } from "./dom";

const CX = 300;
const CY = 300;
const R_RING = 225;
const R_NODE = 38;
/** How long a drop's × stays visible, in wall milliseconds. */
const DROP_FADE_MS = 900;


interface Pt {
  x: number;
  y: number;
}

interface NodeShape {
  g: SVGGElement;
  body: SVGCircleElement;
  timer: SVGCircleElement;
  term: SVGTextElement;
  key: string;
}

interface LinkShape {
  line: SVGLineElement;
  cut: boolean;
}

/** ClusterView draws a Snapshot into an SVG element. */
export class ClusterView {
  private pos = new Map<string, Pt>();
  private nodes = new Map<string, NodeShape>();
  private links = new Map<string, LinkShape>();
  private gLinks: SVGGElement;
  private gMsgs: SVGGElement;
  private gDrops: SVGGElement;
  private gNodes: SVGGElement;
  private dots: SVGCircleElement[] = [];
  private drops: { at: number; shape: SVGTextElement }[] = [];

  constructor(
    svg: SVGSVGElement,
    private readonly act: (a: Action) => void,
    private readonly select: (id: string) => void,
    inspect: (id: number) => void,
  ) {
    this.gLinks = el("g", { class: "links" }, svg);
    this.gMsgs = el("g", { class: "msgs" }, svg);
    // A click on a message in flight opens its fields (page.ts).
    this.gMsgs.addEventListener("click", (e) => {
      const id = (e.target as Element).getAttribute("data-id");
      if (id !== null) inspect(Number(id));
    });
    this.gDrops = el("g", { class: "drops" }, svg);
    this.gNodes = el("g", { class: "nodes" }, svg);
  }

  clear(): void {
    for (const g of [this.gLinks, this.gMsgs, this.gDrops, this.gNodes]) g.replaceChildren();
    this.pos.clear();
    this.nodes.clear();
    this.links.clear();
    this.dots = [];
    this.drops = [];
  }

  /** build lays out the nodes and links of a cluster. */
  build(ids: string[]): void {
    this.clear();
    ids.forEach((id, i) => {
      const a = (2 * Math.PI * i) / ids.length - Math.PI / 2;
      this.pos.set(id, { x: CX + R_RING * Math.cos(a), y: CY + R_RING * Math.sin(a) });
    });
    for (let i = 0; i < ids.length; i++) {
      for (let j = i + 1; j < ids.length; j++) {
        const a = ids[i]!;
        const b = ids[j]!;
        const p = this.pos.get(a)!;
        const q = this.pos.get(b)!;
        const line = el("line", { x1: p.x, y1: p.y, x2: q.x, y2: q.y, class: "link" }, this.gLinks);
        const hit = el("line", { x1: p.x, y1: p.y, x2: q.x, y2: q.y, class: "hit" }, this.gLinks);
        const title = el("title", {}, hit);
        title.textContent = `link ${a}–${b}: click to cut or heal`;
        const shape: LinkShape = { line, cut: false };
        hit.addEventListener("click", () => this.act({ kind: shape.cut ? "heal" : "cut", node: a, peer: b }));
        this.links.set(`${a}|${b}`, shape);
      }
    }
    for (const id of ids) {
      const p = this.pos.get(id)!;
      const g = el("g", { class: "node", transform: `translate(${p.x} ${p.y})`, "data-node": id, tabindex: 0 }, this.gNodes);
      const body = el("circle", { r: R_NODE, class: "body" }, g);
      const timer = el("circle", { r: R_NODE + 6, class: "timer", pathLength: 100, transform: "rotate(-90)" }, g);
      el("text", { class: "id", y: -4 }, g).textContent = id;
      const term = el("text", { class: "term", y: 16 }, g);
      g.addEventListener("click", () => this.select(id));
      g.addEventListener("keydown", (e) => {
        if (e.key === "Enter") this.select(id);
      });
      this.nodes.set(id, { g, body, timer, term, key: "" });
    }
  }

  draw(s: Snapshot): void {
    const cut = new Set(s.cut.map(([a, b]) => `${a}|${b}`));
    for (const [k, l] of this.links) {
      const c = cut.has(k);
      if (c !== l.cut) {
        l.cut = c;
        l.line.classList.toggle("cut", c);
      }
    }
    for (const n of s.nodes) {
      const shape = this.nodes.get(n.id);
      if (!shape) continue;
      const key = `${n.state}|${n.term}|${n.vote}|${n.role}`;
      if (key !== shape.key) {
        shape.key = key;
        shape.g.setAttribute("data-state", n.state);
        shape.g.setAttribute("data-role", n.role);
        shape.term.textContent = n.state === "dead" ? "down" : `T${n.term} ${n.role === "voter" ? n.state[0]!.toUpperCase() : n.role === "learner" ? "learner" : "out"}`;
      }
      // The election countdown: the ring empties as the timeout nears.
      const left = n.timerLeft < 0 ? 0 : Math.min(100, (100 * n.timerLeft) / s.timerMax);
      shape.timer.setAttribute("stroke-dasharray", `${left.toFixed(1)} 100`);
    }
    this.drawFlights(s);
    this.drawDrops(s);
  }

  private drawFlights(s: Snapshot): void {
    let i = 0;
    for (const f of s.flights) {
      const p = this.pos.get(f.from);
      const q = this.pos.get(f.to);
      if (!p || !q) continue;
      const span = f.deliver - f.sent;
      const t = span <= 0 ? 1 : Math.max(0, Math.min(1, (s.now - f.sent) / span));
      let dot = this.dots[i];
      if (!dot) {
        dot = el("circle", { r: 6 }, this.gMsgs);
        this.dots.push(dot);
      }
      dot.setAttribute("data-id", String(f.id));
      dot.setAttribute("cx", (p.x + (q.x - p.x) * t).toFixed(1));
      dot.setAttribute("cy", (p.y + (q.y - p.y) * t).toFixed(1));
      dot.setAttribute("r", f.type === "append" && f.n > 0 ? "8" : "5");
      dot.setAttribute("class", `m ${f.type}${f.dropped ? " doomed" : ""}${f.type.endsWith("reply") && !f.ok ? " no" : ""}`);
      dot.style.display = "";
      i++;
    }
    for (; i < this.dots.length; i++) this.dots[i]!.style.display = "none";
  }

  private drawDrops(s: Snapshot): void {
    const now = performance.now();
    for (const d of s.drops.slice(-30)) {
      const p = this.pos.get(d.from);
      const q = this.pos.get(d.to);
      if (!p || !q) continue;
      const x = el("text", { x: ((p.x + q.x) / 2).toFixed(1), y: ((p.y + q.y) / 2 + 6).toFixed(1), class: "drop" }, this.gDrops);
      x.textContent = "×";
      el("title", {}, x).textContent = `dropped ${d.type} ${d.from}→${d.to}: ${d.why}`;
      this.drops.push({ at: now, shape: x });
    }
    this.drops = this.drops.filter((d) => {
      const age = now - d.at;
      if (age > DROP_FADE_MS) {
        d.shape.remove();
        return false;
      }
      d.shape.setAttribute("opacity", (1 - age / DROP_FADE_MS).toFixed(2));
      return true;
    });
  }
}
