/**
 * Validate + compile timing, in a fresh node process (so the first iteration is as cold as in a real CLI call):
 * `node dist/bench/compile-probe.js FILE ITERATIONS [DIST]` prints one JSON line with the per-iteration times of
 * loadLabFile (read + YAML + schema + semantic checks) and compilePlan, imported from labctl's dist (or DIST).
 * The imports themselves are not timed (the CLI start-up is measured separately).
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type * as LoadModule from '../src/lab/load.js';
import type * as CompileModule from '../src/plan/compile.js';

const [file, itersArg, distArg] = process.argv.slice(2);
const dist = distArg ?? join(import.meta.dirname, '..');
const { loadLabFile } = (await import(
  pathToFileURL(join(dist, 'src', 'lab', 'load.js')).href
)) as typeof LoadModule;
const { compilePlan } = (await import(
  pathToFileURL(join(dist, 'src', 'plan', 'compile.js')).href
)) as typeof CompileModule;
if (!file) {
  process.stderr.write('usage: compile-probe.js FILE [ITERATIONS]\n');
  process.exit(2);
}
const iterations = Math.max(1, Math.min(50, Number(itersArg ?? 5)));
const loadMs: number[] = [];
const compileMs: number[] = [];
let nodes = 0;
let ports = 0;
for (let i = 0; i < iterations; i++) {
  const t0 = performance.now();
  const lab = loadLabFile(file);
  const t1 = performance.now();
  const plan = compilePlan(lab);
  const t2 = performance.now();
  loadMs.push(t1 - t0);
  compileMs.push(t2 - t1);
  nodes = plan.nodes.length;
  ports = plan.switches.reduce((s, sw) => s + sw.ports.length, 0);
}
process.stdout.write(
  `${JSON.stringify({ nodes, ports, loadMs, compileMs, maxRssKb: process.resourceUsage().maxRSS })}\n`,
);
