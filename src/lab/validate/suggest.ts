/** "did you mean" for names and keys, and the naming rule every lab object follows. */
import { isSafeName } from '../../names.js';

export function suggest(name: string, known: string[]): string | undefined {
  if (known.length === 0) return undefined;
  // Closest by edit distance, counting a swap of two neighbours as one edit (nmae → name, not mac).
  let best = known[0]!;
  let bestD = Number.POSITIVE_INFINITY;
  for (const k of known) {
    const d = editDistance(name, k);
    if (d < bestD) [best, bestD] = [k, d];
  }
  // Only suggest when the edit distance is small relative to the name, or one is a prefix of the other.
  return bestD <= Math.max(2, Math.floor(best.length / 3)) || best.startsWith(name) || name.startsWith(best)
    ? best
    : undefined;
}

/** Optimal string alignment distance: insertions, deletions, substitutions and adjacent transpositions. */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

/** The hint for an unknown reference: the closest known name, or the list of them. */
export function didYouMean(name: string, known: string[], what: string): string {
  const s = suggest(name, known);
  if (s) return `did you mean ${s}?`;
  return known.length ? `known ${what}: ${known.join(', ')}` : `define it under ${what}`;
}

/** Why `name` cannot name a lab object, or undefined when it can. */
export function nameIssue(name: string, max: number): string | undefined {
  if (isSafeName(name, max)) return undefined;
  if (name.length > max) return `is ${name.length} characters long; the limit is ${max}`;
  return 'must start with a letter and use only a-z, 0-9 and single hyphens (not at the end)';
}
