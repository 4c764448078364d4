/** A TCP probe: connect, send the token, expect it back (or, without a token, the handshake alone). */
import net from 'node:net';
import type { ProbeResult, ProbeSpec } from '../protocol.js';
import { classifyErrno, noSocket } from './errors.js';
import { type Ctx, MAX_TOKEN, now, round } from './node.js';

export function probeTcp(ctx: Ctx, p: ProbeSpec): Promise<ProbeResult> {
  let sock: net.Socket;
  if (ctx.tcpFds) {
    // broker mode: an AF_INET6 socket from the launcher for an IPv6 destination
    const v6 = net.isIPv6(p.ip);
    const fd = (v6 ? ctx.tcp6Fds : ctx.tcpFds)?.pop();
    if (fd === undefined) return Promise.resolve(noSocket(ctx, v6 ? 'tcp6' : 'tcp'));
    try {
      // connect() follows in this same tick, before the event loop ever polls the unconnected socket
      sock = new net.Socket({ fd, readable: true, writable: true });
    } catch (e) {
      return Promise.resolve({ outcome: 'error', ms: 0, detail: (e as Error).message });
    }
  } else {
    sock = new net.Socket();
  }
  return new Promise((resolve) => {
    const t0 = now();
    let done = false;
    let connected = false;
    let buf = '';
    const from = net.isIPv6(p.ip) ? `[${p.ip}]:${p.port}` : `${p.ip}:${p.port}`;
    const finish = (r: Omit<ProbeResult, 'ms'>, ms = now() - t0) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve({ ...r, ms: round(ms) });
    };
    const timer = setTimeout(
      () =>
        finish({
          outcome: 'timeout',
          stage: connected ? 'token' : 'connect',
          ...(connected ? { from, detail: 'connected, but the token did not come back' } : {}),
        }),
      p.timeoutMs,
    );
    sock.on('connect', () => {
      connected = true;
      if (p.token === undefined) return finish({ outcome: 'pass', stage: 'connect', from });
      sock.write(`${p.token}\n`);
    });
    sock.on('data', (d) => {
      buf += d.toString('latin1');
      const nl = buf.indexOf('\n');
      if (nl >= 0 || buf.length > MAX_TOKEN) {
        const line = nl >= 0 ? buf.slice(0, nl) : buf;
        if (line === p.token) finish({ outcome: 'pass', stage: 'token', from });
        else
          finish({
            outcome: 'mismatch',
            stage: 'token',
            from,
            detail: `answered ${JSON.stringify(line.slice(0, 80))} instead of the token`,
          });
      }
    });
    sock.on('end', () => {
      if (connected)
        finish({
          outcome: 'mismatch',
          stage: 'token',
          from,
          detail: 'connection closed without echoing the token',
        });
    });
    sock.on('error', (e: NodeJS.ErrnoException) => {
      if (connected) {
        finish({
          outcome: 'mismatch',
          stage: 'token',
          from,
          code: e.code,
          detail: `connection failed after the handshake: ${e.code ?? e.message}`,
        });
        return;
      }
      const outcome = classifyErrno(e.code);
      finish({
        outcome,
        stage: 'connect',
        code: e.code,
        ...(outcome === 'refused' ? { from } : {}),
        ...(outcome === 'error' ? { detail: e.message } : {}),
      });
    });
    sock.setNoDelay(true);
    sock.connect({ port: p.port!, host: p.ip });
  });
}
