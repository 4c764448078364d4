/**
 * The impairment relay: labctl's own user-space link shaper (docs/impairments.md). This host's kernel has no
 * sch_netem, so an impaired interface is wired
 *
 *   container ethN ═ veth ═ lv… ⇄ [relay] ⇄ lw… ═ veth ═ lb… ─ br-int (iface-id)
 *
 * and one relay process per interface copies frames between lv… (the container's host end) and lw… with AF_PACKET
 * raw sockets, delaying, dropping and rate-limiting the node's egress (and, with direction both, the switch→node
 * side too). The relay is perl (Debian's perl, with Socket and Time::HiRes, is on every host; node has no AF_PACKET).
 *
 * Its state lives in the lab's state directory: relays/<lv…>.pid (written by the relay itself) and
 * relays/<lv…>.params (key=value lines). SIGHUP makes the relay re-read its params; SIGTERM stops it.
 */
import { spawn } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { which } from '../exec.js';
import { assertArg } from '../names.js';
import { perlScriptPath } from '../perl/scripts.js';

/** What a relay applies; numbers in ms, %, bit/s (0 = none). */
export interface RelayParams {
  delayMs: number;
  jitterMs: number;
  lossPct: number;
  rateBps: number;
  direction: 'egress' | 'both';
  /** frames queued per direction before new ones are dropped (netem's limit) */
  limit: number;
}

export const RELAY_LIMIT = 1000;

/** The relay's process title prefix ($0), so a pid from the pidfile is checked to be ours before it is signalled. */
export const RELAY_TITLE = 'labctl-relay';

export const VETH_RE = /^l[a-z][0-9a-f]{13}$/;

/**
 * The relay. argv: lab, A (node side, lv…), B (switch side, lw…), params file, pidfile. Frames read on A go out on
 * B through the egress shaper; frames read on B go out on A, shaped only with direction=both. Each direction has a
 * queue ordered by release time (bounded: a frame that finds it full is dropped), a loss draw, a delay of
 * delay ± jitter (uniform, as netem without a distribution table) and, with a rate, serialisation at that rate
 * (frame bits / rate, one frame after the other). The relay exits when either device disappears.
 * Linux UAPI constants: PF_PACKET 17, SOCK_RAW 3, ETH_P_ALL 0x0003 (network order), SOL_PACKET 263,
 * PACKET_IGNORE_OUTGOING 23, PACKET_ADD_MEMBERSHIP 1 with PACKET_MR_PROMISC 1, SOL_SOCKET 1, SO_RCVBUF(FORCE) 8/33,
 * SO_SNDBUF 7, MSG_DONTWAIT 0x40.
 */
// The relay is src/perl/relay.pl (perlScriptPath).

export function formatParams(p: RelayParams): string {
  return [
    `delay_ms=${p.delayMs}`,
    `jitter_ms=${p.jitterMs}`,
    `loss_pct=${p.lossPct}`,
    `rate_bps=${p.rateBps}`,
    `direction=${p.direction}`,
    `limit=${p.limit}`,
    '',
  ].join('\n');
}

export function parseParams(text: string): RelayParams | undefined {
  const kv = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^(\w+)=(\S*)$/.exec(line.trim());
    if (m) kv.set(m[1]!, m[2]!);
  }
  const num = (k: string) => {
    const v = Number(kv.get(k));
    return Number.isFinite(v) ? v : undefined;
  };
  const [delayMs, jitterMs, lossPct, rateBps, limit] = [
    num('delay_ms'),
    num('jitter_ms'),
    num('loss_pct'),
    num('rate_bps'),
    num('limit'),
  ];
  const direction = kv.get('direction');
  if (
    delayMs === undefined ||
    jitterMs === undefined ||
    lossPct === undefined ||
    rateBps === undefined ||
    limit === undefined ||
    (direction !== 'egress' && direction !== 'both')
  )
    return undefined;
  return { delayMs, jitterMs, lossPct, rateBps, direction, limit };
}

export function sameParams(a: RelayParams, b: RelayParams): boolean {
  return (
    a.delayMs === b.delayMs &&
    a.jitterMs === b.jitterMs &&
    a.lossPct === b.lossPct &&
    a.rateBps === b.rateBps &&
    a.direction === b.direction &&
    a.limit === b.limit
  );
}

/** What observe reads of one interface's relay. */
export interface RelayState {
  /** the node-side host end the relay serves (lv…): the key */
  hostVeth: string;
  /** the pid in the pidfile, when that process is alive and is this relay */
  pid?: number;
  /** a pidfile exists (alive or not) */
  pidfile: boolean;
  params?: RelayParams;
}

