/**
 * Resources a command leaves open until it ends (ssh connections to remote chassis, drivers/ssh.ts): registered
 * where they are opened, closed by the entry point after the command, so the process can exit.
 */
const closers = new Set<() => Promise<void> | void>();

export function atCommandEnd(fn: () => Promise<void> | void): void {
  closers.add(fn);
}

export async function runCommandEnd(): Promise<void> {
  const all = [...closers];
  closers.clear();
  await Promise.all(all.map(async (f) => f()));
}
