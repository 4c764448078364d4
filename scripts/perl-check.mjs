#!/usr/bin/env node
/**
 * `perl -c` on every perl program labctl ships (src/perl/*.pl), part of `npm run lint`: a syntax error fails the
 * lint, not a doctor run on someone's host. Bounded: one perl per file, 10 s each.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const dir = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'perl');
const files = readdirSync(dir).filter((n) => n.endsWith('.pl'));
let failed = 0;
for (const f of files) {
  try {
    execFileSync('perl', ['-c', '-w', join(dir, f)], {
      stdio: ['ignore', 'ignore', 'pipe'],
      timeout: 10_000,
    });
  } catch (e) {
    failed++;
    console.error(`perl -c src/perl/${f}:\n${String(e.stderr ?? e.message).trim()}`);
  }
}
if (failed) process.exit(1);
console.log(`perl -c: ${files.length} files OK (src/perl)`);
