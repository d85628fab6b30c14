// One card per node: role, term, vote, timer, the log coloured by term with the commit index,
// the leader's view of its followers, the key-value contents, and the node's actions.

import type { Action, NodeView, Snapshot } from "./api";
import { h } from "./dom";

/** termHue gives each term its own colour. */
export function termHue(term: number): number {
  return (term * 67 + 200) % 360;
}

/** sync makes parent hold count children made by make, and updates each: the DOM is reused. */
function sync<E extends Element>(parent: Element, count: number, make: () => E, update: (el: E, i: number) => void): void {
  while (parent.childElementCount < count) parent.append(make());
  while (parent.childElementCount > count) parent.lastElementChild!.remove();
  for (let i = 0; i < count; i++) update(parent.children[i] as E, i);
}

/** setText changes an element's text only when it differs. */
function setText(el: Element, text: string): void {
  if (el.textContent !== text) el.textContent = text;
}

interface Card {
  root: HTMLElement;
  role: HTMLElement;
  term: HTMLElement;
  vote: HTMLElement;
  believes: HTMLElement;
  timer: HTMLElement;
  log: HTMLElement;
  snap: HTMLElement;
  elided: HTMLElement;
  entries: HTMLElement;
  meta: HTMLElement;
  progress: HTMLElement;
  progressList: HTMLElement;
  kv: HTMLElement;
  kvLabel: HTMLElement;
  kvPairs: HTMLElement;
  kvMore: HTMLElement;
  applied: HTMLElement;
  error: HTMLElement;
  conf: HTMLElement;
  buttons: Map<string, HTMLButtonElement>;
  own: Map<string, boolean>; // whether each button is disabled by the node's state (block aside)
  keys: Map<string, string>; // what each part last showed, to touch the DOM only on change
}

const ACTIONS: [kind: string, label: string, title: string][] = [
  ["crash", "Crash", "stop the node: volatile state lost, storage kept"],
  ["restart", "Restart", "start the node again from its storage"],
  ["disconnect", "Disconnect", "cut every link of this node"],
  ["reconnect", "Reconnect", "restore this node's links"],
  ["timeout", "Timeout", "make the election timer fire now"],
  ["transfer", "Lead", "ask the leader to hand its leadership to this node (Raft thesis §3.10)"],
  ["remove-server", "Remove", "ask the leader to remove this node from the cluster (a membership change, Raft §6)"],
];

/** What the cards read of a snapshot: the lab's Snapshot, or the one the mixed page builds. */
export type CardsSnapshot = Pick<Snapshot, "nodes" | "timerMax" | "cut" | "detail">;

/** Cards draws a card per node. */
export class Cards {
  private cards = new Map<string, Card>();
  private blocked = new Set<string>(); // actions that cannot be carried out now (block)
  private blockedWhy = "";

  constructor(private readonly root: HTMLElement, private readonly act: (a: Action) => void) {}

  clear(): void {
    this.root.replaceChildren();
    this.cards.clear();
  }

  /** build lays out a card per id; shown, if given, names the buttons each card shows. */
  build(ids: string[], shown?: (id: string) => readonly string[]): void {
    this.clear();
    for (const id of ids) {
      const root = h("article", "card", this.root);
      root.dataset.node = id;
      root.tabIndex = -1;
      const head = h("header", "", root);
      h("b", "id", head, id);
      const role = h("span", "role", head);
      const term = h("span", "term", head);
      const vote = h("span", "vote", head);
      const believes = h("span", "believes", head);
      const timerBox = h("div", "timerbar", root);
      timerBox.title = "election timer: time left before this node starts an election";
      const timer = h("div", "fill", timerBox);
      const log = h("div", "log", root);
      log.setAttribute("aria-label", `${id}'s log`);
      const snap = h("span", "snap", log);
      snap.title = "log compaction (Raft §7): a snapshot of the key-value store replaces the log entries up to this index";
      const elided = h("span", "elided", log);
      const entries = h("span", "entries", log);
      const meta = h("div", "meta", root);
      const progress = h("div", "progress", root);
      h("span", "label", progress, "followers:");
      const progressList = h("span", "entries", progress);
      const kv = h("div", "kv", root);
      const kvLabel = h("span", "label", kv);
      const kvPairs = h("span", "entries", kv);
      const kvMore = h("span", "more", kv);
      const applied = h("ol", "applied", root);
      applied.title = "the last commands this node applied to its key-value store, with their answers";
      const conf = h("div", "conf", root);
      conf.title = "the configuration this node uses: the latest in its log, committed or not (Raft §6)";
      const error = h("p", "err", root);
      const actions = h("div", "actions", root);
      const buttons = new Map<string, HTMLButtonElement>();
      for (const [kind, label, title] of ACTIONS) {
        const b = h("button", "", actions, label);
        b.type = "button";
        b.title = title;
        b.dataset.act = kind;
        if (shown && !shown(id).includes(kind)) b.hidden = true;
        b.addEventListener("click", () => this.act({ kind, node: id }));
        buttons.set(kind, b);
      }
      this.cards.set(id, {
        root, role, term, vote, believes, timer, log, snap, elided, entries, meta, progress, progressList, kv, kvLabel, kvPairs, kvMore, applied, error, conf, buttons,
        own: new Map(), keys: new Map(),
      });
    }
    this.block([...this.blocked], this.blockedWhy);
  }

