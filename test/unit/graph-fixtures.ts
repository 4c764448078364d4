/** Plans of the repository's labs for the graph tests (compiled without a host: no sticky addresses). */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkLab, formatDiagnostic } from '../../src/lab/load.js';
import { compilePlan } from '../../src/plan/compile.js';
import type { Plan } from '../../src/plan/types.js';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The plan of a lab file, relative to the repository. */
export function planOf(file: string): Plan {
  const { lab, diagnostics } = checkLab(readFileSync(join(ROOT, file), 'utf8'), file);
  if (!lab) throw new Error(`invalid lab ${file}:\n${diagnostics.map(formatDiagnostic).join('\n')}`);
  return compilePlan(lab);
}
