/**
 * The probe agent and its client on a real lab (test/fixtures/dataplane/agent.yml: a and b on one switch, no
 * router), in both modes: broker (one process, sockets opened per netns by the launcher) and local (one agent per
 * node inside its netns). Behaviour only: classification, listeners, counters, bounds and clean exits. Nothing
 * here is timed except as a lower bound a bound implies.
 */
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProbeFleet } from '../../src/probe/fleet.js';
import { agentScriptPath, startAgent } from '../../src/probe/launch.js';
import type { ProbeResult } from '../../src/probe/protocol.js';
import { buildOnce, containerPid, daemonsUp, labctl, ROOT, startEchoServer } from '../helpers/labctl.js';

const LAB = join(ROOT, 'test', 'fixtures', 'dataplane', 'agent.yml');
const B = '10.83.0.20';
/**
 * Addresses in the lab's subnet owned by nobody: dropped, never answered. Each test uses its own, because once the
 * kernel's neighbour entry for one has failed (3 s of unanswered ARP) a later connect gets EHOSTUNREACH at once.
 */
const nobody = (n: number) => `10.83.0.${200 + n}`;
const NO_ROUTE = '10.84.0.1'; // no route in a lab without a router: the kernel refuses to send

let ready = false;
let pidA = 0;
let pidB = 0;

beforeAll(async () => {
  await buildOnce();
  ready = await daemonsUp();
  if (!ready) return;
  await labctl(['down', '-f', LAB]);
  const r = await labctl(['up', '-f', LAB]);
  if (r.exitCode !== 0) throw new Error(`labctl up -f agent.yml failed (${r.exitCode}):\n${r.stderr}`);
  pidA = await containerPid('labctl.dp-agent.a');
  pidB = await containerPid('labctl.dp-agent.b');
}, 300_000);

afterAll(async () => {
  await labctl(['down', '-f', LAB]);
}, 180_000);

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

