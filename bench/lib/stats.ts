/** Small statistics over repeated runs: the bench reports medians, with min and max beside them. */
export function median(xs: number[]): number | undefined {
  if (!xs.length) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export interface Summary {
  median: number;
  min: number;
  max: number;
  n: number;
  values: number[];
}

export function summarize(xs: number[]): Summary | undefined {
  if (!xs.length) return undefined;
  return { median: median(xs)!, min: Math.min(...xs), max: Math.max(...xs), n: xs.length, values: xs };
}

export function round(x: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
