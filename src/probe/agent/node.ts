/** The agent's per-node state: one per network namespace it probes from and listens in. */
import type dgram from 'node:dgram';
import type { ListenerState } from '../protocol.js';

export const MAX_TOKEN = 512;

export function clampInt(n: number, lo: number, hi: number): number {
  if (!Number.isFinite(n)) return lo;
  return Math.min(hi, Math.max(lo, Math.round(n)));
}

export const now = () => performance.now();
export const round = (ms: number) => Math.round(ms * 100) / 100;

export interface IcmpPending {
  payload: Buffer;
  onReply: (from: string) => void;
}

export interface Ctx {
  node: string;
  /** netns owner: the container's PID (broker) or our own (local) */
  pid: number;
  local: boolean;
  icmp?: dgram.Socket;
  /** the datagram ICMPv6 socket (echo request 128, reply 129) */
  icmp6?: dgram.Socket;
  icmpSeq: number;
  icmpPending: Map<number, IcmpPending>;
  icmp6Pending: Map<number, IcmpPending>;
  /** broker mode: unused client sockets opened in this node's netns (…6: AF_INET6) */
  tcpFds?: number[];
  udpFds?: number[];
  tcp6Fds?: number[];
  udp6Fds?: number[];
  listeners: Map<string, { state: ListenerState; close(): void }>;
  errors: string[];
  running: number;
  queue: (() => void)[];
}

export function newCtx(node: string, pid: number, local: boolean): Ctx {
  return {
    node,
    pid,
    local,
    icmpSeq: 0,
    icmpPending: new Map(),
    icmp6Pending: new Map(),
    listeners: new Map(),
    errors: [],
    running: 0,
    queue: [],
  };
}