for (const [m, mode] of (['broker', 'local'] as const).entries()) {
  const NOBODY = nobody(10 * m);
  const NOBODY2 = nobody(10 * m + 1);
  describe(`${mode} mode`, () => {
    it('classifies pass, refused, timeout, unreachable and mismatch, for TCP, UDP and ICMP', async (t) => {
      if (!ready) return t.skip();
      const stopEcho = await startEchoServer(pidB, 47555); // a foreign program: answers "pong:<data>", not the token
      const fleet = await ProbeFleet.start(
        [
          { node: 'a', pid: pidA, tcp: 8, udp: 8 },
          {
            node: 'b',
            pid: pidB,
            listen: [
              { proto: 'tcp', port: 47100 },
              { proto: 'udp', port: 47100 },
              { proto: 'tcp', port: 47555, tries: 3 },
            ],
          },
        ],
        { mode },
      );
      try {
        expect(fleet.mode).toBe(mode);
        expect([...fleet.failed.keys()]).toEqual([]);
        const a = fleet.endpoints.get('a')!;
        const b = fleet.endpoints.get('b')!;
        expect(a.icmp).toBe('socket');
        // the port the foreign echo server holds is taken: the listener moves up
        expect(b.listener('tcp', 47555)).toMatchObject({ port: 47556 });
        expect(b.listener('tcp', 47100)).toMatchObject({ port: 47100 });

        const probe = (s: Parameters<typeof a.probe>[0]) => a.probe(s);
        const ms = 1000;
        const [
          tcp,
          udp,
          icmp,
          big,
          rst,
          portUnreach,
          tcpTo,
          udpTo,
          icmpTo,
          noRoute,
          icmpNoRoute,
          foreignTcp,
          foreignUdp,
          plainConnect,
        ] = await Promise.all([
          probe({ proto: 'tcp', ip: B, port: 47100, token: 'tok-tcp', timeoutMs: ms }),
          probe({ proto: 'udp', ip: B, port: 47100, token: 'tok-udp', timeoutMs: ms }),
          probe({ proto: 'icmp', ip: B, token: 'tok-icmp', timeoutMs: ms }),
          probe({ proto: 'icmp', ip: B, token: 'tok-big', timeoutMs: ms, size: 1472, df: true }),
          probe({ proto: 'tcp', ip: B, port: 47101, token: 'x', timeoutMs: ms }),
          probe({ proto: 'udp', ip: B, port: 47101, token: 'x', timeoutMs: ms }),
          probe({ proto: 'tcp', ip: NOBODY, port: 47100, token: 'x', timeoutMs: 600 }),
          probe({ proto: 'udp', ip: NOBODY, port: 47100, token: 'x', timeoutMs: 600 }),
          probe({ proto: 'icmp', ip: NOBODY, timeoutMs: 600 }),
          probe({ proto: 'tcp', ip: NO_ROUTE, port: 1, timeoutMs: ms }),
          probe({ proto: 'icmp', ip: NO_ROUTE, timeoutMs: ms }),
          probe({ proto: 'tcp', ip: B, port: 47555, token: 'tok-foreign', timeoutMs: ms }),
          probe({ proto: 'udp', ip: B, port: 47555, token: 'tok-foreign', timeoutMs: ms }),
          probe({ proto: 'tcp', ip: B, port: 47555, timeoutMs: ms }),
        ]);
        const o = (r: ProbeResult) => r.outcome;
        expect(tcp).toMatchObject({ outcome: 'pass', stage: 'token', from: `${B}:47100` });
        expect(udp).toMatchObject({ outcome: 'pass', from: `${B}:47100` });
        expect(icmp).toMatchObject({ outcome: 'pass', from: B });
        expect(o(big)).toBe('pass');
        expect(rst).toMatchObject({
          outcome: 'refused',
          stage: 'connect',
          code: 'ECONNREFUSED',
          from: `${B}:47101`,
        });
        expect(portUnreach).toMatchObject({ outcome: 'refused', code: 'ECONNREFUSED' });
        expect(tcpTo).toMatchObject({ outcome: 'timeout', stage: 'connect' });
        expect(o(udpTo)).toBe('timeout');
        expect(udpTo.sent).toBe(3); // retransmitted within the limit: one lost datagram is not a verdict
        expect(o(icmpTo)).toBe('timeout');
        expect(noRoute).toMatchObject({ outcome: 'unreachable', code: 'ENETUNREACH' });
        expect(o(icmpNoRoute)).toBe('unreachable');
        expect(foreignTcp).toMatchObject({ outcome: 'mismatch', stage: 'token' });
        expect(foreignTcp.detail).toMatch(/pong:tok-foreign/);
        expect(o(foreignUdp)).toBe('mismatch');
        // without a token a TCP probe is a service probe: the handshake is the answer
        expect(plainConnect).toMatchObject({ outcome: 'pass', stage: 'connect' });
        // bad input is "error", never a network verdict
        expect(o(await probe({ proto: 'tcp', ip: 'not-an-ip', port: 1, timeoutMs: ms }))).toBe('error');
        expect(o(await probe({ proto: 'udp', ip: B, port: 70000, timeoutMs: ms }))).toBe('error');
      } finally {
        await fleet.stop();
        stopEcho();
      }
    }, 60_000);

    it('reads the netns counters by nstat name, and they move with the traffic', async (t) => {
      if (!ready) return t.skip();
      const fleet = await ProbeFleet.start(
        [
          { node: 'a', pid: pidA, tcp: 5 },
          { node: 'b', pid: pidB, listen: [{ proto: 'tcp', port: 47200 }] },
        ],
        { mode },
      );
      try {
        const a = fleet.endpoints.get('a')!;
        const before = (await a.counters())!;
        expect(before).toHaveProperty('TcpInCsumErrors');
        expect(before).toHaveProperty('UdpInCsumErrors');
        expect(before).toHaveProperty('TcpActiveOpens');
        const rs = await Promise.all(
          [1, 2, 3].map((i) =>
            a.probe({ proto: 'tcp', ip: B, port: 47200, token: `c${i}`, timeoutMs: 1000 }),
          ),
        );
        expect(rs.map((r) => r.outcome)).toEqual(['pass', 'pass', 'pass']);
        const after = (await a.counters())!;
        expect(after.TcpActiveOpens! - before.TcpActiveOpens!).toBeGreaterThanOrEqual(3);
        // the counters are a's, not the host's: b saw the passive opens
        const b = (await fleet.endpoints.get('b')!.counters())!;
        expect(b.TcpPassiveOpens).toBeGreaterThanOrEqual(3);
      } finally {
        await fleet.stop();
      }
    }, 60_000);

    it('bounds concurrency: with one probe at a time per node, three 300 ms timeouts take three rounds', async (t) => {
      if (!ready) return t.skip();
      const fleet = await ProbeFleet.start([{ node: 'a', pid: pidA, tcp: 3 }], { mode, concurrency: 1 });
      try {
        const a = fleet.endpoints.get('a')!;
        const t0 = performance.now();
        const rs = await Promise.all(
          [1, 2, 3].map(() => a.probe({ proto: 'tcp', ip: NOBODY2, port: 9, timeoutMs: 300 })),
        );
        expect(rs.map((r) => r.outcome)).toEqual(['timeout', 'timeout', 'timeout']);
        expect(performance.now() - t0).toBeGreaterThanOrEqual(850);
      } finally {
        await fleet.stop();
      }
    }, 30_000);

    it('stops cleanly: the process exits and its listeners close', async (t) => {
      if (!ready) return t.skip();
      const fleet = await ProbeFleet.start(
        [
          { node: 'b', pid: pidB, listen: [{ proto: 'tcp', port: 47300 }] },
          { node: 'a', pid: pidA, tcp: 2 },
        ],
        { mode },
      );
      const a = fleet.endpoints.get('a')!;
      expect((await a.probe({ proto: 'tcp', ip: B, port: 47300, token: 's', timeoutMs: 1000 })).outcome).toBe(
        'pass',
      );
      const pids = fleet.agents.map((x) => x.hello!.pid);
      await fleet.stop();
      for (const p of pids) expect(alive(p)).toBe(false);
      // the port is closed now: a fresh probe gets RST
      const other = await ProbeFleet.start([{ node: 'a', pid: pidA, tcp: 1 }], { mode });
      try {
        expect(
          (
            await other.endpoints
              .get('a')!
              .probe({ proto: 'tcp', ip: B, port: 47300, token: 's', timeoutMs: 1000 })
          ).outcome,
        ).toBe('refused');
      } finally {
        await other.stop();
      }
    }, 30_000);
  });
}