export interface RelayDriver {
  /** Every relay of the lab found in its state directory (pidfile or params file), alive or not. */
  list(lab: string): RelayState[];
  /** Write the params and start the relay detached; resolves once its pidfile is written (or throws). */
  start(lab: string, nodeSide: string, switchSide: string, params: RelayParams): Promise<number>;
  /** Write new params and SIGHUP the running relay (no restart). */
  update(lab: string, nodeSide: string, params: RelayParams): void;
  /** Stop the relay (SIGTERM, then SIGKILL) found by pidfile, and remove its files. */
  stop(lab: string, nodeSide: string): Promise<void>;
}

/** Is `pid` alive and a relay of this lab serving `nodeSide`? (/proc cmdline is the title the relay set) */
export function isRelay(pid: number, lab: string, nodeSide: string): boolean {
  try {
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
    return cmd.startsWith(`${RELAY_TITLE} ${lab} ${nodeSide} `);
  } catch {
    return false;
  }
}

function readPid(file: string): number | undefined {
  try {
    const n = Number.parseInt(readFileSync(file, 'utf8').trim(), 10);
    return Number.isInteger(n) && n > 1 ? n : undefined;
  } catch {
    return undefined;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The relays of labs on this host, with their files under `<labDir>/relays/`. */
export function localRelays(labDir: (lab: string) => string): RelayDriver {
  const dir = (lab: string) => join(labDir(lab), 'relays');
  const files = (lab: string, v: string) => {
    assertArg(v, 'relay device', VETH_RE);
    const d = dir(lab);
    return { dir: d, pid: join(d, `${v}.pid`), params: join(d, `${v}.params`), log: join(d, `${v}.log`) };
  };
  const writeParams = (file: string, p: RelayParams) => {
    const tmp = `${file}.${process.pid}`;
    writeFileSync(tmp, formatParams(p));
    renameSync(tmp, file);
  };
  return {
    list(lab) {
      const d = dir(lab);
      if (!existsSync(d)) return [];
      const names = new Set<string>();
      for (const f of readdirSync(d)) {
        const m = /^(l[a-z][0-9a-f]{13})\.(pid|params)$/.exec(f);
        if (m) names.add(m[1]!);
      }
      return [...names].sort().map((v) => {
        const f = files(lab, v);
        const pid = readPid(f.pid);
        const s: RelayState = { hostVeth: v, pidfile: existsSync(f.pid) };
        if (pid !== undefined && isRelay(pid, lab, v)) s.pid = pid;
        try {
          const p = parseParams(readFileSync(f.params, 'utf8'));
          if (p) s.params = p;
        } catch {
          // no params file
        }
        return s;
      });
    },
    async start(lab, nodeSide, switchSide, params) {
      assertArg(switchSide, 'relay device', VETH_RE);
      const f = files(lab, nodeSide);
      mkdirSync(f.dir, { recursive: true });
      rmSync(f.pid, { force: true });
      writeParams(f.params, params);
      const perl = which('perl');
      if (!perl)
        throw new Error('perl is not installed (the impairment relay runs on perl): apt-get install perl');
      const log = openSync(f.log, 'a');
      try {
        const child = spawn(perl, [perlScriptPath('relay'), lab, nodeSide, switchSide, f.params, f.pid], {
          detached: true,
          stdio: ['ignore', 'ignore', log],
        });
        child.unref();
        let exited: number | null = null;
        child.on('exit', (code) => {
          exited = code ?? -1;
        });
        // The relay writes its pidfile once both sockets are bound; wait for that (bounded).
        for (let i = 0; i < 100; i++) {
          const pid = readPid(f.pid);
          if (pid !== undefined) return pid;
          if (exited !== null) break;
          await sleep(20);
        }
        const why = readLogTail(f.log);
        throw new Error(
          `the impairment relay for ${nodeSide} ⇄ ${switchSide} did not start${exited !== null ? ` (exit ${exited})` : ' within 2 s'}${why ? `: ${why}` : ''}`,
        );
      } finally {
        closeSync(log);
      }
    },
    update(lab, nodeSide, params) {
      const f = files(lab, nodeSide);
      mkdirSync(f.dir, { recursive: true });
      writeParams(f.params, params);
      const pid = readPid(f.pid);
      if (pid === undefined || !isRelay(pid, lab, nodeSide))
        throw new Error(`the impairment relay of ${nodeSide} is not running (pidfile ${f.pid})`);
      process.kill(pid, 'SIGHUP');
    },
    async stop(lab, nodeSide) {
      const f = files(lab, nodeSide);
      const pid = readPid(f.pid);
      if (pid !== undefined && isRelay(pid, lab, nodeSide)) {
        process.kill(pid, 'SIGTERM');
        for (let i = 0; i < 50 && isRelay(pid, lab, nodeSide); i++) await sleep(20);
        if (isRelay(pid, lab, nodeSide)) process.kill(pid, 'SIGKILL');
        for (let i = 0; i < 50 && isRelay(pid, lab, nodeSide); i++) await sleep(20);
      }
      for (const p of [f.pid, f.params, f.log]) rmSync(p, { force: true });
    },
  };
}

function readLogTail(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-2).join(' | ');
  } catch {
    return '';
  }
}
