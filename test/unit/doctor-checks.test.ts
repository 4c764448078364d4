/**
 * The wiring checks' decisions against fake facts (no daemon): which cause, which evidence, which fix command;
 * the OVS dump parser; the host-row mapping. The same checks run against the real daemons in
 * test/integration/doctor-*.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { FactError, type Facts, type OvsFacts, parseOvsDump } from '../../checks/facts.js';
import { rowToResult } from '../../checks/host-rows.js';
import { CHECKS } from '../../checks/registry.js';
import type { DoctorCheck, DoctorContext } from '../../checks/runner.js';
import { runChecks } from '../../checks/runner.js';
import type { CheckResult } from '../../checks/types.js';
import type { ContainerInfo } from '../../src/drivers/containers.js';
import type { HostLink, NsState } from '../../src/drivers/links.js';
import type { NbLabState, PortBindingState } from '../../src/drivers/ovn.js';
import type { HostReport } from '../../src/host/report.js';
import { parseLab } from '../../src/lab/load.js';
import { compilePlan } from '../../src/plan/compile.js';

const plan = compilePlan(
  parseLab(`name: t
defaults: { image: labctl/node }
networks:
  a: { subnet: 10.9.1.0/24 }
  b: { subnet: 10.9.2.0/24 }
routers:
  r: { links: [a, b] }
nodes:
  web: { interfaces: [{ network: a, ip: 10.9.1.10 }] }
  db: { interfaces: [b] }
`),
);
const iface = (node: string) => plan.nodes.find((n) => n.name === node)!.interfaces[0]!;
const PID: Record<string, number> = { web: 101, db: 102 };

/** A healthy world; tests break one piece. */
function world() {
  const containers = new Map<string, ContainerInfo>(
    plan.nodes.map((n) => [
      n.name,
      {
        id: `id-${n.name}`,
        name: n.container,
        lab: 't',
        node: n.name,
        running: true,
        state: 'running',
        configHash: '',
        image: n.image,
      },
    ]),
  );
  const ns = new Map<string, NsState>(
    plan.nodes.map((n) => [
      n.name,
      {
        links: n.interfaces.map((i) => ({
          name: i.name,
          mac: i.mac,
          mtu: i.mtu,
          up: true,
          operstate: 'UP',
          addrs: [`${i.ip}/${i.prefix}`],
        })),
        routes: n.routes.map((r) => ({ dst: r.dst, via: r.via, dev: r.dev })),
      },
    ]),
  );
  const offload = new Map<string, boolean | undefined>(plan.nodes.map((n) => [`${n.name}.eth1`, false]));
  const hostLinks = new Map<string, HostLink>(
    plan.nodes.flatMap((n) =>
      n.interfaces.map(
        (i) =>
          [i.hostVeth, { name: i.hostVeth, operstate: 'UP', up: true, mtu: i.mtu, peerNetnsId: 1 }] as const,
      ),
    ),
  );
  const ovsRows = plan.nodes.flatMap((n) =>
    n.interfaces.map((i, k) => ({
      uuid: `u-${i.hostVeth}`,
      name: i.hostVeth,
      type: '',
      externalIds: { ...i.ovsExternalIds, 'ovn-installed': 'true' } as Record<string, string>,
      ofport: 10 + k,
      error: '',
      adminState: 'up',
      linkState: 'up',
      bridge: 'br-int',
    })),
  );
  const nb: NbLabState = {
    switches: plan.switches.map((s) => ({
      uuid: `ls-${s.name}`,
      name: s.name,
      externalIds: {},
      otherConfig: {},
      acls: [],
      ports: s.ports.map((p) => `lsp-${p.name}`),
    })),
    ports: plan.switches.flatMap((s) =>
      s.ports.map((p) => ({
        uuid: `lsp-${p.name}`,
        name: p.name,
        type: p.type,
        addresses: [p.addresses],
        options: {},
        externalIds: {},
      })),
    ),
    routers: [],
    routerPorts: [],
    acls: [],
    routes: [],
  } as unknown as NbLabState;
  const bindings = new Map<string, PortBindingState>(
    plan.nodes.flatMap((n) =>
      n.interfaces.map((i) => [i.lsp, { logicalPort: i.lsp, chassis: 'labctl-local', up: true }] as const),
    ),
  );
  return {
    containers,
    ns,
    offload,
    hostLinks,
    ovsRows,
    nb,
    bindings,
    chassis: 'labctl-local' as string | undefined,
    nbError: undefined as Error | undefined,
  };
}
type World = ReturnType<typeof world>;