describe('broker specifics', () => {
  it('opens exactly the client sockets asked for; ensureCapacity adds more', async (t) => {
    if (!ready) return t.skip();
    const fleet = await ProbeFleet.start(
      [
        { node: 'a', pid: pidA, tcp: 1, udp: 0 },
        { node: 'b', pid: pidB, listen: [{ proto: 'tcp', port: 47400 }] },
      ],
      { mode: 'broker' },
    );
    try {
      const a = fleet.endpoints.get('a')!;
      expect(a.capacity('tcp')).toBe(1);
      const spec = { proto: 'tcp' as const, ip: B, port: 47400, token: 'e', timeoutMs: 1000 };
      expect((await a.probe(spec)).outcome).toBe('pass');
      expect(await a.probe(spec)).toMatchObject({ outcome: 'error', code: 'ENOSOCK' });
      expect(await fleet.ensureCapacity([{ node: 'a', tcp: 2, udp: 1 }])).toEqual([]);
      expect(a.capacity('tcp')).toBe(2);
      expect((await a.probe(spec)).outcome).toBe('pass');
      expect((await a.probe({ proto: 'udp', ip: B, port: 47400, token: 'u', timeoutMs: 500 })).outcome).toBe(
        'refused',
      );
    } finally {
      await fleet.stop();
    }
  }, 30_000);

  it('a step that fails (a PID that is gone) falls back to local agents for that group, or reports the node', async (t) => {
    if (!ready) return t.skip();
    const fleet = await ProbeFleet.start([{ node: 'ghost', pid: 2 ** 22 + 17, tcp: 1 }], {
      mode: 'broker',
      startTimeoutMs: 5000,
    });
    try {
      expect(fleet.endpoints.has('ghost')).toBe(false);
      expect(fleet.failed.get('ghost')?.message).toMatch(/probe agent for ghost/);
      // the broker says why it fell back: nsenter's own complaint about the PID, not a bare timeout
      expect(fleet.brokerFailures).toHaveLength(1);
      expect(fleet.brokerFailures[0]).toMatchObject({ nodes: ['ghost'] });
      expect(fleet.brokerFailures[0]!.error).toMatch(/broker 1 \(ghost\).*nsenter/);
    } finally {
      await fleet.stop();
    }
  }, 30_000);
});

