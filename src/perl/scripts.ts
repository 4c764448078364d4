/**
 * The perl programs labctl runs on the host (Debian's perl-base is Essential): the probe broker's launcher step,
 * the local agent's ICMP socket shim, the batched tx-offload ioctl and the impairment relay (src/drivers/relay.ts). They are real files (src/perl/*.pl), so
 * `perl -c` checks them in `npm run lint` (scripts/perl-check.mjs) and unit tests run them
 * (test/unit/probe-perl.test.ts).
 *
 * Where they are: next to this module in sources (vitest) and in tsc's output (dist/src/perl, copied there by
 * scripts/bundle.mjs, since tsc copies only .ts); the bundled CLI (dist/labctl.mjs, dist/chunks/*.mjs) finds them
 * in dist/src/perl.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export type PerlScript = 'broker' | 'icmp-shim' | 'tx-off' | 'relay';

const found = new Map<PerlScript, string>();

/** The absolute path of a perl script; throws naming where it looked (and the fix) when it is missing. */
export function perlScriptPath(name: PerlScript): string {
  const cached = found.get(name);
  if (cached) return cached;
  const here = dirname(fileURLToPath(import.meta.url));
  const file = `${name}.pl`;
  const candidates = [
    join(here, file), // sources, or dist/src/perl
    join(here, '..', 'src', 'perl', file), // dist/chunks
    join(here, 'src', 'perl', file), // dist/labctl.mjs
  ];
  for (const c of candidates) {
    if (existsSync(c)) {
      const path = resolve(c);
      found.set(name, path);
      return path;
    }
  }
  throw new Error(`labctl's ${file} not found (looked in ${candidates.join(', ')}): run npm run build`);
}