function factsOf(w: World): Facts {
  const ovs = (): OvsFacts => {
    const byIfaceId = new Map<string, OvsFacts['interfaces']>();
    for (const r of w.ovsRows) {
      const id = r.externalIds['iface-id'];
      if (id) byIfaceId.set(id, [...(byIfaceId.get(id) ?? []), r]);
    }
    return {
      interfaces: w.ovsRows,
      byName: new Map(w.ovsRows.map((r) => [r.name, r])),
      byIfaceId,
      bridges: [{ name: 'br-int', datapathType: 'netdev' }],
      ovsExternalIds: {},
    };
  };
  const pid = async (n: string) => (w.containers.get(n)?.running ? PID[n] : undefined);
  return {
    hostReport: async () => ({ checks: [] }) as unknown as HostReport,
    containers: async () => w.containers,
    pid,
    nsState: async (n) => {
      if ((await pid(n)) === undefined)
        throw new FactError('netns', `container of node ${n} is not running`, n);
      return w.ns.get(n)!;
    },
    txOffload: async (n, i) => w.offload.get(`${n}.${i}`),
    hostLinks: async () => w.hostLinks,
    ovs: async () => ovs(),
    nb: async () => {
      if (w.nbError) throw w.nbError;
      return w.nb;
    },
    bindings: async () => w.bindings,
    chassisName: async () => w.chassis,
    reads: {},
  };
}

const wiring = CHECKS.filter((c) => c.layer === 'wiring');
async function check(w: World) {
  const ctx = {
    plan,
    host: {},
    ovn: {},
    facts: factsOf(w),
    labFile: '/labs/t.yml',
  } as unknown as DoctorContext;
  return runChecks(ctx, wiring);
}
const roots = (rs: CheckResult[]) => rs.filter((r) => r.status === 'fail' || r.status === 'error');