describe('a doctor that dies', () => {
  it('leaves no agent behind: SIGKILL the process holding a broker, the broker exits on its closed stdin', async (t) => {
    if (!ready) return t.skip();
    const client = join(ROOT, 'dist', 'src', 'probe', 'fleet.js');
    const script = `
      const { ProbeFleet } = await import(${JSON.stringify(client)});
      const fleet = await ProbeFleet.start([{ node: 'a', pid: ${pidA}, tcp: 1 }, { node: 'b', pid: ${pidB}, listen: [{ proto: 'tcp', port: 47600 }] }], { mode: 'broker' });
      console.log(JSON.stringify(fleet.agents.map((x) => x.hello.pid)));
      setInterval(() => {}, 1000);
    `;
    const doctor = execa(process.execPath, ['--input-type=module', '-e', script], { reject: false });
    const pids = await new Promise<number[]>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the fleet did not start')), 20_000);
      doctor.stdout!.on('data', (d: Buffer) => {
        clearTimeout(timer);
        resolve(JSON.parse(String(d).trim()) as number[]);
      });
    });
    expect(pids.length).toBeGreaterThan(0);
    for (const p of pids) expect(alive(p)).toBe(true);
    doctor.kill('SIGKILL');
    await doctor;
    const deadline = Date.now() + 5_000;
    while (pids.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(pids.filter(alive)).toEqual([]);
  }, 40_000);
});

describe('local agent process', () => {
  it('exits when its stdin closes (a crashed doctor leaves nothing behind), and after its lifetime', async (t) => {
    if (!ready) return t.skip();
    const child = execa('nsenter', ['-t', String(pidA), '-n', process.execPath, agentScriptPath()], {
      stdin: 'pipe',
      reject: false,
      env: { LABCTL_AGENT: '1', LABCTL_MANIFEST: '' },
    });
    child.stdin!.write(
      '{"id":1,"op":"hello"}\n{"id":2,"op":"listen","proto":"tcp","port":47500}\nnot json\n',
    );
    const lines: string[] = [];
    await new Promise<void>((resolve) => {
      child.stdout!.on('data', (d: Buffer) => {
        lines.push(...String(d).split('\n').filter(Boolean));
        if (lines.length >= 3) resolve();
      });
    });
    const msgs = lines.map((l) => JSON.parse(l) as { id: number; ok: boolean; hello?: { mode: string } });
    expect(msgs.find((m) => m.id === 1)).toMatchObject({ ok: true, hello: { mode: 'local' } });
    expect(msgs.find((m) => m.id === 2)).toMatchObject({ ok: true });
    expect(msgs.find((m) => m.id === -1)).toMatchObject({ ok: false });
    child.stdin!.end();
    const r = await child;
    expect(r.exitCode).toBe(0);

    const short = await execa('nsenter', ['-t', String(pidA), '-n', process.execPath, agentScriptPath()], {
      stdin: 'pipe', // kept open: only the lifetime limit ends it
      reject: false,
      timeout: 20_000,
      env: { LABCTL_AGENT: '1', LABCTL_MANIFEST: '', LABCTL_AGENT_LIFETIME_MS: '1000' },
    });
    expect(short.timedOut).toBe(false);
    expect(short.exitCode).toBe(3);
  }, 40_000);

  it('falls back to ping when no ICMP socket is inherited', async (t) => {
    if (!ready) return t.skip();
    const agent = await startAgent('a', pidA, { icmpSocket: false });
    try {
      expect(agent.hello?.nodes[0]?.icmp).toBe('ping');
      expect((await agent.probe({ proto: 'icmp', ip: B, timeoutMs: 2000 })).outcome).toBe('pass');
      expect(
        (await agent.probe({ proto: 'icmp', ip: B, timeoutMs: 2000, size: 1472, df: true })).outcome,
      ).toBe('pass');
      expect((await agent.probe({ proto: 'icmp', ip: nobody(30), timeoutMs: 1000 })).outcome).toBe('timeout');
    } finally {
      await agent.stop();
    }
  }, 30_000);
});
