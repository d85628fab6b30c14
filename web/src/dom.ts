// A small DOM helper the page's views share.

/** h creates a tag with a class (and text), appended to parent if given. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, cls: string, parent?: ParentNode, text?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  parent?.append(e);
  return e;
}
