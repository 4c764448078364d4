/** Rendering helpers shared by the commands: plain lines for people, JSON only on stdout for machines. */
import { LabctlError } from '../errors.js';
import { LabValidationError } from '../lab/errors.js';

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Print an error the design.md way: what failed, then the command or edit that fixes it. Returns the exit code. */
export function reportError(err: unknown, json = false): number {
  if (err instanceof LabctlError) {
    if (json) {
      const body: Record<string, unknown> = { ok: false, error: err.message, kind: err.kind };
      if (err.hint) body.fix = err.hint;
      if (err instanceof LabValidationError) body.diagnostics = err.diagnostics;
      else if (err.details.length) body.details = err.details;
      printJson(body);
    } else {
      process.stderr.write(`error: ${err.message}\n`);
      for (const d of err.details) process.stderr.write(`  ${d}\n`);
      if (err.hint) process.stderr.write(`fix: ${err.hint}\n`);
    }
    return err.exitCode;
  }
  const e = err as Error;
  process.stderr.write(`labctl: internal error: ${e?.stack ?? String(err)}\n`);
  process.stderr.write(
    'This is a bug in labctl; please report it with the command you ran and the output above.\n',
  );
  return 70;
}
