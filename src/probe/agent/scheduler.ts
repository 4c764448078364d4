/**
 * Running probes under bounds: at most `perNode` probes per node and `global` per process; nodes with waiting
 * probes take turns (round robin), so one busy node never starves the others. At most MAX_QUEUE wait in total.
 */
import net from 'node:net';
import type { ProbeResult, ProbeSpec } from '../protocol.js';
import { type Ctx, clampInt } from './node.js';
import { probeIcmpPing, probeIcmpSocket } from './probe-icmp.js';
import { probeTcp } from './probe-tcp.js';
import { probeUdp } from './probe-udp.js';

const MAX_QUEUE = 100_000;

/** One probe, its spec checked and its time limit clamped. */
export function runProbe(ctx: Ctx, p: ProbeSpec): Promise<ProbeResult> {
  const spec = { ...p, timeoutMs: clampInt(p.timeoutMs, 50, 10_000) };
  const v6 = net.isIPv6(spec.ip);
  if (!v6 && !net.isIPv4(spec.ip))
    return Promise.resolve({ outcome: 'error', ms: 0, detail: `not an IP address: ${spec.ip}` });
  if (spec.proto !== 'icmp' && !(Number.isInteger(spec.port) && spec.port! > 0 && spec.port! < 65_536))
    return Promise.resolve({ outcome: 'error', ms: 0, detail: `bad port ${spec.port}` });
  switch (spec.proto) {
    case 'tcp':
      return probeTcp(ctx, spec);
    case 'udp':
      return probeUdp(ctx, spec);
    case 'icmp':
      if (v6)
        return ctx.icmp6 && !spec.ownSocket
          ? probeIcmpSocket(ctx, ctx.icmp6, spec, true)
          : probeIcmpPing(ctx, spec);
      return ctx.icmp && !spec.ownSocket ? probeIcmpSocket(ctx, ctx.icmp, spec) : probeIcmpPing(ctx, spec);
    default:
      return Promise.resolve({ outcome: 'error', ms: 0, detail: `unknown protocol ${String(spec.proto)}` });
  }
}

/** A probe queue bounded per node (`perNode`) and per process (`global`). */
export function createScheduler(
  perNode: number,
  global: number,
): (ctx: Ctx, p: ProbeSpec) => Promise<ProbeResult> {
  let running = 0;
  let queued = 0;
  const ready: Ctx[] = [];

  function pump(): void {
    // each turn either starts a probe or drops a node from the ring: at most ready.length + started turns
    let idle = 0;
    while (running < global && ready.length && idle < ready.length) {
      const ctx = ready.shift()!;
      if (!ctx.queue.length) {
        idle = 0;
        continue;
      }
      if (ctx.running >= perNode) {
        ready.push(ctx);
        idle++;
        continue;
      }
      idle = 0;
      const start = ctx.queue.shift()!;
      queued--;
      if (ctx.queue.length) ready.push(ctx);
      start();
    }
  }

  return function schedule(ctx: Ctx, p: ProbeSpec): Promise<ProbeResult> {
    if (queued >= MAX_QUEUE) return Promise.resolve({ outcome: 'error', ms: 0, detail: 'agent queue full' });
    return new Promise((resolve) => {
      ctx.queue.push(() => {
        running++;
        ctx.running++;
        runProbe(ctx, p)
          .catch((e: Error) => ({ outcome: 'error' as const, ms: 0, detail: e.message }))
          .then((r) => {
            running--;
            ctx.running--;
            if (ctx.queue.length && !ready.includes(ctx)) ready.push(ctx);
            resolve(r);
            pump();
          });
      });
      queued++;
      if (!ready.includes(ctx)) ready.push(ctx);
      pump();
    });
  };
}