  /**
   * block disables the actions named on every card, whatever the nodes' state, with why as
   * their tooltip (the mixed page's Lead and Remove go through the server, and do nothing while
   * it is away); block([], "") gives them back.
   */
  block(acts: string[], why: string): void {
    const touched = new Set([...this.blocked, ...acts]);
    this.blocked = new Set(acts);
    this.blockedWhy = why;
    for (const c of this.cards.values()) for (const kind of touched) this.enable(c, kind, c.own.get(kind) ?? false);
  }

  /** enable sets whether a card's button is disabled by its node's state, and draws it. */
  private enable(c: Card, kind: string, disabled: boolean): void {
    c.own.set(kind, disabled);
    const b = c.buttons.get(kind)!;
    const blocked = this.blocked.has(kind);
    b.disabled = disabled || blocked;
    b.title = blocked ? this.blockedWhy : ACTIONS.find(([k]) => k === kind)![2];
  }

  /** focus scrolls a node's card into view and highlights it. */
  focus(id: string): void {
    const c = this.cards.get(id);
    if (!c) return;
    c.root.scrollIntoView({ block: "nearest", behavior: "smooth" });
    c.root.classList.add("flash");
    setTimeout(() => c.root.classList.remove("flash"), 700);
  }

  /**
   * draw moves every timer bar; a detailed snapshot also redraws the cards' text. A card's
   * summary (role, term, indexes) and its details (log, followers, contents) are drawn from the
   * same detailed snapshot, so they never disagree ("empty log" beside "last index 1"); light
   * snapshots come every frame between detailed ones (at most 66 ms apart) and are not drawn
   * into the text.
   */
  draw(s: CardsSnapshot): void {
    for (const n of s.nodes) {
      const c = this.cards.get(n.id);
      if (!c) continue;
      const left = n.timerLeft < 0 ? 0 : Math.min(100, (100 * n.timerLeft) / s.timerMax);
      c.timer.style.transform = `scaleX(${(left / 100).toFixed(3)})`;
      if (s.detail) this.drawCard(c, n, s);
    }
  }

  private changed(c: Card, part: string, key: string): boolean {
    if (c.keys.get(part) === key) return false;
    c.keys.set(part, key);
    return true;
  }

