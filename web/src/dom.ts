// Small DOM helpers the page's views share.

/** h creates a tag with a class (and text), appended to parent if given. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, cls: string, parent?: ParentNode, text?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  parent?.append(e);
  return e;
}

/** svg creates an SVG element with attributes, appended to parent if given. */
export function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number>, parent?: Element): SVGElementTagNameMap[K] {
  const e = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  parent?.append(e);
  return e;
}
