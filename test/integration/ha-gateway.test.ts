/**
 * HA gateway failover on the real daemons (docs/multichassis.md "Gateway failover"): examples/ha-gateway brings up
 * three simulated chassis with router edge's gateway port on hv1 (priority 20) and hv2 (priority 10). The test
 * checks what OVN made of it itself — Gateway_Chassis rows in the lab's NB, BFD up on the tunnels of every
 * chassis (each chassis's own OVS), the SB binding of the chassisredirect port — then runs the example's
 * `failover` scenario (hv1 stopped mid-flow, started again) while it watches the SB binding move hv1 → hv2 → hv1
 * and captures the flow's packets with tcpdump at the sender (the echoes) and the receiver (the requests): labctl's
 * reported gap and loss are checked against those independent captures.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildOnce, containerPid, daemonsUp, labctl, ROOT, residue, sh } from '../helpers/labctl.js';

const LAB = 'ha-gateway';
const FILE = join(ROOT, 'examples', 'ha-gateway', 'lab.yml');
const RUN = join(process.env.LABCTL_RUN_DIR ?? '/run/labctl', 'labs', LAB);
const SB = `unix:${RUN}/central/sb.sock`;
const NB = `unix:${RUN}/central/nb.sock`;
const CR = `cr-${LAB}.edge.ext.lrp`;
const ok = await daemonsUp();

interface DoctorJson {
  ok: boolean;
  checks: {
    id: string;
    layer: string;
    subject: string;
    status: string;
    cause?: string;
    followsFrom?: string;
  }[];
}
interface Gap {
  start_ms: number;
  end_ms: number;
  ms: number;
  lost: number;
}
interface FlowJson {
  name: string;
  sent: number;
  received: number;
  lost: number;
  max_gap_ms: number;
  gaps: Gap[];
  error: string | null;
}
interface RunJson {
  ok: boolean;
  error: string | null;
  flows: FlowJson[];
  steps: { step: string; start_ms: number; end_ms: number; ok: boolean; detail: string }[];
}

/** The SB chassis (lab name) the gateway's chassisredirect port is bound to; '' when none. */
async function activeGateway(): Promise<string> {
  const out = await sh('ovn-sbctl', [
    `--db=${SB}`,
    '--timeout=5',
    '--format=json',
    '--data=json',
    '--columns=logical_port,chassis',
    'find',
    'Port_Binding',
    `logical_port="${CR}"`,
    '--',
    '--columns=_uuid,name',
    'list',
    'Chassis',
  ]);
  const [pb, ch] = out
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { data: unknown[][] });
  const uuid = ((pb!.data[0]?.[1] as string[] | undefined) ?? [])[1];
  const name = ch!.data.find(([u]) => (u as string[])[1] === uuid)?.[1] as string | undefined;
  return name ? name.split('.')[0]! : '';
}

/** Geneve tunnel interfaces of a chassis with their BFD config and status (its own OVS database). */
async function tunnelBfd(
  chassis: string,
): Promise<{ name: string; remote: string; bfd: Record<string, string>; status: Record<string, string> }[]> {
  const out = await sh('ovs-vsctl', [
    `--db=unix:${RUN}/${chassis}/db.sock`,
    '--timeout=5',
    '--format=json',
    '--data=json',
    '--columns=name,options,bfd,bfd_status',
    'find',
    'Interface',
    'type=geneve',
  ]);
  type M = ['map', [string, string][]];
  const t = JSON.parse(out) as { data: [string, M, M, M][] };
  return t.data.map(([name, opts, bfd, status]) => ({
    name,
    remote: Object.fromEntries(opts[1]).remote_ip ?? '',
    bfd: Object.fromEntries(bfd[1]),
    status: Object.fromEntries(status[1]),
  }));
}

/** Arrival times (ms) of the packets of one flow at the receiver, from tcpdump's -tt lines. */
function arrivals(lines: string[], match: RegExp): number[] {
  return lines
    .filter((l) => match.test(l))
    .map((l) => Number(l.split(' ')[0]) * 1000)
    .filter((t) => Number.isFinite(t));
}
const maxGap = (ts: number[]) => ts.slice(1).reduce((m, t, i) => Math.max(m, t - ts[i]!), 0);