  /** drawCard draws a card's text from a detailed snapshot. */
  private drawCard(c: Card, n: NodeView, s: CardsSnapshot): void {
    const dead = n.state === "dead";
    if (this.changed(c, "head", `${n.state}|${n.term}|${n.vote}|${n.leader}|${n.role}`)) {
      c.root.dataset.state = n.state;
      c.root.dataset.term = String(n.term);
      c.role.textContent = n.state;
      c.term.textContent = `term ${n.term}`;
      c.vote.textContent = n.vote ? `voted ${n.vote}` : "no vote";
      c.believes.textContent = n.leader ? `leader: ${n.leader}` : "leader: ?";
      this.enable(c, "crash", dead);
      this.enable(c, "restart", !dead || n.role === "removed"); // a removed server runs again only if added again
      this.enable(c, "timeout", dead);
      this.enable(c, "transfer", dead || n.state === "leader");
    }
    const cutAll = s.nodes.every((o) => o.id === n.id || s.cut.some(([a, b]) => (a === n.id && b === o.id) || (b === n.id && a === o.id)));
    if (this.changed(c, "net", String(cutAll))) {
      c.root.classList.toggle("isolated", cutAll);
    }
    if (this.changed(c, "meta", `${n.commit}|${n.last}`)) {
      c.root.dataset.commit = String(n.commit);
      c.root.dataset.last = String(n.last);
      c.meta.textContent = `commit index ${n.commit} · last index ${n.last}`;
    }
    if (this.changed(c, "error", n.error ?? "")) {
      c.error.textContent = n.error ?? "";
      c.error.hidden = !n.error;
    }
    const log = n.log ?? [];
    const logFrom = n.logFrom ?? 1;
    const snapIndex = n.snapIndex ?? 0;
    if (this.changed(c, "snap", `${snapIndex}|${n.snapTerm ?? 0}|${n.snapSize ?? 0}`)) {
      setText(c.snap, snapIndex > 0 ? `snapshot ≤ ${snapIndex}, term ${n.snapTerm ?? 0}, ${n.snapSize ?? 0} B` : "");
    }
    if (this.changed(c, "log", `${logFrom}|${snapIndex}|${n.commit}|${log.map((e) => e.t).join(",")}|${log.length > 0 ? log[log.length - 1]!.c : ""}`)) {
      this.drawLog(c, logFrom, snapIndex, log, n.commit);
    }
    const prog = n.progress ?? [];
    if (this.changed(c, "progress", JSON.stringify(prog))) {
      c.progress.hidden = prog.length === 0;
      sync(c.progressList, prog.length, () => h("span", "pr"), (el, i) => {
        const p = prog[i]!;
        el.className = p.probing ? "pr probing" : "pr";
        el.title = p.probing ? "probing: looking for where the logs agree" : "replicating";
        setText(el, `${p.id} match ${p.match} next ${p.next}${p.inflight ? ` (${p.inflight} out)` : ""}`);
      });
    }
    const kv = n.kv ?? [];
    const kvLen = n.kvLen ?? 0;
    if (this.changed(c, "kv", `${kvLen}|${JSON.stringify(kv)}`)) {
      setText(c.kvLabel, kvLen === 0 ? "kv: empty" : `kv (${kvLen}):`);
      sync(
        c.kvPairs,
        kv.length,
        () => {
          const pair = h("span", "pair");
          h("b", "", pair);
          pair.append("");
          return pair;
        },
        (pair, i) => {
          const [k, v] = kv[i]!;
          setText(pair.firstElementChild!, k);
          const rest = pair.lastChild!;
          if (rest.nodeValue !== `=${v}`) rest.nodeValue = `=${v}`;
        },
      );
      setText(c.kvMore, kvLen > kv.length ? `+${kvLen - kv.length} more` : "");
    }
    if (this.changed(c, "conf", `${n.role}|${n.config}|${n.configCommitted}`)) {
      c.root.dataset.role = n.role;
      const conf = `${n.config}${n.configCommitted ? "" : " (not committed yet)"}`;
      setText(c.conf, n.role === "removed" ? `removed from the cluster: stopped until added again · it last used ${conf}` : `${n.role === "voter" ? "voter" : n.role === "learner" ? "learner (no vote)" : "outside the cluster"} · ${conf}`);
      this.enable(c, "remove-server", n.role === "outside" || n.role === "removed");
    }
    const applied = n.applied ?? [];
    if (this.changed(c, "applied", applied.join("\n"))) {
      sync(c.applied, applied.length, () => h("li", ""), (li, i) => setText(li, applied[i]!));
    }
  }

  private drawLog(c: Card, logFrom: number, snapIndex: number, log: { t: number; c: string }[], commit: number): void {
    const hidden = logFrom - snapIndex - 1; // entries between the snapshot and the window
    setText(c.elided, hidden > 0 ? `…${hidden}` : log.length === 0 ? (snapIndex > 0 ? "no entries after it" : "empty log") : "");
    sync(c.entries, log.length, () => h("span", "e"), (span, i) => {
      const e = log[i]!;
      const idx = logFrom + i;
      const cls = idx < commit ? "e committed" : idx === commit ? "e committed commit-mark" : "e";
      if (span.className !== cls) span.className = cls;
      const hue = String(termHue(e.t));
      if (span.style.getPropertyValue("--h") !== hue) span.style.setProperty("--h", hue);
      setText(span, String(e.t));
      span.title = `index ${idx} · term ${e.t} · ${e.c}${idx <= commit ? " · committed" : ""}`;
    });
  }
}
