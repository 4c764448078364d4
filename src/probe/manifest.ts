/**
 * The broker's two small grammars, in one place (the perl side, src/perl/broker.pl, reads the first and writes the
 * second; test/unit/probe-perl.test.ts runs it against this module):
 *
 * STEP — one argument per node, what the client asks a launcher step to open in that node's netns:
 *     NODE|PID|ICMP|TCP|UDP|LISTENERS[|ICMP6|TCP6|UDP6|DUAL]
 *   ICMP 1 or 0 (open a datagram ICMP socket), TCP / UDP the number of unused client sockets, LISTENERS a comma
 *   list of PROTO/WANT+TRIES (bind WANT, or one of the TRIES ports above it when it is taken).
 *   The four IPv6 fields are there only for a node that has IPv6 (an IPv4-only step is unchanged): ICMP6 1 or 0 (a
 *   datagram ICMPv6 socket), TCP6 / UDP6 the number of unused AF_INET6 client sockets, DUAL 1 = the listeners are
 *   AF_INET6 sockets bound to :: with IPV6_V6ONLY off, so one socket (one port) answers both families.
 *
 * MANIFEST (env LABCTL_MANIFEST, read by the agent) — one entry per node, entries separated by spaces:
 *     NODE|PID|FIELD|FIELD…
 *   i:FD             the ICMP socket                  i!ERRNO            why it could not be opened
 *   t:RANGES         unused TCP client sockets        t!ERRNO            why the last one could not be opened
 *   u:RANGES         unused UDP client sockets        u!ERRNO
 *   lPROTO/WANT:PORT@FD  a bound listener (TCP already listening)   lPROTO/WANT!ERRNO  why it has none
 *   I:FD / I!ERRNO   the ICMPv6 socket, or why not   T:RANGES / T!ERRNO, U:RANGES / U!ERRNO  AF_INET6 client sockets
 *   lPROTO6/WANT:PORT@FD  a dual-stack (AF_INET6) listener; its WANT key is the same as the IPv4 one's
 *   e:TEXT           any other error of that step
 *   RANGES are descriptors and runs of them: "5-40,43".
 *
 * This module imports nothing: the agent loads it at start.
 */

export interface StepNeeds {
  node: string;
  pid: number;
  icmp: boolean;
  tcp?: number;
  udp?: number;
  listen?: { proto: 'tcp' | 'udp'; port: number; tries?: number }[];
  /** IPv6: a datagram ICMPv6 socket, AF_INET6 client sockets, dual-stack listeners */
  icmp6?: boolean;
  tcp6?: number;
  udp6?: number;
  dual?: boolean;
}

const MAX_TRIES = 64;

/** One STEP argument. */
export function formatStep(n: StepNeeds): string {
  const ls = (n.listen ?? [])
    .map((l) => `${l.proto}/${l.port}+${Math.max(0, Math.min(MAX_TRIES, l.tries ?? 0))}`)
    .join(',');
  const base = [n.node, String(n.pid), n.icmp ? '1' : '0', String(n.tcp ?? 0), String(n.udp ?? 0), ls];
  if (n.icmp6 || n.tcp6 || n.udp6 || n.dual)
    base.push(n.icmp6 ? '1' : '0', String(n.tcp6 ?? 0), String(n.udp6 ?? 0), n.dual ? '1' : '0');
  return base.join('|');
}

export interface ManifestListener {
  proto: 'tcp' | 'udp';
  want: number;
  port?: number;
  fd?: number;
  code?: string;
  /** an AF_INET6 socket bound to :: (dual-stack: answers IPv4 too) */
  v6?: boolean;
}

export interface ManifestNode {
  node: string;
  pid: number;
  icmpFd?: number;
  icmp6Fd?: number;
  tcp: number[];
  udp: number[];
  tcp6: number[];
  udp6: number[];
  listeners: ManifestListener[];
  errors: string[];
}

/** "5-7,9" → [5, 6, 7, 9] (bounded). */
export function parseRanges(s: string): number[] {
  const out: number[] = [];
  for (const part of s.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) continue;
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    for (let fd = a; fd <= b && out.length < 1_000_000; fd++) out.push(fd);
  }
  return out;
}

const FIELDS: [RegExp, (n: ManifestNode, m: RegExpExecArray) => void][] = [
  [/^i:(\d+)$/, (n, m) => (n.icmpFd = Number(m[1]))],
  [/^i!(\S+)$/, (n, m) => n.errors.push(`icmp: ${m[1]}`)],
  [/^([tu]):([\d,-]*)$/, (n, m) => (m[1] === 't' ? n.tcp : n.udp).push(...parseRanges(m[2]!))],
  [/^([tu])!(\S+)$/, (n, m) => n.errors.push(`${m[1] === 't' ? 'tcp' : 'udp'}: ${m[2]}`)],
  [/^I:(\d+)$/, (n, m) => (n.icmp6Fd = Number(m[1]))],
  [/^I!(\S+)$/, (n, m) => n.errors.push(`icmp6: ${m[1]}`)],
  [/^([TU]):([\d,-]*)$/, (n, m) => (m[1] === 'T' ? n.tcp6 : n.udp6).push(...parseRanges(m[2]!))],
  [/^([TU])!(\S+)$/, (n, m) => n.errors.push(`${m[1] === 'T' ? 'tcp6' : 'udp6'}: ${m[2]}`)],
  [
    /^l(tcp|udp)(6?)\/(\d+):(\d+)@(\d+)$/,
    (n, m) =>
      n.listeners.push({
        proto: m[1] as 'tcp' | 'udp',
        want: Number(m[3]),
        port: Number(m[4]),
        fd: Number(m[5]),
        ...(m[2] ? { v6: true } : {}),
      }),
  ],
  [
    /^l(tcp|udp)\/(\d+)!(\S+)$/,
    (n, m) => n.listeners.push({ proto: m[1] as 'tcp' | 'udp', want: Number(m[2]), code: m[3]! }),
  ],
  [/^e:(.*)$/, (n, m) => n.errors.push(m[1]!)],
];

/** LABCTL_MANIFEST → one entry per node; unknown fields are ignored. */
export function parseManifest(text: string): ManifestNode[] {
  const out: ManifestNode[] = [];
  for (const entry of text.trim().split(/\s+/)) {
    if (!entry) continue;
    const [node = '', pid = '0', ...fields] = entry.split('|');
    const n: ManifestNode = {
      node,
      pid: Number(pid),
      tcp: [],
      udp: [],
      tcp6: [],
      udp6: [],
      listeners: [],
      errors: [],
    };
    for (const f of fields) {
      for (const [re, apply] of FIELDS) {
        const m = re.exec(f);
        if (m) {
          apply(n, m);
          break;
        }
      }
    }
    out.push(n);
  }
  return out;
}
