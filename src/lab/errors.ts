/**
 * The lab file's error type and its diagnostics, apart from the loader: the CLI's error printer (cli/output.ts)
 * needs the class for every command, and importing it from load.ts would load yaml, zod and the validator into
 * commands that never read a lab file (`labctl --version`, `down --lab`, `status`). load.ts re-exports all of it.
 */
import { LabctlError } from '../errors.js';

export interface Diagnostic {
  file: string;
  line: number;
  col: number;
  path: string;
  message: string;
  hint?: string;
}

export class LabValidationError extends LabctlError {
  readonly diagnostics: Diagnostic[];
  constructor(diagnostics: Diagnostic[]) {
    const first = diagnostics[0];
    super(
      'invalid-lab',
      `${diagnostics.length} problem${diagnostics.length === 1 ? '' : 's'} in ${first?.file ?? 'the lab file'}`,
      {
        hint: first ? `edit ${first.file}:${first.line} and run labctl validate again` : undefined,
        details: diagnostics.map(formatDiagnostic),
      },
    );
    this.diagnostics = diagnostics;
  }
}

export function formatDiagnostic(d: Diagnostic): string {
  return `${d.file}:${d.line}:${d.col} ${d.path}: ${d.message}${d.hint ? ` (hint: ${d.hint})` : ''}`;
}
