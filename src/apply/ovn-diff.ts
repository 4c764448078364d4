/**
 * The difference between a plan and the lab's rows in the OVN northbound DB: one change entry per logical change,
 * each with its ovn-nbctl commands and its phase (the executor runs each phase as one transaction). Pure: tested
 * without a database. An unchanged lab gives no changes at all.
 */
import type { NbLabState } from '../drivers/ovn.js';
import { extIds, q } from '../drivers/ovsdb-json.js';
import { hostPort } from '../plan/compile.js';
import type { Plan, PlanAcl } from '../plan/types.js';
import { CENTRAL, type ChangeOp, type NbChange, type NbPhase } from './changes.js';
import { dhcpPortCommands, diffDhcpOptions, diffDns } from './dhcp-dns-diff.js';

export interface NbDiff {
  /** one entry per logical change, in the order they must run within their phase */
  changes: NbChange[];
  /**
   * addresses whose conntrack entries must go: translations that changed (removed NAT, moved VIP) and node
   * addresses that went (a removed port, the old address of a readdressed one)
   */
  flushAddresses: string[];
}

const sameMap = (a: Record<string, string>, b: Record<string, string>) => {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
};
const sameSet = (a: string[], b: string[]) =>
  a.length === b.length && [...a].sort().join('\0') === [...b].sort().join('\0');

const aclKey = (
  sw: string,
  a: { direction: string; priority: number; match: string; action: string; name: string },
) => [sw, a.direction, a.priority, a.match, a.action, a.name].join('|');

/** The (first) IP of a node port's "MAC IP [IP6]" address entry. */
const portIp = (addresses: string) => addresses.split(' ')[1];
/** Every IP of a node port's address entry: "MAC IP IP6" has two (docs/ipv6.md). */
const portIps = (addresses: string) => addresses.split(' ').slice(1);

/** "IPs → IPs" when only the IPs of a "MAC IP [IP6]" entry change (the ones that changed), else both in full. */
function addressChange(have: string[], want: string): string {
  const [mac, ...ips] = want.split(' ');
  const [hmac, ...hips] = (have[0] ?? '').split(' ');
  if (have.length !== 1 || hmac !== mac || !hips.length || !ips.length)
    return `${have.join(' ') || '(none)'} → ${want}`;
  const gone = hips.filter((x) => !ips.includes(x));
  const added = ips.filter((x) => !hips.includes(x));
  return `${gone.join(' ') || '(none)'} → ${added.join(' ') || '(none)'}`;
}

/**
 * A router port's ipv6_ra_configs when its network has ra: true (docs/ipv6.md): advertisements sent periodically,
 * in dhcpv6_stateful mode — the prefix goes out without the autonomous flag, so no node forms a SLAAC address
 * even where autoconf is on; nodes learn their router from it.
 */
/**
 * IPv6 router advertisements of an `ra: true` network. OVN's first periodic advertisement comes a random
 * min_interval..max_interval after the port is configured (defaults 200..600 s), and a node's own solicitations
 * (3, 4 s apart, from link-up) can all be sent before its port is bound — so without short intervals a node may
 * learn its router only minutes after `up`. The shortest intervals OVN accepts (max 4 s, min 3 s) make it seconds.
 */
export const RA_CONFIGS: Record<string, string> = {
  address_mode: 'dhcpv6_stateful',
  send_periodic: 'true',
  max_interval: '4',
  min_interval: '3',
};

export interface DiffContext {
  /** chassis name of a lab host (gateway routers are bound to it) */
  chassisOf?: (host: string) => string | undefined;
}

