/**
 * One error type for everything a user can act on: what failed, and the command or edit that fixes it.
 * The CLI catches it once at the top, prints `error: <message>` and `fix: <hint>`, and exits with `exitCode`
 * (design.md: 1 = invalid lab / a check failed, 2 = environment problem). Anything else is a bug and gets a stack.
 */
export type ErrorKind = 'invalid-lab' | 'environment' | 'usage' | 'timeout' | 'conflict';

const EXIT_CODES: Record<ErrorKind, number> = {
  'invalid-lab': 1,
  usage: 1,
  environment: 2,
  timeout: 2,
  conflict: 2,
};

export class LabctlError extends Error {
  readonly kind: ErrorKind;
  readonly hint: string | undefined;
  readonly details: string[];

  constructor(
    kind: ErrorKind,
    message: string,
    opts: { hint?: string; details?: string[]; cause?: unknown } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'LabctlError';
    this.kind = kind;
    this.hint = opts.hint;
    this.details = opts.details ?? [];
  }

  get exitCode(): number {
    return EXIT_CODES[this.kind];
  }
}

export const envError = (message: string, hint?: string, details?: string[]) =>
  new LabctlError('environment', message, { hint, details });

export const usageError = (message: string, hint?: string) => new LabctlError('usage', message, { hint });
