/**
 * Where the image build contexts shipped with labctl live. compose/ sits at the package root, next to package.json:
 * from dist/src/images/paths.js that is ../../../compose, from src/images/paths.ts (tests) ../../compose. Walk up
 * from this module until a compose/ directory with the node image's Dockerfile appears, so both layouts work.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | undefined;

export function composeDir(): string {
  if (cached) return cached;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, 'compose');
    if (existsSync(join(candidate, 'node', 'Dockerfile'))) {
      cached = candidate;
      return candidate;
    }
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  throw new Error(
    `labctl installation is incomplete: compose/node/Dockerfile not found above ${fileURLToPath(import.meta.url)}`,
  );
}

/** The build context of the default node image (labctl/node). */
export function nodeImageContext(): string {
  return join(composeDir(), 'node');
}