export function diffNb(plan: Plan, nb: NbLabState, dctx: DiffContext = {}): NbDiff {
  const changes: NbChange[] = [];
  /** new ports go after every in-place change, so ovn-nbctl's duplicate-address check sees the freed addresses */
  const newPorts: NbChange[] = [];
  const emit = (phase: NbPhase, op: ChangeOp, summary: string, commands: string[][], to = changes) =>
    to.push({ kind: 'nb', host: CENTRAL, phase, op, summary, commands });
  const flush = new Set<string>();
  let ids = 0;
  const swByName = new Map(nb.switches.map((s) => [s.name, s]));
  const portByName = new Map(nb.ports.map((p) => [p.name, p]));
  const switchOfPort = new Map<string, string>();
  for (const s of nb.switches) for (const u of s.ports) switchOfPort.set(u, s.name);
  const lrByName = new Map(nb.routers.map((r) => [r.name, r]));
  const lrpByName = new Map(nb.routerPorts.map((p) => [p.name, p]));
  const wantPorts = new Set(plan.switches.flatMap((sw) => sw.ports.map((p) => p.name)));

  // ---- ports that go while another port takes their address: released first (ovn-nbctl refuses a duplicate)
  const wantIps = new Set(
    plan.switches.flatMap((sw) =>
      sw.ports.filter((p) => !p.type).flatMap((p) => portIps(p.addresses).map((ip) => `${sw.name}|${ip}`)),
    ),
  );
  const released = new Set<string>();
  for (const p of nb.ports) {
    if (wantPorts.has(p.name) || p.type) continue;
    const sw = switchOfPort.get(p.uuid);
    const ip = p.addresses[0] ? portIps(p.addresses[0]).find((a) => wantIps.has(`${sw}|${a}`)) : undefined;
    if (sw && ip) {
      released.add(p.name);
      flush.add(ip);
      emit('release', '-', `remove port ${p.name} (frees ${ip})`, [['--if-exists', 'lsp-del', p.name]]);
    }
  }

  // ---- DHCP options (before the ports that link to them); which ports ask for DHCP (ip: dhcp)
  const dhcpRef = diffDhcpOptions(
    plan,
    nb,
    (ph, op, sm, cmds) => emit(ph, op, sm, cmds),
    () => ids++,
  );
  const dhcpOfPort = new Map<string, string>();
  const dhcp6OfPort = new Map<string, string>();
  for (const n of plan.nodes)
    for (const i of n.interfaces) {
      const ref = i.dhcp ? dhcpRef.get(`${i.network}|4`) : undefined;
      if (ref) dhcpOfPort.set(i.lsp, ref);
      const ref6 = i.dhcp6 ? dhcpRef.get(`${i.network}|6`) : undefined;
      if (ref6) dhcp6OfPort.set(i.lsp, ref6);
    }

  // ---- switches and their ports
  for (const sw of plan.switches) {
    const have = swByName.get(sw.name);
    if (!have)
      emit('structure', '+', `add switch ${sw.name} (${sw.subnet})`, [
        ['--may-exist', 'ls-add', sw.name],
        ['set', 'Logical_Switch', sw.name, ...extIds(sw.externalIds)],
      ]);
    else if (!sameMap(have.externalIds, sw.externalIds))
      emit('structure', '~', `relabel switch ${sw.name}`, [
        ['set', 'Logical_Switch', sw.name, ...extIds(sw.externalIds)],
      ]);
    for (const p of sw.ports) {
      const cur = portByName.get(p.name);
      const onSwitch = cur ? switchOfPort.get(cur.uuid) : undefined;
      const options: Record<string, string> = {
        ...(p.routerPort ? { 'router-port': p.routerPort } : {}),
        ...p.options,
      };
      const setOptions = ['lsp-set-options', p.name, ...Object.entries(options).map(([k, v]) => `${k}=${v}`)];
      if (!cur || onSwitch !== sw.name) {
        const cmds: string[][] = [];
        if (cur) cmds.push(['--if-exists', 'lsp-del', p.name]);
        cmds.push(['lsp-add', sw.name, p.name]);
        if (p.type) cmds.push(['lsp-set-type', p.name, p.type]);
        cmds.push(['lsp-set-addresses', p.name, p.addresses]);
        if (Object.keys(options).length) cmds.push(setOptions);
        cmds.push(['set', 'Logical_Switch_Port', p.name, ...extIds(p.externalIds)]);
        const dhcp = dhcpOfPort.get(p.name);
        if (dhcp) cmds.push(['set', 'Logical_Switch_Port', p.name, `dhcpv4_options=${dhcp}`]);
        const dhcp6 = dhcp6OfPort.get(p.name);
        if (dhcp6) cmds.push(['set', 'Logical_Switch_Port', p.name, `dhcpv6_options=${dhcp6}`]);
        const what =
          p.type === 'router'
            ? `router ${p.routerPort}`
            : p.type === 'localnet'
              ? `localnet ${p.options?.network_name ?? ''}`
              : p.addresses;
        emit(
          'structure',
          cur ? '~' : '+',
          cur ? `move port ${p.name} to ${sw.name} (${what})` : `add port ${p.name} (${what})`,
          cmds,
          newPorts,
        );
        continue;
      }
      if (cur.type !== p.type)
        emit('structure', '~', `set type of port ${p.name} to ${p.type || '(node)'}`, [
          p.type ? ['lsp-set-type', p.name, p.type] : ['clear', 'Logical_Switch_Port', p.name, 'type'],
        ]);
      if (!sameSet(cur.addresses, [p.addresses])) {
        // The generic set (not lsp-set-addresses): two ports may swap addresses in one transaction.
        emit('structure', '~', `readdress port ${p.name}: ${addressChange(cur.addresses, p.addresses)}`, [
          ['set', 'Logical_Switch_Port', p.name, `addresses=${q(p.addresses)}`],
        ]);
        // connections of the old address are dead: their conntrack entries go (as for a removed port)
        const old = cur.addresses[0] ? portIp(cur.addresses[0]) : undefined;
        if (!p.type && old && old !== portIp(p.addresses)) flush.add(old);
      }
      if (!sameMap(cur.options, options))
        emit('structure', '~', `set options of port ${p.name}`, [
          Object.keys(options).length ? setOptions : ['clear', 'Logical_Switch_Port', p.name, 'options'],
        ]);
      for (const link of [
        dhcpPortCommands(p.name, 'dhcpv4_options', dhcpOfPort.get(p.name), cur.dhcpv4Options),
        dhcpPortCommands(p.name, 'dhcpv6_options', dhcp6OfPort.get(p.name), cur.dhcpv6Options),
      ])
        if (link) emit('structure', '~', link.summary, link.commands);
      if (!sameMap(cur.externalIds, p.externalIds))
        emit('structure', '~', `relabel port ${p.name}`, [
          ['set', 'Logical_Switch_Port', p.name, ...extIds(p.externalIds)],
        ]);
    }
  }

  // ---- routers, router ports, static routes
  const wantRouterPorts = new Set<string>();
  const routeRouter = new Map<string, string>();
  for (const r of nb.routers) for (const u of r.staticRoutes) routeRouter.set(u, r.name);
  for (const r of plan.routers) {
    const have = lrByName.get(r.router);
    if (!have)
      emit('structure', '+', `add router ${r.router}`, [
        ['--may-exist', 'lr-add', r.router],
        ['set', 'Logical_Router', r.router, ...extIds(r.externalIds)],
      ]);
    else if (!sameMap(have.externalIds, r.externalIds))
      emit('structure', '~', `relabel router ${r.router}`, [
        ['set', 'Logical_Router', r.router, ...extIds(r.externalIds)],
      ]);
    for (const p of r.ports) {
      wantRouterPorts.add(p.name);
      const cur = lrpByName.get(p.name);
      const portIds = { 'labctl-lab': plan.lab };
      if (!cur)
        emit('structure', '+', `add router port ${p.name} ${p.networks.join(' ')}`, [
          ['lrp-add', r.router, p.name, p.mac, ...p.networks],
          ['set', 'Logical_Router_Port', p.name, ...extIds(portIds)],
        ]);
      else if (cur.mac !== p.mac || !sameSet(cur.networks, p.networks))
        emit('structure', '~', `readdress router port ${p.name} ${p.networks.join(' ')}`, [
          [
            'set',
            'Logical_Router_Port',
            p.name,
            `mac=${q(p.mac)}`,
            `networks=${p.networks.map(q).join(',')}`,
          ],
        ]);
      // IPv6 router advertisements only where the network asks for them (ra: true); none otherwise
      const wantRa = p.ra ? RA_CONFIGS : {};
      if (!sameMap(cur?.raConfigs ?? {}, wantRa))
        emit('structure', cur ? '~' : '+', `${p.ra ? 'send' : 'stop'} router advertisements on ${p.name}`, [
          p.ra
            ? [
                'set',
                'Logical_Router_Port',
                p.name,
                ...Object.entries(RA_CONFIGS).map(([k, v]) => `ipv6_ra_configs:${k}=${q(v)}`),
              ]
            : ['clear', 'Logical_Router_Port', p.name, 'ipv6_ra_configs'],
        ]);
    }
    // HA gateway port: its Gateway_Chassis rows (chassis + priority), replaced as a set when they differ
    if (r.gateway) {
      const gw = r.gateway;
      const cur = lrpByName.get(gw.port);
      const rows = (nb.gatewayChassis ?? []).filter((g) => cur?.gatewayChassis.includes(g.uuid));
      const key = (c: string, prio: number) => `${c}|${prio}`;
      if (
        !sameSet(
          rows.map((g) => key(g.chassisName, g.priority)),
          gw.chassis.map((c) => key(c.systemId, c.priority)),
        )
      ) {
        const cmds: string[][] = rows.map((g) => [
          'remove',
          'Logical_Router_Port',
          gw.port,
          'gateway_chassis',
          g.uuid,
        ]);
        for (const c of gw.chassis) {
          const id = `@gc${ids++}`;
          cmds.push(
            [
              `--id=${id}`,
              'create',
              'Gateway_Chassis',
              `name=${q(`${gw.port}-${c.systemId}`)}`,
              `chassis_name=${q(c.systemId)}`,
              `priority=${c.priority}`,
              ...extIds({ 'labctl-lab': plan.lab }),
            ],
            ['add', 'Logical_Router_Port', gw.port, 'gateway_chassis', id],
          );
        }
        const list = gw.chassis.map((c) => `${c.systemId} ${c.priority}`).join(', ');
        emit('structure', rows.length ? '~' : '+', `set gateway chassis of ${gw.port}: ${list}`, cmds);
      }
    } else
      for (const p of r.ports) {
        const cur = lrpByName.get(p.name);
        if (cur?.gatewayChassis.length)
          emit(
            'structure',
            '-',
            `remove the gateway chassis of ${p.name}`,
            cur.gatewayChassis.map((u) => ['remove', 'Logical_Router_Port', p.name, 'gateway_chassis', u]),
          );
      }
    // gateway router binding
    const wantChassis = r.chassis !== undefined ? (dctx.chassisOf?.(r.chassis) ?? r.chassis) : undefined;
    const haveChassis = have?.options.chassis;
    if (wantChassis !== haveChassis)
      emit(
        'structure',
        wantChassis ? (haveChassis ? '~' : '+') : '-',
        `bind router ${r.router} to chassis ${wantChassis ?? '(none)'}`,
        [
          wantChassis
            ? ['set', 'Logical_Router', r.router, `options:chassis=${q(wantChassis)}`]
            : ['remove', 'Logical_Router', r.router, 'options', 'chassis'],
        ],
      );
    // NAT rules, compared as (type, external, logical)
    const natKey = (t: string, e: string, l: string) => `${t}|${e}|${l}`;
    const haveNat = nb.nat.filter((n) => have?.nat.includes(n.uuid));
    const wantNat = new Set(r.nat.map((n) => natKey(n.type, n.external, n.logical)));
    const keptNat = new Set<string>();
    for (const n of haveNat) {
      const k = natKey(n.type, n.externalIp, n.logicalIp);
      if (wantNat.has(k) && !keptNat.has(k)) keptNat.add(k);
      else {
        emit('late', '-', `remove NAT ${n.type} ${n.externalIp} ↔ ${n.logicalIp} on ${r.router}`, [
          ['remove', 'Logical_Router', r.router, 'nat', n.uuid],
        ]);
        flush.add(n.externalIp);
      }
    }
    for (const n of r.nat) {
      if (keptNat.has(natKey(n.type, n.external, n.logical))) continue;
      const id = `@nat${ids++}`;
      emit('late', '+', `add NAT ${n.type} ${n.external} ↔ ${n.logical} on ${r.router}`, [
        [
          `--id=${id}`,
          'create',
          'NAT',
          `type=${n.type}`,
          `external_ip=${q(n.external)}`,
          `logical_ip=${q(n.logical)}`,
          ...extIds({ 'labctl-lab': plan.lab }),
        ],
        ['add', 'Logical_Router', r.router, 'nat', id],
      ]);
    }
    const existing = nb.routes.filter((rt) => routeRouter.get(rt.uuid) === r.router);
    const want = r.routes.map((rt) => `${rt.prefix}|${rt.nexthop}`);
    if (
      !sameSet(
        existing.map((rt) => `${rt.prefix}|${rt.nexthop}`),
        want,
      )
    ) {
      const cmds: string[][] = existing.map((rt) => [
        'remove',
        'Logical_Router',
        r.router,
        'static_routes',
        rt.uuid,
      ]);
      for (const rt of r.routes) {
        const id = `@route${ids++}`;
        cmds.push(
          [
            `--id=${id}`,
            'create',
            'Logical_Router_Static_Route',
            `ip_prefix=${q(rt.prefix)}`,
            `nexthop=${q(rt.nexthop)}`,
            ...extIds({ 'labctl-lab': plan.lab }),
          ],
          ['add', 'Logical_Router', r.router, 'static_routes', id],
        );
      }
      const list = r.routes.map((rt) => `${rt.prefix} via ${rt.nexthop}`).join(', ') || 'none';
      emit('structure', existing.length ? '~' : '+', `set static routes of ${r.router}: ${list}`, cmds);
    }
  }
  changes.push(...newPorts);
  // ---- DNS records: after the switches exist (they are attached to every one)
  diffDns(
    plan,
    nb,
    (ph, op, sm, cmds) => emit(ph, op, sm, cmds),
    () => ids++,
  );

  // ---- ACLs: compared as (switch, direction, priority, match, action, name)
  const aclSwitch = new Map<string, string>();
  for (const s of nb.switches) for (const u of s.acls) aclSwitch.set(u, s.name);
  const wantAcls = new Map<string, PlanAcl>(plan.acls.map((a) => [aclKey(a.switch, a), a]));
  const haveAcls = new Set<string>();
  for (const a of nb.acls) {
    const sw = aclSwitch.get(a.uuid);
    const key = sw ? aclKey(sw, a) : '';
    if (sw && wantAcls.has(key) && !haveAcls.has(key)) {
      haveAcls.add(key);
      continue;
    }
    if (sw && swByName.has(sw))
      emit('structure', '-', `remove ACL ${a.name || a.match} on ${sw}`, [
        ['remove', 'Logical_Switch', sw, 'acls', a.uuid],
      ]);
  }
  for (const [key, a] of wantAcls) {
    if (haveAcls.has(key)) continue;
    const id = `@acl${ids++}`;
    emit('structure', '+', `add ACL ${a.name} on ${a.switch}: ${a.action} ${a.match}`, [
      [
        `--id=${id}`,
        'create',
        'ACL',
        `direction=${a.direction}`,
        `priority=${a.priority}`,
        `match=${q(a.match)}`,
        `action=${a.action}`,
        `name=${q(a.name)}`,
        ...extIds(a.externalIds),
      ],
      ['add', 'Logical_Switch', a.switch, 'acls', id],
    ]);
  }

  // ---- load balancers: recreated when their VIP, backends or protocol change; attachments converge
  const wantLbs = new Set(plan.loadBalancers.map((l) => l.lb));
  for (const lb of plan.loadBalancers) {
    const have = nb.loadBalancers.find((x) => x.name === lb.lb);
    const ips = lb.backends
      .map((b) => (b.port !== undefined ? `${hostPort(b.ip)}:${b.port}` : b.ip))
      .join(',');
    const same =
      have && sameMap(have.vips, { [lb.vip]: ips }) && (have.protocol || 'tcp') === (lb.protocol ?? 'tcp');
    const cmds: string[][] = [];
    let ref: string = lb.lb;
    if (!same) {
      if (have) {
        cmds.push(['--if-exists', 'lb-del', have.uuid]);
        for (const vip of Object.keys(have.vips)) flush.add(vip.split(':')[0]!);
      }
      const id = `@lb${ids++}`;
      cmds.push([
        `--id=${id}`,
        'create',
        'Load_Balancer',
        `name=${q(lb.lb)}`,
        `vips:${q(lb.vip)}=${q(ips)}`,
        ...(lb.protocol ? [`protocol=${lb.protocol}`] : []),
        ...extIds(lb.externalIds),
      ]);
      ref = id;
    }
    const attach: string[] = [];
    const detach: string[] = [];
    for (const [table, names, attachedTo] of [
      ['Logical_Switch', plan.switches.map((s) => s.name), (n: string) => swByName.get(n)?.loadBalancers],
      ['Logical_Router', plan.routers.map((r) => r.router), (n: string) => lrByName.get(n)?.loadBalancers],
    ] as const) {
      const wanted = table === 'Logical_Switch' ? lb.switches : lb.routers;
      for (const n of names) {
        const attached = !!have && same && (attachedTo(n)?.includes(have.uuid) ?? false);
        const want = wanted.includes(n);
        if (want && !attached) {
          cmds.push(['add', table, n, 'load_balancer', ref]);
          if (same) attach.push(n);
        }
        if (!want && attached) {
          cmds.push(['remove', table, n, 'load_balancer', have!.uuid]);
          detach.push(n);
        }
      }
    }
    if (!cmds.length) continue;
    const parts = [
      ...(same ? [] : [`${lb.vip} → ${ips}`]),
      ...(attach.length ? [`attach to ${attach.join(', ')}`] : []),
      ...(detach.length ? [`detach from ${detach.join(', ')}`] : []),
    ];
    emit(
      'late',
      have ? '~' : '+',
      `${have ? 'update' : 'add'} load balancer ${lb.lb}: ${parts.join('; ')}`,
      cmds,
    );
  }
  for (const lb of nb.loadBalancers)
    if (!wantLbs.has(lb.name)) {
      emit('late', '-', `remove load balancer ${lb.name}`, [['--if-exists', 'lb-del', lb.uuid]]);
      for (const vip of Object.keys(lb.vips)) flush.add(vip.split(':')[0]!);
    }

  // ---- what the lab has but the plan no longer wants
  const wantSwitches = new Set(plan.switches.map((s) => s.name));
  const wantRouters = new Set(plan.routers.map((r) => r.router));
  for (const p of nb.ports)
    if (!wantPorts.has(p.name) && !released.has(p.name)) {
      emit('late', '-', `remove port ${p.name}`, [['--if-exists', 'lsp-del', p.name]]);
      const ip = !p.type && p.addresses[0] ? portIp(p.addresses[0]) : undefined;
      if (ip) flush.add(ip);
    }
  for (const p of nb.routerPorts)
    if (!wantRouterPorts.has(p.name))
      emit('late', '-', `remove router port ${p.name}`, [['--if-exists', 'lrp-del', p.name]]);
  for (const s of nb.switches)
    if (!wantSwitches.has(s.name))
      emit('late', '-', `remove switch ${s.name}`, [['--if-exists', 'ls-del', s.name]]);
  for (const r of nb.routers)
    if (!wantRouters.has(r.name))
      emit('late', '-', `remove router ${r.name}`, [['--if-exists', 'lr-del', r.name]]);
  return {
    changes,
    flushAddresses: [...flush].filter((a) => /^\d+\.\d+\.\d+\.\d+$/.test(a)),
  };
}

/** Commands that remove every NB row of a lab (down). Deleting switches and routers takes their ports, ACLs and routes. */
export function removeNb(nb: NbLabState): string[][] {
  const commands: string[][] = [];
  for (const s of nb.switches) commands.push(['--if-exists', 'ls-del', s.uuid]);
  for (const r of nb.routers) commands.push(['--if-exists', 'lr-del', r.uuid]);
  // Rows of ours that hang off foreign switches/routers (if any) go one by one.
  const inOurSwitches = new Set(nb.switches.flatMap((s) => s.ports));
  for (const p of nb.ports) if (!inOurSwitches.has(p.uuid)) commands.push(['--if-exists', 'lsp-del', p.uuid]);
  for (const lb of nb.loadBalancers) commands.push(['--if-exists', 'lb-del', lb.uuid]);
  // DHCP options and DNS rows are root rows: the switches (deleted above) held the only references to them
  for (const d of nb.dhcpOptions ?? []) commands.push(['--if-exists', 'destroy', 'DHCP_Options', d.uuid]);
  for (const d of nb.dns ?? []) commands.push(['--if-exists', 'destroy', 'DNS', d.uuid]);
  return commands;
}
