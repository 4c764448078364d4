/**
 * Coalesce many small writes into few transactions while work is still arriving: items added within a short
 * window (or until a batch is full) are flushed together, one flush at a time. Each add() resolves when its own
 * items are committed, so callers can overlap their next step with everybody else's.
 */
export interface Batcher<T> {
  add(items: T[]): Promise<void>;
  /** resolves when everything added so far is flushed */
  drain(): Promise<void>;
}

export function createBatcher<T>(
  flush: (items: T[]) => Promise<void>,
  opts: { delayMs?: number; maxItems?: number } = {},
): Batcher<T> {
  const delayMs = opts.delayMs ?? 25;
  const maxItems = opts.maxItems ?? 200;
  let pending: { items: T[]; resolve: () => void; reject: (e: unknown) => void }[] = [];
  let timer: NodeJS.Timeout | undefined;
  let inFlight: Promise<void> = Promise.resolve();

  const run = () => {
    timer = undefined;
    const batch = pending;
    pending = [];
    if (!batch.length) return;
    inFlight = inFlight.then(async () => {
      try {
        await flush(batch.flatMap((b) => b.items));
        for (const b of batch) b.resolve();
      } catch (err) {
        for (const b of batch) b.reject(err);
      }
    });
  };

  return {
    add(items) {
      if (!items.length) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        pending.push({ items, resolve, reject });
        if (pending.reduce((n, b) => n + b.items.length, 0) >= maxItems) {
          if (timer) clearTimeout(timer);
          run();
        } else if (!timer) timer = setTimeout(run, delayMs);
      });
    },
    async drain() {
      if (timer) {
        clearTimeout(timer);
        run();
      }
      await inFlight;
    },
  };
}