describe.runIf(ok)('HA gateway: failover between two gateway chassis (examples/ha-gateway)', () => {
  beforeAll(async () => {
    await buildOnce();
    await labctl(['down', '--lab', LAB]);
    const r = await labctl(['up', '-f', FILE]);
    expect(r.exitCode, r.stderr).toBe(0);
  }, 240_000);
  afterAll(async () => {
    await labctl(['down', '--lab', LAB]);
  }, 120_000);

  it('compiles to Gateway_Chassis rows with priorities; BFD is up on every tunnel; hv1 is the active gateway', async () => {
    const gc = JSON.parse(
      await sh('ovn-nbctl', [
        `--db=${NB}`,
        '--format=json',
        '--data=json',
        '--columns=chassis_name,priority,external_ids',
        'list',
        'Gateway_Chassis',
      ]),
    ) as { data: [string, number, ['map', [string, string][]]][] };
    expect(gc.data.map(([c, p, ids]) => [c, p, Object.fromEntries(ids[1])['labctl-lab']]).sort()).toEqual([
      ['hv1.ha-gateway', 20, LAB],
      ['hv2.ha-gateway', 10, LAB],
    ]);
    // OVN turns BFD on for the tunnels between the gateway chassis and towards the chassis that use the gateway;
    // the sessions come up within a few seconds of up
    const bfdUp = async () => {
      for (const ch of ['hv1', 'hv2', 'hv3'])
        for (const x of await tunnelBfd(ch))
          if (x.bfd.enable !== 'true' || x.status.state !== 'up' || x.status.forwarding !== 'true')
            return false;
      return true;
    };
    const deadline = Date.now() + 20_000;
    while (!(await bfdUp()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
    for (const ch of ['hv1', 'hv2', 'hv3']) {
      const t = await tunnelBfd(ch);
      expect(t.length).toBe(2);
      for (const x of t) {
        expect(x.bfd.enable, `${ch} ${x.name}`).toBe('true');
        expect(x.status, `${ch} ${x.name}`).toMatchObject({ state: 'up', forwarding: 'true' });
      }
    }
    expect(await activeGateway()).toBe('hv1');
    const st = JSON.parse((await labctl(['status', '--lab', LAB, '--json'])).stdout);
    expect(st.labs[0].gateways).toEqual([
      {
        router: 'edge',
        network: 'ext',
        port: `${LAB}.edge.ext.lrp`,
        redirect_port: CR,
        chassis: [
          { name: 'hv1', priority: 20 },
          { name: 'hv2', priority: 10 },
        ],
        active: 'hv1',
      },
    ]);
    // a second up changes nothing (every chassis sees only its own nodes' containers)
    const again = await labctl(['up', '-f', FILE]);
    expect(again.stdout + again.stderr).toContain('no changes');
  }, 120_000);

  it('comes up doctor-green: NAT out through the gateway, the public address in', async () => {
    const r = await labctl(['doctor', '-f', FILE, '--json'], { timeoutMs: 240_000 });
    const report = JSON.parse(r.stdout) as DoctorJson;
    expect(report.checks.filter((c) => ['fail', 'error', 'warn'].includes(c.status))).toEqual([]);
    expect(r.exitCode).toBe(0);
    const subjects = report.checks.filter((c) => c.status === 'pass').map((c) => c.subject);
    expect(subjects).toContain('client→outside icmp');
    expect(subjects).toContain('outside→100.64.96.80 tcp/80');
  }, 300_000);

  it('failover: hv1 stops mid-flow, hv2 takes the gateway, the flow recovers; labctl agrees with a capture at the receiver', async () => {
    // the independent measurement, two tcpdump captures taken alongside: in the sender's netns the echoes as they
    // come back (what labctl counts: round trips), in the receiver's the requests as they arrive (source-translated
    // to the snat address on the gateway chassis)
    const pids = {
      client: await containerPid(`labctl.${LAB}.client`),
      outside: await containerPid(`labctl.${LAB}.outside`),
    };
    const capture = (node: keyof typeof pids, filter: string) =>
      execa(
        'nsenter',
        ['-t', String(pids[node]), '-n', 'tcpdump', '-i', 'eth1', '-n', '-tt', '-l', '-Q', 'in', filter],
        { reject: false, timeout: 120_000 },
      );
    const atSender = capture(
      'client',
      'src host 100.64.96.10 and (icmp[icmptype] == icmp-echoreply or udp src port 7001)',
    );
    const atReceiver = capture(
      'outside',
      'src host 100.64.96.100 and (icmp[icmptype] == icmp-echo or udp dst port 7001)',
    );
    // and the SB's view of the active gateway, polled alongside (bounded by the run)
    const seen: string[] = [];
    const bfdDownOnHv2: string[] = [];
    let polling = true;
    const poller = (async () => {
      const deadline = Date.now() + 90_000;
      while (polling && Date.now() < deadline) {
        const a = await activeGateway().catch(() => '?');
        if (seen[seen.length - 1] !== a) seen.push(a);
        for (const t of await tunnelBfd('hv2').catch(() => []))
          if (t.remote === '172.31.254.1' && t.status.state && t.status.state !== 'up')
            bfdDownOnHv2.push(t.status.state);
        await new Promise((r) => setTimeout(r, 200));
      }
    })();
    await new Promise((r) => setTimeout(r, 1000)); // tcpdump is listening
    const run = await labctl(['run', 'failover', '-f', FILE, '--json'], { timeoutMs: 120_000 });
    polling = false;
    await poller;
    await new Promise((r) => setTimeout(r, 500));
    atSender.kill('SIGINT');
    atReceiver.kill('SIGINT');
    const [back, there] = await Promise.all([atSender, atReceiver]);
    expect(run.exitCode, run.stderr).toBe(0);
    const rep = JSON.parse(run.stdout) as RunJson;
    expect(rep.ok).toBe(true);
    expect(rep.steps.map((s) => [s.step, s.ok])).toEqual([
      ['wait 2 s', true],
      ['chassis stop hv1', true],
      ['wait 6 s', true],
      ['chassis start hv1', true],
      ['wait 5 s', true],
    ]);

    // the active gateway moved to the standby and back (OVN preempts: hv1 has the higher priority)
    expect(seen.filter((s) => s !== '' && s !== '?')).toEqual(['hv1', 'hv2', 'hv1']);
    // hv2 saw hv1's BFD session go down
    expect(bfdDownOnHv2.length).toBeGreaterThan(0);

    const stop = rep.steps[1]!;
    const backLines = String(back.stdout).split('\n');
    const thereLines = String(there.stdout).split('\n');
    for (const [flow, echo, request] of [
      ['ping', /ICMP echo reply/, /ICMP echo request/],
      // (tcpdump decodes port 7001 as AFS rx: match the addresses, not the protocol text)
      ['dgram', /100\.64\.96\.10\.7001 > /, /> 100\.64\.96\.10\.7001: /],
    ] as const) {
      const f = rep.flows.find((x) => x.name === flow)!;
      expect(f.error).toBeNull();
      // the outage: one gap that starts at the stop step and ends after it (hv2 took over)
      const outage = f.gaps.find((g) => g.start_ms >= stop.start_ms - 300 && g.start_ms <= stop.end_ms + 300);
      expect(outage, JSON.stringify(f.gaps)).toBeDefined();
      expect(outage!.ms).toBeGreaterThan(500);
      expect(outage!.ms).toBeLessThan(6000);
      expect(f.max_gap_ms).toBeLessThan(6000);
      // the flow recovered: it delivered again after the outage, and lost nothing outside its gaps
      expect(f.received).toBeGreaterThan(f.sent / 2);
      expect(f.lost - f.gaps.reduce((a, g) => a + g.lost, 0), JSON.stringify(f)).toBeLessThanOrEqual(5);

      // independent, at the sender: the echoes the kernel saw come back
      const echoes = arrivals(backLines, echo);
      expect(echoes.length, String(back.stderr)).toBeGreaterThan(f.sent / 2);
      // the longest silence is the one labctl reports (one send interval is 50 ms)
      expect(
        Math.abs(maxGap(echoes) - f.max_gap_ms),
        `${flow}: capture ${maxGap(echoes)} ms`,
      ).toBeLessThanOrEqual(300);
      // labctl's received (and so its lost) is what came back
      expect(
        Math.abs(echoes.length - f.received),
        `${flow}: ${echoes.length} echoes captured`,
      ).toBeLessThanOrEqual(3);
      // at the receiver: every echo had a request that arrived; the requests stopped for (at most) as long
      const requests = arrivals(thereLines, request);
      expect(requests.length, String(there.stderr)).toBeGreaterThanOrEqual(f.received - 3);
      expect(maxGap(requests), `${flow}: requests ${maxGap(requests)} ms`).toBeLessThanOrEqual(
        f.max_gap_ms + 300,
      );
      expect(maxGap(requests)).toBeGreaterThan(500);
    }
    // hv1 is back and active again
    expect(await activeGateway()).toBe('hv1');
  }, 180_000);

  it("doctor --fix repairs a node's host side inside its chassis namespace (link-down, link-missing)", async () => {
    const ns = `labctl.${LAB}.hv3`;
    const hostEnd = (node: string) =>
      sh('ovs-vsctl', [
        `--db=unix:${RUN}/hv3/db.sock`,
        '--bare',
        '--columns=name',
        'find',
        'Interface',
        `external_ids:iface-id=${LAB}.${node}.eth1`,
      ]);
    const web = await hostEnd('web');
    expect(web).toMatch(/^lv[0-9a-f]{13}$/);
    // web's host end down, client's veth pair gone: both inside hv3's namespace, nothing on this host's
    await sh('ip', ['-n', ns, 'link', 'set', 'dev', web, 'down']);
    await sh('ip', ['-n', ns, 'link', 'del', 'dev', await hostEnd('client')]);
    const before = JSON.parse(
      (await labctl(['doctor', '--lab', LAB, '--json'], { timeoutMs: 240_000 })).stdout,
    ) as DoctorJson;
    const roots = before.checks.filter(
      (c) => (c.status === 'fail' || c.status === 'error') && !c.followsFrom,
    );
    expect(roots.map((c) => [c.id, c.subject, c.cause]).sort()).toEqual([
      ['wiring.veth', 'client.eth1', 'link-missing'],
      ['wiring.veth', 'web.eth1', 'link-down'],
    ]);
    const f = await labctl(['doctor', '--lab', LAB, '--fix', '--json'], { timeoutMs: 300_000 });
    const after = JSON.parse(f.stdout) as DoctorJson & { fixes: { subject: string; changed?: string }[] };
    expect(f.exitCode, JSON.stringify(after.checks.filter((c) => c.status !== 'pass'))).toBe(0);
    expect(JSON.stringify(after.fixes)).toContain(`set ${web} up in chassis hv3`);
    // repaired where they are: web's host end is up again in hv3's namespace, client's pair is back in it
    const links = JSON.parse(await sh('ip', ['-n', ns, '-j', 'link', 'show'])) as {
      ifname: string;
      flags: string[];
    }[];
    expect(links.find((l) => l.ifname === web)?.flags).toContain('UP');
    expect(links.map((l) => l.ifname)).toContain(await hostEnd('client'));
  }, 300_000);

  it("a moved NAT address and conntrack flush act on the gateway chassis's own datapath", async () => {
    const hv1 = async () =>
      sh('ovs-appctl', ['-t', `${RUN}/hv1/ovs-vswitchd.ctl`, 'dpctl/dump-conntrack'], 10_000);
    const outside = await containerPid(`labctl.${LAB}.outside`);
    const ping = (ip: string) =>
      sh('nsenter', ['-t', String(outside), '-n', 'ping', '-c', '3', '-i', '0.2', '-W', '2', '-n', ip]);
    // traffic to web's public address: DNAT on the active gateway, hv1, which keeps the conntrack entries
    expect(await ping('100.64.96.80')).toContain('3 received');
    expect(await hv1()).toContain('100.64.96.80');
    // up with web's public address moved: the old one's entries are flushed on every chassis's datapath
    const dir = mkdtempSync(join(tmpdir(), 'ha-gw-'));
    try {
      const moved = join(dir, 'lab.yml');
      writeFileSync(moved, readFileSync(FILE, 'utf8').replaceAll('100.64.96.80', '100.64.96.81'));
      const up = await labctl(['up', '-f', moved]);
      expect(up.exitCode, up.stderr).toBe(0);
      expect(up.stdout).toContain('flush conntrack of 100.64.96.80');
      expect(await hv1()).not.toContain('100.64.96.80');
      // labctl conntrack flush --address: the chassis's datapath too
      expect(await ping('100.64.96.81')).toContain('3 received');
      expect(await hv1()).toContain('100.64.96.81');
      const f = await labctl(['conntrack', 'flush', '--lab', LAB, '--address', '100.64.96.81']);
      expect(f.exitCode, f.stderr).toBe(0);
      expect(f.stdout).toContain('flushed conntrack entries to and from 100.64.96.81 on chassis hv1');
      expect(await hv1()).not.toContain('100.64.96.81');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it('down leaves nothing of the lab', async () => {
    const d = await labctl(['down', '-f', FILE]);
    expect(d.exitCode).toBe(0);
    const netns = JSON.parse((await sh('ip', ['-j', 'netns', 'list'])) || '[]') as { name: string }[];
    expect(netns.filter((n) => n.name.startsWith(`labctl.${LAB}`))).toEqual([]);
    expect(existsSync(RUN)).toBe(false);
    expect(await residue(LAB)).toMatchObject({ containers: [], ovs: 0, links: [], nb: 0, state: false });
  }, 120_000);
});