describe('wiring checks on fake facts', () => {
  it('a healthy world passes every wiring check, per node or interface', async () => {
    const run = await check(world());
    expect(roots(run.results)).toEqual([]);
    expect(run.results.every((r) => r.status === 'pass')).toBe(true);
    expect(run.results).toHaveLength(wiring.length * 2);
  });

  it('tx offload on → checksum-offload with the nsenter ethtool fix', async () => {
    const w = world();
    w.offload.set('db.eth1', true);
    const [r, ...rest] = roots((await check(w)).results);
    expect(rest).toEqual([]);
    expect(r).toMatchObject({
      id: 'wiring.offload',
      subject: 'db.eth1',
      cause: 'checksum-offload',
      fix: 'nsenter -t 102 -n ethtool -K eth1 tx off',
    });
  });

  it('our veth relabelled → iface-id-mismatch with the ovs-vsctl fix; a foreign claimant is named too', async () => {
    const w = world();
    const web = iface('web');
    w.ovsRows.find((r) => r.name === web.hostVeth)!.externalIds['iface-id'] = 'bogus';
    let [r] = roots((await check(w)).results);
    expect(r).toMatchObject({
      cause: 'iface-id-mismatch',
      subject: 'web.eth1',
      fix: `ovs-vsctl set Interface ${web.hostVeth} external_ids:iface-id=${web.lsp}`,
    });
    expect(r!.evidence).toBe(`${web.hostVeth} has external_ids:iface-id=bogus, expected ${web.lsp}`);

    const w2 = world();
    w2.ovsRows.push({
      ...w2.ovsRows[0]!,
      uuid: 'foreign',
      name: 'foreign0',
      externalIds: { 'iface-id': web.lsp },
    });
    [r] = roots((await check(w2)).results);
    expect(r).toMatchObject({
      cause: 'iface-id-mismatch',
      fix: 'ovs-vsctl remove Interface foreign0 external_ids iface-id',
    });
    expect(r!.evidence).toContain('claimed by 2 interfaces');
  });

  it('stopped container → container-not-running is the one root; its node follows, the other node passes', async () => {
    const w = world();
    w.containers.set('web', { ...w.containers.get('web')!, running: false, state: 'exited' });
    w.hostLinks.delete(iface('web').hostVeth);
    const run = await check(w);
    const rs = roots(run.results);
    expect(rs.map((r) => `${r.cause} ${r.subject}`)).toEqual(['container-not-running web']);
    expect(rs[0]!.fix).toBe('docker start labctl.t.web && labctl up -f /labs/t.yml');
    for (const r of run.results.filter(
      (x) => x.subject.startsWith('web') && x.status !== 'pass' && x !== rs[0],
    ))
      expect(r.followsFrom, r.id).toBe('wiring.container web');
    expect(run.results.filter((x) => x.subject.startsWith('db')).every((x) => x.status === 'pass')).toBe(
      true,
    );
  });

  it('links: host end down → link-down with ip link set up; container end missing → link-missing', async () => {
    const w = world();
    w.hostLinks.get(iface('db').hostVeth)!.up = false;
    let [r] = roots((await check(w)).results);
    expect(r).toMatchObject({
      cause: 'link-down',
      subject: 'db.eth1',
      fix: `ip link set dev ${iface('db').hostVeth} up`,
    });
    const w2 = world();
    w2.ns.get('db')!.links = [];
    const run = await check(w2);
    [r] = roots(run.results);
    expect(roots(run.results)).toHaveLength(1);
    expect(r).toMatchObject({ id: 'wiring.veth', cause: 'link-missing', fix: 'labctl up -f /labs/t.yml' });
  });

  it('address changed by hand → address-mismatch; the route lost with it follows', async () => {
    const w = world();
    const web = w.ns.get('web')!;
    web.links[0]!.addrs = ['10.9.1.99/24'];
    web.routes = web.routes.filter((r) => r.dst !== 'default');
    const run = await check(w);
    const rs = roots(run.results);
    expect(rs.map((r) => `${r.id} ${r.cause}`)).toEqual(['wiring.address address-mismatch']);
    expect(rs[0]!.evidence).toBe('eth1 in web: IPv4 10.9.1.99/24, expected 10.9.1.10/24');
    expect(run.results.find((r) => r.id === 'wiring.routes' && r.subject === 'web')!.followsFrom).toBe(
      'wiring.address web.eth1',
    );
  });

  it('NB: missing port → lsp-missing; wrong addresses → address-mismatch with lsp-set-addresses', async () => {
    const w = world();
    const db = iface('db');
    w.nb.ports = w.nb.ports.filter((p) => p.name !== db.lsp);
    let [r] = roots((await check(w)).results);
    expect(r).toMatchObject({ id: 'wiring.lsp', cause: 'lsp-missing', subject: 'db.eth1' });
    const w2 = world();
    w2.nb.ports.find((p) => p.name === db.lsp)!.addresses = ['02:00:00:00:00:01 10.9.2.50'];
    [r] = roots((await check(w2)).results);
    expect(r).toMatchObject({
      cause: 'address-mismatch',
      fix: `ovn-nbctl lsp-set-addresses ${db.lsp} "${db.mac} ${db.ip}"`,
    });
  });

  it('binding on another chassis, not installed, MTU differs, route missing', async () => {
    const w = world();
    w.bindings.set(iface('web').lsp, { logicalPort: iface('web').lsp, chassis: 'elsewhere', up: true });
    w.ovsRows.find((r) => r.name === iface('db').hostVeth)!.externalIds['ovn-installed'] = '';
    w.ns.get('db')!.links[0]!.mtu = 1400;
    const rs = roots((await check(w)).results);
    expect(rs.map((r) => `${r.id} ${r.subject} ${r.cause}`).sort()).toEqual([
      'wiring.binding web.eth1 port-unbound',
      'wiring.mtu db.eth1 mtu-mismatch',
      'wiring.ovn-installed db.eth1 port-unbound',
    ]);
    expect(rs.find((r) => r.id === 'wiring.mtu')!.fix).toBe(
      'nsenter -t 102 -n ip link set dev eth1 mtu 1500',
    );
    expect(rs.find((r) => r.id === 'wiring.binding')!.evidence).toContain(
      'bound to chassis elsewhere, expected labctl-local',
    );
  });

  it('an unreadable NB is one error, the others follow from it', async () => {
    const w = world();
    w.nbError = new FactError('nb', 'cannot read the OVN northbound DB: timed out');
    const rs = roots((await check(w)).results);
    expect(rs).toHaveLength(1);
    expect(rs[0]).toMatchObject({
      id: 'wiring.lsp',
      status: 'error',
      data: expect.objectContaining({ unavailable: 'nb' }),
    });
  });
});

