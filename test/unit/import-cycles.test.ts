/**
 * No import cycles in the doctor's code, and the layering the doctor relies on: src/ never imports checks/ (only
 * the command line, src/cli, wires checks in). Walks the relative imports (static, dynamic and type-only) of every
 * module under src/ and checks/ — a cheap stand-in for madge.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

const IMPORT = /(?:\bfrom\s+|\bimport\s*\(\s*|\bimport\s+)['"](\.{1,2}\/[^'"]+)['"]/g;

function graph(): Map<string, string[]> {
  const g = new Map<string, string[]>();
  for (const f of [...files(join(root, 'src')), ...files(join(root, 'checks'))]) {
    const text = readFileSync(f, 'utf8');
    const deps: string[] = [];
    for (const m of text.matchAll(IMPORT)) {
      const target = resolve(dirname(f), m[1]!.replace(/\.js$/, '.ts'));
      deps.push(relative(root, target));
    }
    g.set(relative(root, f), deps);
  }
  return g;
}

/** Strongly connected components with more than one module (or a module importing itself): Tarjan. */
function cycles(g: Map<string, string[]>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of g.get(v) ?? []) {
      if (!g.has(w)) continue;
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || g.get(v)?.includes(v)) out.push(scc.sort());
    }
  };
  for (const v of g.keys()) if (!idx.has(v)) visit(v);
  return out;
}

describe('imports', () => {
  const g = graph();
  it('finds the modules (the walk works)', () => {
    expect(g.get('src/probe/session.ts')).toContain('src/probe/results.ts');
    expect(g.get('checks/dataplane-tcp.ts')).toContain('src/probe/session.ts');
  });

  it('no cycle among the doctor’s modules (src/probe, src/doctor, src/host, src/perl, checks)', () => {
    const mine = (f: string) => /^(src\/(probe|doctor|host|perl)|checks)\//.test(f);
    expect(cycles(g).filter((c) => c.some(mine))).toEqual([]);
  });

  it('src/ never imports checks/ (except the command line)', () => {
    const bad = [...g]
      .filter(([f]) => f.startsWith('src/') && !f.startsWith('src/cli/'))
      .flatMap(([f, deps]) => deps.filter((d) => d.startsWith('checks/')).map((d) => `${f} → ${d}`));
    expect(bad).toEqual([]);
  });
});
