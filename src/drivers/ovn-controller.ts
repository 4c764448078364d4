/**
 * The local ovn-controller, through its unixctl socket (ovn-appctl -t ovn-controller): the conntrack zone it
 * gave each logical port and router, and a forced recompute of its flows.
 */
import { run } from '../exec.js';

/**
 * lsp name or "<router-uuid>_dnat" / "_snat" → conntrack zone, from `ct-zone-list` (of this host's ovn-controller,
 * or of the one whose control socket `ctl` is: a simulated chassis's).
 */
export async function ctZoneList(ctl = 'ovn-controller'): Promise<Map<string, number>> {
  const r = await run('ovn-appctl', ['-t', ctl, 'ct-zone-list'], { timeoutMs: 10_000 });
  const zones = new Map<string, number>();
  for (const line of r.stdout.split('\n')) {
    const m = /^(\S+)\s+(\d+)$/.exec(line.trim());
    if (m) zones.set(m[1]!, Number(m[2]));
  }
  return zones;
}

/** Ask ovn-controller to recompute all of its flows (throws when it does not answer). */
export async function recomputeOvnController(): Promise<void> {
  await run('ovn-appctl', ['-t', 'ovn-controller', 'recompute'], { timeoutMs: 10_000 });
}
