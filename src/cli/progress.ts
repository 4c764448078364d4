/**
 * Progress for long work: listr2's live view on a terminal, plain lines when not on one, nothing with --json
 * (JSON goes to stdout alone).
 */
import { Listr, ListrLogger, type ListrTask, ProcessOutput } from 'listr2';

export type Mode = 'tty' | 'plain' | 'silent';

export function progressMode(json?: boolean): Mode {
  if (json) return 'silent';
  return process.stderr.isTTY && !process.env.CI ? 'tty' : 'plain';
}

export async function runTasks<C>(tasks: ListrTask<C>[], mode: Mode, ctx: C): Promise<C> {
  const list = new Listr<C>(tasks, {
    ctx,
    concurrent: false,
    exitOnError: true,
    renderer: mode === 'tty' ? 'default' : mode === 'plain' ? 'simple' : 'silent',
    rendererOptions:
      mode === 'plain'
        ? // listr2's simple renderer writes to stdout; keep stdout for results and send progress to stderr.
          { logger: new ListrLogger({ processOutput: new ProcessOutput(process.stderr, process.stderr) }) }
        : { collapseErrors: false, collapseSubtasks: false },
  } as ConstructorParameters<typeof Listr<C>>[1]);
  return list.run();
}
