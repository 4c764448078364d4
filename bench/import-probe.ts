/**
 * Start-up cost of one module, in a fresh node process: `node dist/bench/import-probe.js SPEC` prints
 * {"ms", "rssMb"} for `await import(SPEC)` (SPEC: a package name, or a path relative to the repository root).
 */
import { isAbsolute, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT } from './lib/proc.js';

const spec = process.argv[2];
if (!spec) {
  process.stderr.write('usage: import-probe.js SPEC\n');
  process.exit(2);
}
const target = isAbsolute(spec)
  ? pathToFileURL(spec).href
  : spec.startsWith('.')
    ? pathToFileURL(join(ROOT, spec)).href
    : spec;
const rss0 = process.memoryUsage().rss;
const t0 = performance.now();
await import(target);
const ms = performance.now() - t0;
process.stdout.write(`${JSON.stringify({ ms, rssMb: (process.memoryUsage().rss - rss0) / 1048576 })}\n`);
process.exit(0);
