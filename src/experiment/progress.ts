/**
 * Progress of a run: listr2's live line on a terminal; plain lines on stderr otherwise (stdout carries the report
 * alone, so `labctl run NAME > report.txt` holds just the report); nothing with --json.
 */
import { progressMode, runTasks } from '../cli/progress.js';

export async function withProgress<T>(
  title: string,
  json: boolean | undefined,
  fn: (line: (text: string) => void) => Promise<T>,
): Promise<T> {
  const mode = progressMode(json);
  if (mode === 'silent') return fn(() => {});
  if (mode === 'plain') {
    process.stderr.write(`${title}\n`);
    const r = await fn((text) => process.stderr.write(`· ${text}\n`));
    return r;
  }
  const ctx: { result?: T } = {};
  await runTasks(
    [
      {
        title,
        task: async (c: typeof ctx, task) => {
          c.result = await fn((text) => {
            task.output = text;
          });
        },
      },
    ],
    mode,
    ctx,
  );
  return ctx.result as T;
}
