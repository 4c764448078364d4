/**
 * The difference between a plan and the lab's rows in the OVN northbound DB, as ovn-nbctl commands for ONE
 * transaction. Pure: tested without a database. An unchanged lab gives no commands at all.
 */
import type { NbLabState } from '../drivers/ovn.js';
import { extIds, q } from '../drivers/ovsdb-json.js';
import type { Plan, PlanAcl } from '../plan/types.js';

export interface NbChanges {
  /** structure the new ports need (switches, ports, routers, routes, ACLs): applied while containers start */
  commands: string[][];
  /**
   * applied once every port is ready: NAT and load-balancer changes, then removals — so a VIP or public address
   * moves to a backend that can already answer, and the old one goes only after that
   */
  late: string[][];
  /** one line per logical change, for the progress output */
  summary: string[];
  /** addresses whose translations changed (removed NAT, moved VIP): their conntrack entries must go */
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

export interface DiffContext {
  /** chassis name of a lab host (gateway routers are bound to it) */
  chassisOf?: (host: string) => string;
}

export function diffNb(plan: Plan, nb: NbLabState, dctx: DiffContext = {}): NbChanges {
  const commands: string[][] = [];
  /** after the new ports are ready: re-pointed translations (NAT, load balancers) and removals */
  const late: string[][] = [];
  const summary: string[] = [];
  const flush = new Set<string>();
  let ids = 0;
  const swByName = new Map(nb.switches.map((s) => [s.name, s]));
  const portByName = new Map(nb.ports.map((p) => [p.name, p]));
  const switchOfPort = new Map<string, string>();
  for (const s of nb.switches) for (const u of s.ports) switchOfPort.set(u, s.name);
  const lrByName = new Map(nb.routers.map((r) => [r.name, r]));
  const lrpByName = new Map(nb.routerPorts.map((p) => [p.name, p]));

  // ---- switches and their ports
  const wantPorts = new Set<string>();
  for (const sw of plan.switches) {
    const have = swByName.get(sw.name);
    if (!have) {
      commands.push(
        ['--may-exist', 'ls-add', sw.name],
        ['set', 'Logical_Switch', sw.name, ...extIds(sw.externalIds)],
      );
      summary.push(`add switch ${sw.name}`);
    } else if (!sameMap(have.externalIds, sw.externalIds)) {
      commands.push(['set', 'Logical_Switch', sw.name, ...extIds(sw.externalIds)]);
      summary.push(`relabel switch ${sw.name}`);
    }
    for (const p of sw.ports) {
      wantPorts.add(p.name);
      const cur = portByName.get(p.name);
      const onSwitch = cur ? switchOfPort.get(cur.uuid) : undefined;
      if (cur && onSwitch !== sw.name) {
        commands.push(['--if-exists', 'lsp-del', p.name]);
        summary.push(`move port ${p.name} to ${sw.name}`);
      }
      const fresh = !cur || onSwitch !== sw.name;
      if (fresh) {
        commands.push(['lsp-add', sw.name, p.name]);
        if (!cur) summary.push(`add port ${p.name}`);
      }
      if (fresh || cur.type !== p.type) {
        if (p.type) commands.push(['lsp-set-type', p.name, p.type]);
        else if (!fresh) commands.push(['clear', 'Logical_Switch_Port', p.name, 'type']);
      }
      if (fresh || !sameSet(cur.addresses, [p.addresses])) {
        commands.push(['lsp-set-addresses', p.name, p.addresses]);
        if (!fresh) summary.push(`readdress port ${p.name}: ${p.addresses}`);
      }
      const options: Record<string, string> = p.routerPort ? { 'router-port': p.routerPort } : {};
      if (fresh ? p.routerPort : !sameMap(cur.options, options)) {
        commands.push(
          p.routerPort
            ? ['lsp-set-options', p.name, `router-port=${p.routerPort}`]
            : ['clear', 'Logical_Switch_Port', p.name, 'options'],
        );
      }
      if (fresh || !sameMap(cur.externalIds, p.externalIds)) {
        commands.push(['set', 'Logical_Switch_Port', p.name, ...extIds(p.externalIds)]);
      }
    }
  }

  // ---- routers, router ports, static routes
  const wantRouterPorts = new Set<string>();
  const routeRouter = new Map<string, string>();
  for (const r of nb.routers) for (const u of r.staticRoutes) routeRouter.set(u, r.name);
  for (const r of plan.routers) {
    const have = lrByName.get(r.router);
    if (!have) {
      commands.push(
        ['--may-exist', 'lr-add', r.router],
        ['set', 'Logical_Router', r.router, ...extIds(r.externalIds)],
      );
      summary.push(`add router ${r.router}`);
    } else if (!sameMap(have.externalIds, r.externalIds)) {
      commands.push(['set', 'Logical_Router', r.router, ...extIds(r.externalIds)]);
    }
    for (const p of r.ports) {
      wantRouterPorts.add(p.name);
      const cur = lrpByName.get(p.name);
      const portIds = { 'labctl-lab': plan.lab };
      if (!cur) {
        commands.push(
          ['lrp-add', r.router, p.name, p.mac, ...p.networks],
          ['set', 'Logical_Router_Port', p.name, ...extIds(portIds)],
        );
        summary.push(`add router port ${p.name} ${p.networks.join(' ')}`);
      } else if (cur.mac !== p.mac || !sameSet(cur.networks, p.networks)) {
        commands.push([
          'set',
          'Logical_Router_Port',
          p.name,
          `mac=${q(p.mac)}`,
          `networks=${p.networks.map(q).join(',')}`,
        ]);
        summary.push(`readdress router port ${p.name} ${p.networks.join(' ')}`);
      }
    }
    // gateway router binding
    const wantChassis = r.chassis !== undefined ? (dctx.chassisOf?.(r.chassis) ?? r.chassis) : undefined;
    const haveChassis = have?.options.chassis;
    if (wantChassis !== haveChassis) {
      if (wantChassis)
        commands.push(['set', 'Logical_Router', r.router, `options:chassis=${q(wantChassis)}`]);
      else commands.push(['remove', 'Logical_Router', r.router, 'options', 'chassis']);
      summary.push(`bind router ${r.router} to chassis ${wantChassis ?? '(none)'}`);
    }
    // NAT rules, compared as (type, external, logical)
    const natKey = (t: string, e: string, l: string) => `${t}|${e}|${l}`;
    const haveNat = nb.nat.filter((n) => have?.nat.includes(n.uuid));
    const wantNat = new Set(r.nat.map((n) => natKey(n.type, n.external, n.logical)));
    const keptNat = new Set<string>();
    for (const n of haveNat) {
      const k = natKey(n.type, n.externalIp, n.logicalIp);
      if (wantNat.has(k) && !keptNat.has(k)) keptNat.add(k);
      else {
        late.push(['remove', 'Logical_Router', r.router, 'nat', n.uuid]);
        summary.push(`remove NAT ${n.type} ${n.externalIp} ↔ ${n.logicalIp}`);
        flush.add(n.externalIp);
      }
    }
    for (const n of r.nat) {
      if (keptNat.has(natKey(n.type, n.external, n.logical))) continue;
      const id = `@nat${ids++}`;
      late.push(
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
      );
      summary.push(`add NAT ${n.type} ${n.external} ↔ ${n.logical}`);
    }
    const existing = nb.routes.filter((rt) => routeRouter.get(rt.uuid) === r.router);
    const want = r.routes.map((rt) => `${rt.prefix}|${rt.nexthop}`);
    if (
      !sameSet(
        existing.map((rt) => `${rt.prefix}|${rt.nexthop}`),
        want,
      )
    ) {
      for (const rt of existing)
        commands.push(['remove', 'Logical_Router', r.router, 'static_routes', rt.uuid]);
      for (const rt of r.routes) {
        const id = `@route${ids++}`;
        commands.push(
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
      summary.push(`set ${r.routes.length} static route(s) on ${r.router}`);
    }
  }

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
    if (sw && swByName.has(sw)) {
      commands.push(['remove', 'Logical_Switch', sw, 'acls', a.uuid]);
      summary.push(`remove ACL ${a.name || a.match}`);
    }
  }
  for (const [key, a] of wantAcls) {
    if (haveAcls.has(key)) continue;
    const id = `@acl${ids++}`;
    commands.push(
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
    );
    summary.push(`add ACL ${a.name}: ${a.action} ${a.match}`);
  }

  // ---- load balancers: recreated when their VIP, backends or protocol change; attachments converge
  const wantLbs = new Set(plan.loadBalancers.map((l) => l.lb));
  for (const lb of plan.loadBalancers) {
    const have = nb.loadBalancers.find((x) => x.name === lb.lb);
    const ips = lb.backends.map((b) => (b.port !== undefined ? `${b.ip}:${b.port}` : b.ip)).join(',');
    const same =
      have && sameMap(have.vips, { [lb.vip]: ips }) && (have.protocol || 'tcp') === (lb.protocol ?? 'tcp');
    let ref: string = lb.lb;
    if (!same) {
      if (have) {
        late.push(['--if-exists', 'lb-del', have.uuid]);
        for (const vip of Object.keys(have.vips)) flush.add(vip.split(':')[0]!);
      }
      const id = `@lb${ids++}`;
      late.push([
        `--id=${id}`,
        'create',
        'Load_Balancer',
        `name=${q(lb.lb)}`,
        `vips:${q(lb.vip)}=${q(ips)}`,
        ...(lb.protocol ? [`protocol=${lb.protocol}`] : []),
        ...extIds(lb.externalIds),
      ]);
      ref = id;
      summary.push(`${have ? 'update' : 'add'} load balancer ${lb.lb}: ${lb.vip} → ${ips}`);
    }
    for (const sw of plan.switches) {
      const attached = !!have && same && (swByName.get(sw.name)?.loadBalancers.includes(have.uuid) ?? false);
      const want = lb.switches.includes(sw.name);
      if (want && !attached) late.push(['add', 'Logical_Switch', sw.name, 'load_balancer', ref]);
      if (!want && attached) late.push(['remove', 'Logical_Switch', sw.name, 'load_balancer', have!.uuid]);
    }
    for (const r of plan.routers) {
      const attached = !!have && same && (lrByName.get(r.router)?.loadBalancers.includes(have.uuid) ?? false);
      const want = lb.routers.includes(r.router);
      if (want && !attached) late.push(['add', 'Logical_Router', r.router, 'load_balancer', ref]);
      if (!want && attached) late.push(['remove', 'Logical_Router', r.router, 'load_balancer', have!.uuid]);
    }
  }
  for (const lb of nb.loadBalancers)
    if (!wantLbs.has(lb.name)) {
      late.push(['--if-exists', 'lb-del', lb.uuid]);
      summary.push(`remove load balancer ${lb.name}`);
      for (const vip of Object.keys(lb.vips)) flush.add(vip.split(':')[0]!);
    }

  // ---- what the lab has but the plan no longer wants
  const wantSwitches = new Set(plan.switches.map((s) => s.name));
  const wantRouters = new Set(plan.routers.map((r) => r.router));
  for (const p of nb.ports)
    if (!wantPorts.has(p.name)) {
      late.push(['--if-exists', 'lsp-del', p.name]);
      summary.push(`remove port ${p.name}`);
    }
  for (const p of nb.routerPorts)
    if (!wantRouterPorts.has(p.name)) {
      late.push(['--if-exists', 'lrp-del', p.name]);
      summary.push(`remove router port ${p.name}`);
    }
  for (const s of nb.switches)
    if (!wantSwitches.has(s.name)) {
      late.push(['--if-exists', 'ls-del', s.name]);
      summary.push(`remove switch ${s.name}`);
    }
  for (const r of nb.routers)
    if (!wantRouters.has(r.name)) {
      late.push(['--if-exists', 'lr-del', r.name]);
      summary.push(`remove router ${r.name}`);
    }
  return {
    commands,
    late,
    summary,
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
  return commands;
}