describe('facts and host rows', () => {
  it('parses one ovs-vsctl dump: every interface with its bridge, iface-id index, the Open_vSwitch keys', () => {
    const out = [
      JSON.stringify({
        headings: [
          '_uuid',
          'name',
          'type',
          'external_ids',
          'ofport',
          'error',
          'mtu',
          'admin_state',
          'link_state',
        ],
        data: [
          [
            ['uuid', 'i1'],
            'lv1',
            '',
            ['map', [['iface-id', 't.web.eth1']]],
            5,
            ['set', []],
            1500,
            'up',
            'up',
          ],
          [
            ['uuid', 'i2'],
            'foreign',
            '',
            ['map', [['iface-id', 't.web.eth1']]],
            -1,
            'could not open network device foreign (No such device)',
            ['set', []],
            ['set', []],
            ['set', []],
          ],
        ],
      }),
      JSON.stringify({
        headings: ['_uuid', 'name', 'interfaces'],
        data: [[['uuid', 'p1'], 'lv1', ['uuid', 'i1']]],
      }),
      JSON.stringify({
        headings: ['name', 'ports', 'datapath_type'],
        data: [['br-int', ['set', [['uuid', 'p1']]], 'netdev']],
      }),
      JSON.stringify({ headings: ['external_ids'], data: [[['map', [['system-id', 'labctl-local']]]]] }),
    ].join('\n');
    const f = parseOvsDump(out);
    expect(f.byName.get('lv1')).toMatchObject({ ofport: 5, bridge: 'br-int', error: '', mtu: 1500 });
    expect(f.byName.get('foreign')).toMatchObject({
      ofport: -1,
      error: expect.stringContaining('No such device'),
    });
    expect(f.byName.get('foreign')!.bridge).toBeUndefined();
    expect(f.byIfaceId.get('t.web.eth1')!.map((i) => i.name)).toEqual(['lv1', 'foreign']);
    expect(f.bridges).toEqual([{ name: 'br-int', datapathType: 'netdev' }]);
    expect(f.ovsExternalIds['system-id']).toBe('labctl-local');
  });

  it('maps host report rows: failures keep cause and fix, blocked rows follow, optional rows never fail', () => {
    const c = { id: 'host.chassis', layer: 'host' } as Pick<DoctorCheck, 'id' | 'layer'>;
    expect(
      rowToResult(
        c,
        {
          id: 'chassis.registered',
          title: 't',
          layer: 'southbound',
          required: true,
          ok: true,
          detail: 'labctl-local',
        },
        'chassis',
      ),
    ).toMatchObject({
      status: 'pass',
      evidence: 'labctl-local',
    });
    const blocked = rowToResult(
      c,
      {
        id: 'chassis.registered',
        title: 't',
        layer: 'southbound',
        required: true,
        ok: false,
        detail: 'not checked',
        cause: 'ovn-sb-down',
        fix: 'labctl host start',
        blockedBy: 'ovn-sb',
      },
      'chassis',
    );
    expect(blocked).toMatchObject({
      status: 'fail',
      cause: 'ovn-sb-down',
      followsFrom: 'host.ovn-sb OVN SB',
    });
    expect(
      rowToResult(
        c,
        {
          id: 'tools.optional',
          title: 't',
          layer: 'prerequisites',
          required: false,
          ok: false,
          detail: 'missing: tcpdump',
        },
        'x',
      ).status,
    ).toBe('warn');
    expect(
      rowToResult(
        c,
        {
          id: 'ovn-nb',
          title: 't',
          layer: 'daemons',
          required: false,
          ok: true,
          detail: 'not checked: remote central',
        },
        'x',
      ).status,
    ).toBe('skip');
  });
});
