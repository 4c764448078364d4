/**
 * Everything the bench creates is registered here before it is created, and removed in reverse order when the
 * bench ends — normally, on an error, or on SIGINT/SIGTERM/SIGHUP. Children the bench is waiting for are killed
 * first (by their own pid: they are the bench's children), so a half-finished `labctl up` cannot race the
 * `labctl down` that cleans up after it. Each cleanup step is bounded by its own timeout.
 */
import type { ChildProcess } from 'node:child_process';

type Step = { name: string; fn: () => Promise<void> };

const steps: Step[] = [];
const children = new Set<ChildProcess>();
let running: Promise<void> | undefined;
let aborted = false;
let mainFlow: Promise<unknown> | undefined;

export class AbortedError extends Error {
  constructor() {
    super('interrupted');
  }
}

/** The measuring flow calls this between steps: after a signal it stops there instead of creating more. */
export function checkpoint(): void {
  if (aborted) throw new AbortedError();
}

export function isAborted(): boolean {
  return aborted;
}

/** Cleanup waits (bounded) for this flow to stop, so nothing it is still creating escapes the sweep. */
export function setMainFlow(p: Promise<unknown>): void {
  mainFlow = p;
}

export function onCleanup(name: string, fn: () => Promise<void>): () => void {
  const step = { name, fn };
  steps.push(step);
  return () => {
    const i = steps.indexOf(step);
    if (i >= 0) steps.splice(i, 1);
  };
}

export function trackChild(child: ChildProcess): void {
  children.add(child);
  child.once('exit', () => children.delete(child));
}

export function killChildren(): void {
  for (const c of children) {
    try {
      // Their own process group when they have one (hand-wire.sh runs detached), else the child alone.
      if (c.pid && c.spawnargs.length && (c as ChildProcess & { benchGroup?: boolean }).benchGroup)
        process.kill(-c.pid, 'SIGTERM');
      else c.kill('SIGTERM');
    } catch {
      // already gone
    }
  }
}

export function runCleanup(log: (l: string) => void = (l) => process.stderr.write(`${l}\n`)): Promise<void> {
  running ??= (async () => {
    killChildren();
    // Give killed children a moment to exit (bounded), so their locks and half-made objects settle, and let the
    // measuring flow reach its next checkpoint (a floor start in flight finishes its Docker calls first).
    const t0 = Date.now();
    while (children.size && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 100));
    if (mainFlow) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        mainFlow.catch(() => undefined),
        new Promise((r) => {
          timer = setTimeout(r, 60_000);
        }),
      ]);
      clearTimeout(timer);
      killChildren();
    }
    for (const step of steps.splice(0).reverse()) {
      try {
        await step.fn();
      } catch (err) {
        log(`cleanup: ${step.name} failed: ${(err as Error).message}`);
      }
    }
  })();
  return running;
}

export function installSignalHandlers(log: (l: string) => void): void {
  let count = 0;
  const handler = (sig: NodeJS.Signals) => {
    count++;
    if (count > 1) {
      log(`bench: ${sig} again, exiting without finishing cleanup (run npm run bench -- --cleanup-only)`);
      process.exit(130);
    }
    aborted = true;
    log(`bench: ${sig}: cleaning up everything this run created…`);
    runCleanup(log).finally(() => process.exit(130));
  };
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, handler);
}
