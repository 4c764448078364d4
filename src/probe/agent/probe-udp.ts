/** A UDP probe: a connected socket sends the token three times within the limit and expects it back. */
import dgram from 'node:dgram';
import net from 'node:net';
import type { ProbeResult, ProbeSpec } from '../protocol.js';
import { classifyErrno, noSocket } from './errors.js';
import { type Ctx, now, round } from './node.js';

export function probeUdp(ctx: Ctx, p: ProbeSpec): Promise<ProbeResult> {
  const v6 = net.isIPv6(p.ip);
  let fd: number | undefined;
  if (ctx.udpFds) {
    // broker mode: an AF_INET6 socket from the launcher for an IPv6 destination
    fd = (v6 ? ctx.udp6Fds : ctx.udpFds)?.pop();
    if (fd === undefined) return Promise.resolve(noSocket(ctx, v6 ? 'udp6' : 'udp'));
  }
  return new Promise((resolve) => {
    const t0 = now();
    let done = false;
    let sent = 0;
    let lastSend = t0;
    const token = Buffer.from(p.token ?? `labctl-${process.pid}-${Math.random().toString(36).slice(2)}`);
    const sock = dgram.createSocket(v6 ? 'udp6' : 'udp4');
    const retries: NodeJS.Timeout[] = [];
    const finish = (r: Omit<ProbeResult, 'ms' | 'sent'>, ms = now() - t0) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      for (const t of retries) clearTimeout(t);
      try {
        sock.close();
      } catch {
        // already closed
      }
      resolve({ ...r, ms: round(ms), sent });
    };
    const timer = setTimeout(() => finish({ outcome: 'timeout' }), p.timeoutMs);
    const transmit = () => {
      if (done) return;
      sent++;
      lastSend = now();
      sock.send(token, (err) => {
        if (err)
          finish({
            outcome: classifyErrno((err as NodeJS.ErrnoException).code),
            code: (err as NodeJS.ErrnoException).code,
            detail: err.message,
          });
      });
    };
    sock.on('message', (m, r) => {
      const from = v6 ? `[${r.address}]:${r.port}` : `${r.address}:${r.port}`;
      if (m.equals(token)) finish({ outcome: 'pass', from }, now() - lastSend);
      else
        finish({
          outcome: 'mismatch',
          from,
          detail: `answered ${m.length} bytes that are not the token`,
        });
    });
    // On a connected UDP socket an ICMP port-unreachable comes back as ECONNREFUSED.
    sock.on('error', (e: NodeJS.ErrnoException) => {
      const outcome = classifyErrno(e.code);
      finish({
        outcome,
        code: e.code,
        ...(outcome === 'refused' ? { from: v6 ? `[${p.ip}]:${p.port}` : `${p.ip}:${p.port}` } : {}),
        ...(outcome === 'error' ? { detail: e.message } : {}),
      });
    });
    const go = () =>
      sock.connect(p.port!, p.ip, (err?: Error) => {
        if (err) return; // reported through 'error'
        // three transmissions within the time limit: one lost datagram is not a verdict
        transmit();
        for (const frac of [1 / 3, 2 / 3]) retries.push(setTimeout(transmit, p.timeoutMs * frac));
      });
    if (fd !== undefined) sock.bind({ fd }, go);
    else go();
  });
}
