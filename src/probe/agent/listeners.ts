/**
 * The doctor's listeners inside a node: a TCP token echo (the first line back, then close) and a UDP echo, both
 * bounded (MAX_TOKEN bytes, idle connections closed, at most MAX_SERVER_CONNS at once).
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { type Ctx, MAX_TOKEN } from './node.js';

const MAX_LISTENERS = 256;
const SERVER_CONN_IDLE_MS = 5_000;
const MAX_SERVER_CONNS = 8_192;

function serveTcp(server: net.Server): void {
  server.maxConnections = MAX_SERVER_CONNS;
  server.on('connection', (sock) => {
    // Echo the first line (the doctor's token) and close; anything longer is cut off after MAX_TOKEN bytes.
    let buf = '';
    sock.setNoDelay(true);
    sock.setTimeout(SERVER_CONN_IDLE_MS, () => sock.destroy());
    sock.on('error', () => sock.destroy());
    sock.on('data', (d) => {
      buf += d.toString('latin1');
      const nl = buf.indexOf('\n');
      if (nl >= 0) sock.end(`${buf.slice(0, nl)}\n`);
      else if (buf.length > MAX_TOKEN) sock.destroy();
    });
  });
}

function serveUdp(sock: dgram.Socket): void {
  sock.on('message', (m, r) => {
    if (m.length <= MAX_TOKEN) sock.send(m, r.port, r.address, () => {});
  });
}

/**
 * `dual`: an AF_INET6 socket on :: with IPV6_V6ONLY off (node's default for ::), which answers IPv4 (as mapped
 * addresses) and IPv6 on one port; otherwise IPv4 only, as for a node without IPv6. A broker's inherited socket is
 * whatever the launcher opened (manifest `v6`).
 */
export function listenTcp(ctx: Ctx, want: number, port: number, fd?: number, dual = false): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    serveTcp(server);
    server.once('error', reject);
    const onListening = () => {
      server.removeListener('error', reject);
      server.on('error', () => {});
      const bound = (server.address() as net.AddressInfo).port;
      ctx.listeners.set(`tcp/${want}`, {
        state: { proto: 'tcp', want, port: bound },
        close: () => server.close(),
      });
      resolve(bound);
    };
    if (fd !== undefined) server.listen({ fd, backlog: 1024 }, onListening);
    else
      server.listen(
        { port, host: dual ? '::' : '0.0.0.0', ...(dual ? { ipv6Only: false } : {}), backlog: 1024 },
        onListening,
      );
  });
}

export function listenUdp(ctx: Ctx, want: number, port: number, fd?: number, dual = false): Promise<number> {
  return new Promise((resolve, reject) => {
    const sock = dual ? dgram.createSocket({ type: 'udp6', ipv6Only: false }) : dgram.createSocket('udp4');
    serveUdp(sock);
    sock.once('error', reject);
    const onListening = () => {
      sock.removeListener('error', reject);
      sock.on('error', () => {});
      const bound = sock.address().port;
      ctx.listeners.set(`udp/${want}`, {
        state: { proto: 'udp', want, port: bound },
        close: () => sock.close(),
      });
      resolve(bound);
    };
    if (fd !== undefined) sock.bind({ fd }, onListening);
    else sock.bind(port, dual ? '::' : '0.0.0.0', onListening);
  });
}

/** Local mode: bind `want`, or the next ports up to `tries` more when it is taken. */
export async function listenLocal(
  ctx: Ctx,
  proto: 'tcp' | 'udp',
  want: number,
  tries: number,
  dual = false,
): Promise<{ port?: number; code?: string; error?: string }> {
  const existing = ctx.listeners.get(`${proto}/${want}`);
  if (existing) return { port: existing.state.port, code: existing.state.code };
  if (ctx.listeners.size >= MAX_LISTENERS) return { code: 'ELIMIT', error: 'too many listeners' };
  let last: NodeJS.ErrnoException | undefined;
  for (let k = 0; k <= Math.min(tries, 64) && want + k < 65_536; k++) {
    try {
      return {
        port:
          proto === 'tcp'
            ? await listenTcp(ctx, want, want + k, undefined, dual)
            : await listenUdp(ctx, want, want + k, undefined, dual),
      };
    } catch (e) {
      last = e as NodeJS.ErrnoException;
      // a kernel without IPv6: the IPv4 listener of a node without IPv6
      if (dual && last.code === 'EAFNOSUPPORT') return listenLocal(ctx, proto, want, tries, false);
      if (last.code !== 'EADDRINUSE' || want === 0) break;
    }
  }
  ctx.listeners.set(`${proto}/${want}`, {
    state: { proto, want, code: last?.code ?? 'EINVAL' },
    close: () => {},
  });
  return { code: last?.code, error: last?.message };
}
