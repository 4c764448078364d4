/**
 * The probe agent over IPv6 on a real lab (test/fixtures/dataplane/v6p-agent.yml: a and b on one switch), in both
 * modes: ICMPv6 through the datagram ICMPv6 socket (and the `ping -6` fallback), UDP and TCP over AF_INET6 sockets,
 * and the doctor's dual-stack listeners on :: answering IPv4 and IPv6 on one port. The test itself gives the nodes
 * their IPv6 addresses (ip -6 addr add … nodad inside each netns), so only the agent is under test here; the doctor
 * over a lab file with IPv6 is test/integration/doctor-ipv6.test.ts.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProbeFleet } from '../../src/probe/fleet.js';
import { buildOnce, containerPid, daemonsUp, labctl, ROOT, sh } from '../helpers/labctl.js';

const LAB = join(ROOT, 'test', 'fixtures', 'dataplane', 'v6p-agent.yml');
const B4 = '10.86.0.20';
const A6 = 'fd00:86::10';
const B6 = 'fd00:86::20';
/** an address of the subnet nobody owns: neighbour discovery never completes */
const nobody6 = (n: number) => `fd00:86::${(0x200 + n).toString(16)}`;

let ready = false;
let pidA = 0;
let pidB = 0;

const inNs = (pid: number, args: string[]) => sh('nsenter', ['-t', String(pid), '-n', ...args]);

/** Turn IPv6 on for the node's lab interface (and lo) and give it `addr`, without DAD or router advertisements. */
async function giveV6(pid: number, addr: string): Promise<void> {
  const links = await inNs(pid, ['ip', '-o', 'link', 'show']);
  const dev = /^\d+:\s+(eth\d+)[@:]/m.exec(links)?.[1];
  if (!dev) throw new Error(`no lab interface in netns of ${pid}:\n${links}`);
  for (const k of ['all', 'default', 'lo', dev]) {
    await inNs(pid, ['sysctl', '-qw', `net.ipv6.conf.${k}.accept_ra=0`]);
    await inNs(pid, ['sysctl', '-qw', `net.ipv6.conf.${k}.disable_ipv6=0`]);
  }
  await inNs(pid, ['ip', '-6', 'addr', 'add', `${addr}/64`, 'dev', dev, 'nodad']);
}

beforeAll(async () => {
  await buildOnce();
  ready = await daemonsUp();
  if (!ready) return;
  await labctl(['down', '-f', LAB]);
  const r = await labctl(['up', '-f', LAB]);
  if (r.exitCode !== 0) throw new Error(`labctl up -f v6p-agent.yml failed (${r.exitCode}):\n${r.stderr}`);
  pidA = await containerPid('labctl.v6p-agent.a');
  pidB = await containerPid('labctl.v6p-agent.b');
  await giveV6(pidA, A6);
  await giveV6(pidB, B6);
}, 300_000);

afterAll(async () => {
  await labctl(['down', '-f', LAB]);
}, 180_000);

for (const [m, mode] of (['broker', 'local'] as const).entries()) {
  describe(`${mode} mode over IPv6`, () => {
    it('ICMPv6, UDP and TCP over IPv6 pass; refused and timeout classify; the listeners answer both families', async (t) => {
      if (!ready) return t.skip();
      const fleet = await ProbeFleet.start(
        [
          { node: 'a', pid: pidA, tcp: 4, udp: 4, tcp6: 6, udp6: 6, v6: true },
          {
            node: 'b',
            pid: pidB,
            v6: true,
            listen: [
              { proto: 'tcp', port: 47200 },
              { proto: 'udp', port: 47200 },
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
        expect(a.errors).toEqual([]);
        expect(a.icmp).toBe('socket');
        expect(a.icmp6).toBe('socket');
        expect(b.listener('tcp', 47200)).toMatchObject({ port: 47200 });
        expect(b.listener('udp', 47200)).toMatchObject({ port: 47200 });
        if (mode === 'broker') {
          expect(a.capacity('tcp6')).toBe(6);
          expect(a.capacity('udp6')).toBe(6);
        }
        const ms = 1500;
        const before = await a.counters();
        const [tcp6, udp6, icmp6, big6, pinged6, tcp4, udp4, icmp4, rst6, portUnreach6, silent6] =
          await Promise.all([
            a.probe({ proto: 'tcp', ip: B6, port: 47200, token: 'tok-tcp6', timeoutMs: ms }),
            a.probe({ proto: 'udp', ip: B6, port: 47200, token: 'tok-udp6', timeoutMs: ms }),
            a.probe({ proto: 'icmp', ip: B6, token: 'tok-icmp6', timeoutMs: ms }),
            // MTU 1500 − 40 (IPv6 header) − 8 (ICMPv6 header): a packet that fills the link exactly
            a.probe({ proto: 'icmp', ip: B6, token: 'tok-big6', timeoutMs: ms, size: 1452, df: true }),
            a.probe({ proto: 'icmp', ip: B6, timeoutMs: ms, ownSocket: true }),
            a.probe({ proto: 'tcp', ip: B4, port: 47200, token: 'tok-tcp4', timeoutMs: ms }),
            a.probe({ proto: 'udp', ip: B4, port: 47200, token: 'tok-udp4', timeoutMs: ms }),
            a.probe({ proto: 'icmp', ip: B4, token: 'tok-icmp4', timeoutMs: ms }),
            a.probe({ proto: 'tcp', ip: B6, port: 47201, token: 'x', timeoutMs: ms }),
            a.probe({ proto: 'udp', ip: B6, port: 47201, token: 'x', timeoutMs: ms }),
            a.probe({ proto: 'udp', ip: nobody6(m), port: 47200, token: 'x', timeoutMs: 600 }),
          ]);
        expect(tcp6).toMatchObject({ outcome: 'pass', stage: 'token', from: `[${B6}]:47200` });
        expect(udp6).toMatchObject({ outcome: 'pass', from: `[${B6}]:47200` });
        expect(icmp6).toMatchObject({ outcome: 'pass', from: B6 });
        expect(big6.outcome).toBe('pass');
        // the `ping -6` fallback (a probe that needs an ICMP identifier of its own)
        expect(pinged6).toMatchObject({ outcome: 'pass' });
        // the same dual-stack listeners answer IPv4 as before
        expect(tcp4).toMatchObject({ outcome: 'pass', stage: 'token', from: `${B4}:47200` });
        expect(udp4).toMatchObject({ outcome: 'pass', from: `${B4}:47200` });
        expect(icmp4).toMatchObject({ outcome: 'pass', from: B4 });
        expect(rst6).toMatchObject({ outcome: 'refused', stage: 'connect', code: 'ECONNREFUSED' });
        expect(portUnreach6).toMatchObject({ outcome: 'refused', code: 'ECONNREFUSED' });
        expect(silent6.outcome).toBe('timeout');
        expect(silent6.sent).toBe(3);
        // the agent reads snmp6: its echo requests and replies moved with the ICMPv6 probes (at least the two
        // socket pings and the ping -6, each answered)
        const after = await a.counters();
        expect(after!.Udp6InCsumErrors).toBeDefined();
        expect(after!.Icmp6InEchoReplies! - before!.Icmp6InEchoReplies!).toBeGreaterThanOrEqual(3);
        // independently: the kernel lists b's doctor listeners as IPv6 sockets on :: (one port, both families)
        const ss = await inNs(pidB, ['ss', '-lntuH']);
        expect(ss).toMatch(/\[::\]:47200|\*:47200/);
      } finally {
        await fleet.stop();
      }
    });
  });
}
