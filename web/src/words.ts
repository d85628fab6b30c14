// Wording helpers the page's texts share.

/** count writes a number with its noun, singular for exactly 1: count(1, "election") is "1 election", count(3, "entry", "entries") "3 entries". */
export function count(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}
