/**
 * Semantic checks on a lab that already has the right shape: names, references, addresses, MACs, ports.
 * Every problem is collected (never the first one only), each with the path it concerns and a hint.
 */
import { IFNAME_RE, isSafeName, MAX_LAB_NAME, MAX_OBJECT_NAME } from '../names.js';
import {
  broadcast,
  type Cidr,
  contains,
  firstHost,
  formatCidr,
  intToIp,
  ipToInt,
  isHostAddress,
  isIPv4,
  isIPv6,
  overlaps,
  parseCidr,
  size,
} from './ipv4.js';
import { isMulticastMac, normalizeMac } from './mac.js';
import type { LabDoc } from './schema.js';
import type {
  Lab,
  LabInterface,
  LabLoadBalancer,
  LabNetwork,
  LabNode,
  LabPolicy,
  LabRouter,
} from './types.js';

/** Hosts a lab can place objects on. One today; the plan and drivers already carry the host of every node. */
export const KNOWN_HOSTS = ['local'];
/** ACL priorities are 2000 - index, above OVN's defaults and within its 0-32767 range. */
export const MAX_POLICIES = 1000;

export type PathSeg = string | number;

export interface Issue {
  path: PathSeg[];
  message: string;
  hint?: string;
  /** point at the key of the last path segment rather than its value */
  atKey?: boolean;
}

/** [registry[:port]/]name[:tag][@sha256:digest]; the registry part is what may carry a port */
const IMAGE_RE =
  /^([a-z0-9.-]+(:\d{1,5})?\/)?[a-z0-9][a-z0-9._/-]*(:[A-Za-z0-9_.-]+)?(@sha256:[a-f0-9]{64})?$/;
const ENV_KEY_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
const LISTEN_RE = /^(tcp|udp)\/(\d{1,5})$/;
const REMOTE_RE =
  /^(unix:\/[^\s]+|(tcp|ssl):[A-Za-z0-9.-]+:\d{1,5})(,(unix:\/[^\s]+|(tcp|ssl):[A-Za-z0-9.-]+:\d{1,5}))*$/;

export function suggest(name: string, known: string[]): string | undefined {
  if (known.length === 0) return undefined;
  // Closest by edit distance, counting a swap of two neighbours as one edit (nmae → name, not mac).
  let best = known[0]!;
  let bestD = Number.POSITIVE_INFINITY;
  for (const k of known) {
    const d = editDistance(name, k);
    if (d < bestD) [best, bestD] = [k, d];
  }
  // Only suggest when the edit distance is small relative to the name, or one is a prefix of the other.
  return bestD <= Math.max(2, Math.floor(best.length / 3)) || best.startsWith(name) || name.startsWith(best)
    ? best
    : undefined;
}

/** Optimal string alignment distance: insertions, deletions, substitutions and adjacent transpositions. */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

function didYouMean(name: string, known: string[], what: string): string {
  const s = suggest(name, known);
  if (s) return `did you mean ${s}?`;
  return known.length ? `known ${what}: ${known.join(', ')}` : `define it under ${what}`;
}

function nameIssue(name: string, max: number): string | undefined {
  if (isSafeName(name, max)) return undefined;
  if (name.length > max) return `is ${name.length} characters long; the limit is ${max}`;
  return 'must start with a letter and use only a-z, 0-9 and single hyphens (not at the end)';
}

export function validateLab(doc: LabDoc): { lab?: Lab; issues: Issue[] } {
  const issues: Issue[] = [];
  const add = (path: PathSeg[], message: string, hint?: string, atKey = false) =>
    issues.push({ path, message, hint, atKey });

  // ---- name
  const nameProblem = nameIssue(doc.name, MAX_LAB_NAME);
  if (nameProblem) add(['name'], `lab name "${doc.name}" ${nameProblem}`, 'e.g. name: two-vpcs');
  if (!IMAGE_RE.test(doc.defaults.image))
    add(
      ['defaults', 'image'],
      `image "${doc.defaults.image}" is not a valid image reference`,
      'e.g. labctl/node or debian:bookworm',
    );

  // ---- networks
  const networks: LabNetwork[] = [];
  const netByName = new Map<string, LabNetwork>();
  for (const [name, n] of Object.entries(doc.networks)) {
    const p = ['networks', name];
    const bad = nameIssue(name, MAX_OBJECT_NAME);
    if (bad) add(p, `network name "${name}" ${bad}`, undefined, true);
    const parsed = parseCidr(n.subnet);
    let subnet: Cidr | undefined;
    if (!parsed.ok) {
      add(
        [...p, 'subnet'],
        `subnet "${n.subnet}": ${parsed.reason}`,
        'write an IPv4 CIDR such as 10.0.1.0/24',
      );
    } else if (parsed.hostBitsSet) {
      add(
        [...p, 'subnet'],
        `subnet "${n.subnet}" has host bits set`,
        `did you mean ${formatCidr(parsed.cidr)}?`,
      );
    } else if (parsed.cidr.prefix > 30) {
      add([...p, 'subnet'], `subnet "${n.subnet}" is too small for a router and a node`, 'use /30 or larger');
    } else {
      subnet = parsed.cidr;
    }
    if (n.gateway !== undefined && subnet) {
      checkHostIp(n.gateway, subnet, n.subnet, [...p, 'gateway'], add);
    }
    if (subnet) {
      const net: LabNetwork = {
        name,
        subnet,
        cidr: formatCidr(subnet),
        gateway: n.gateway,
        mtu: n.mtu ?? doc.defaults.mtu,
      };
      networks.push(net);
      netByName.set(name, net);
    }
  }
  const networkNames = Object.keys(doc.networks);

  // ---- routers
  const routers: LabRouter[] = [];
  /** per network: address -> who holds it, for duplicates */
  const taken = new Map<string, Map<number, string>>();
  const take = (network: string, ip: number, who: string, path: PathSeg[]) => {
    let m = taken.get(network);
    if (!m) {
      m = new Map();
      taken.set(network, m);
    }
    const holder = m.get(ip);
    if (holder) {
      add(
        path,
        `address ${intToIp(ip)} on ${network} is already used by ${holder}`,
        'give each one its own address',
      );
      return;
    }
    m.set(ip, who);
  };
  const routerAddr = new Map<string, string>(); // network -> router address (first router wins)

  for (const [name, r] of Object.entries(doc.routers)) {
    const p = ['routers', name];
    const bad = nameIssue(name, MAX_OBJECT_NAME);
    if (bad) add(p, `router name "${name}" ${bad}`, undefined, true);
    const links: LabRouter['links'] = [];
    const linkedSubnets: { network: string; subnet: Cidr; i: number }[] = [];
    r.links.forEach((l, i) => {
      const link = typeof l === 'string' ? { network: l } : l;
      const lp = [...p, 'links', i];
      if (!(link.network in doc.networks)) {
        add(
          typeof l === 'string' ? lp : [...lp, 'network'],
          `router ${name} links unknown network "${link.network}"`,
          didYouMean(link.network, networkNames, 'networks'),
        );
        return;
      }
      if (links.some((x) => x.network === link.network)) {
        add(lp, `router ${name} links ${link.network} twice`, 'list each network once');
        return;
      }
      const net = netByName.get(link.network);
      links.push({ network: link.network, ip: link.ip });
      if (!net) return;
      for (const other of linkedSubnets) {
        if (overlaps(other.subnet, net.subnet)) {
          add(
            lp,
            `router ${name}: subnet ${net.cidr} of ${link.network} overlaps ${formatCidr(other.subnet)} of ${other.network}`,
            'a router cannot route between overlapping subnets; change one subnet',
          );
        }
      }
      linkedSubnets.push({ network: link.network, subnet: net.subnet, i });
      const ipText = link.ip ?? net.gateway;
      let ip: number | undefined;
      if (link.ip !== undefined) {
        ip = checkHostIp(link.ip, net.subnet, net.cidr, [...lp, 'ip'], add);
      } else if (ipText !== undefined) {
        ip = isIPv4(ipText) && isHostAddress(net.subnet, ipToInt(ipText)) ? ipToInt(ipText) : undefined;
      } else {
        ip = firstHost(net.subnet);
      }
      if (ip !== undefined) {
        take(link.network, ip, `router ${name}`, typeof l === 'string' ? lp : [...lp, 'ip']);
        if (!routerAddr.has(link.network)) routerAddr.set(link.network, intToIp(ip));
      }
    });
    const routes: LabRouter['routes'] = [];
    r.routes.forEach((rt, i) => {
      const rp = [...p, 'routes', i];
      const pc = parseCidr(rt.prefix);
      if (!pc.ok) add([...rp, 'prefix'], `route prefix "${rt.prefix}": ${pc.reason}`, 'e.g. 10.9.0.0/16');
      else if (pc.hostBitsSet)
        add(
          [...rp, 'prefix'],
          `route prefix "${rt.prefix}" has host bits set`,
          `did you mean ${formatCidr(pc.cidr)}?`,
        );
      if (!isIPv4(rt.via)) {
        add([...rp, 'via'], `route next hop "${rt.via}" is not an IPv4 address`, 'e.g. via: 10.0.1.254');
      } else if (!linkedSubnets.some((s) => contains(s.subnet, ipToInt(rt.via)))) {
        add(
          [...rp, 'via'],
          `route next hop ${rt.via} is not on any network router ${name} links`,
          `linked: ${linkedSubnets.map((s) => formatCidr(s.subnet)).join(', ') || 'none'}`,
        );
      }
      routes.push({ prefix: pc.ok ? formatCidr(pc.cidr) : rt.prefix, via: rt.via });
    });
    const router: LabRouter = { name, links, routes, nat: [] };
    if (r.chassis !== undefined) {
      if (!KNOWN_HOSTS.includes(r.chassis))
        add(
          [...p, 'chassis'],
          `unknown host "${r.chassis}" for gateway router ${name}`,
          `hosts: ${KNOWN_HOSTS.join(', ')} (labs span one host today)`,
        );
      router.chassis = r.chassis;
    }
    routers.push(router);
  }
  // A gateway on a network no router links is still an address nodes route via (compile reserves it too).
  const routerNet = new Set(routerAddr.keys());
  for (const net of networks) {
    if (net.gateway === undefined || routerAddr.has(net.name) || !isIPv4(net.gateway)) continue;
    const gw = ipToInt(net.gateway);
    if (!isHostAddress(net.subnet, gw)) continue;
    take(net.name, gw, `the gateway of ${net.name}`, ['networks', net.name, 'gateway']);
    routerAddr.set(net.name, intToIp(gw));
  }

  // ---- nodes
  const nodes: LabNode[] = [];
  const nodeNames = Object.keys(doc.nodes);
  const macs = new Map<string, string>();
  const routerNames = new Set(Object.keys(doc.routers));
  if (nodeNames.length === 0)
    add(['nodes'], 'the lab has no nodes', 'add at least one node under nodes:', true);
  const pendingAlloc: { network: string; path: PathSeg[] }[] = [];

  for (const [name, n] of Object.entries(doc.nodes)) {
    const p = ['nodes', name];
    const bad = nameIssue(name, MAX_OBJECT_NAME);
    if (bad) add(p, `node name "${name}" ${bad}`, undefined, true);
    if (routerNames.has(name))
      add(p, `node "${name}" has the same name as a router`, 'rename one of them', true);
    // A node built from its own context gets its own image name unless it gives one.
    const image =
      n.image ?? (n.build !== undefined ? `labctl/${doc.name}/${name}:latest` : doc.defaults.image);
    // A bad defaults.image is reported once, at defaults.image (below).
    if (n.image !== undefined && !IMAGE_RE.test(n.image))
      add(
        [...p, 'image'],
        `image "${n.image}" is not a valid image reference`,
        'e.g. labctl/node or debian:bookworm',
      );
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(n.env ?? {})) {
      if (!ENV_KEY_RE.test(k))
        add(
          [...p, 'env', k],
          `environment variable name "${k}" is not valid`,
          'use letters, digits and _',
          true,
        );
      env[k] = String(v);
    }
    const interfaces: LabInterface[] = [];
    const ifNames = new Set<string>();
    /** address -> the interface of this node that holds it first */
    const own = new Map<number, { ifname: string; network: string }>();
    n.interfaces.forEach((raw, i) => {
      const ip = [...p, 'interfaces', i];
      const spec = typeof raw === 'string' ? { network: raw } : raw;
      const ifname = spec.name ?? `eth${i + 1}`;
      if (spec.name !== undefined && !IFNAME_RE.test(spec.name)) {
        add(
          [...ip, 'name'],
          `interface name "${spec.name}" is not valid`,
          'at most 15 characters: a-z first, then a-z 0-9 _ -',
        );
      } else if (ifNames.has(ifname)) {
        add(
          spec.name !== undefined ? [...ip, 'name'] : ip,
          `node ${name} has two interfaces named ${ifname}`,
          'give each interface its own name',
        );
      }
      if (ifname === 'lo') add([...ip, 'name'], 'interface name "lo" is reserved', 'pick another name');
      ifNames.add(ifname);
      const target = typeof raw === 'string' ? ip : [...ip, 'network'];
      if (!(spec.network in doc.networks)) {
        add(
          target,
          `node ${name} attaches to unknown network "${spec.network}"`,
          didYouMean(spec.network, networkNames, 'networks'),
        );
      }
      const net = netByName.get(spec.network);
      const iface: LabInterface = { name: ifname, network: spec.network };
      if (spec.mtu !== undefined) iface.mtu = spec.mtu;
      if (spec.ip !== undefined) {
        iface.ip = spec.ip;
        if (net) {
          const v = checkHostIp(spec.ip, net.subnet, net.cidr, [...ip, 'ip'], add);
          if (v !== undefined) {
            const r = routerAddr.get(spec.network);
            if (r === intToIp(v)) {
              add(
                [...ip, 'ip'],
                `${spec.ip} is the ${routerNet.has(spec.network) ? 'router' : 'gateway'} address of ${spec.network}`,
                `pick another address in ${net.cidr}`,
              );
            } else {
              take(spec.network, v, `node ${name}`, [...ip, 'ip']);
              // Two networks may share a subnet (separate VPCs), so \`take\` (per network) cannot see one node
              // holding an address on both. A repeat on the same network is already reported by \`take\`.
              const first = own.get(v);
              if (!first) own.set(v, { ifname, network: spec.network });
              else if (first.network !== spec.network)
                add(
                  [...ip, 'ip'],
                  `address ${intToIp(v)} of node ${name} is already on its interface ${first.ifname} (${first.network})`,
                  `give each interface of ${name} its own address`,
                );
            }
          }
        } else if (!isIPv4(spec.ip)) {
          add([...ip, 'ip'], `"${spec.ip}" is not an IPv4 address`);
        }
      } else if (net) {
        pendingAlloc.push({ network: spec.network, path: ip });
      }
      if (spec.mac !== undefined) {
        const mac = normalizeMac(spec.mac);
        if (!mac)
          add([...ip, 'mac'], `"${spec.mac}" is not a MAC address`, 'six hex pairs, e.g. 0a:00:00:00:00:10');
        else if (isMulticastMac(mac))
          add([...ip, 'mac'], `${mac} is a multicast MAC`, 'the first octet must be even, e.g. 0a:…');
        else if (mac === '00:00:00:00:00:00')
          add([...ip, 'mac'], 'the all-zero MAC is not usable', 'pick another, e.g. 0a:00:00:00:00:10');
        else {
          const holder = macs.get(mac);
          if (holder)
            add(
              [...ip, 'mac'],
              `MAC ${mac} is already used by ${holder}`,
              'each interface needs its own MAC',
            );
          macs.set(mac, `${name}.${ifname}`);
          iface.mac = mac;
        }
      }
      interfaces.push(iface);
    });
    const listen: LabNode['listen'] = [];
    n.listen.forEach((l, i) => {
      const m = LISTEN_RE.exec(l.trim());
      const port = m ? Number(m[2]) : 0;
      if (!m || port < 1 || port > 65535) {
        add(
          [...p, 'listen', i],
          `listen entry "${l}" is not proto/port`,
          'e.g. tcp/80 or udp/53 (port 1-65535)',
        );
        return;
      }
      listen.push({ proto: m[1] as 'tcp' | 'udp', port });
    });
    if (listen.length && interfaces.length === 0)
      add([...p, 'listen'], `node ${name} listens but has no interfaces`, 'attach it to a network', true);
    const node: LabNode = { name, image, env, interfaces, listen };
    if (n.build !== undefined) node.build = typeof n.build === 'string' ? { context: n.build } : n.build;
    if (n.cmd !== undefined) node.cmd = typeof n.cmd === 'string' ? ['/bin/sh', '-c', n.cmd] : n.cmd;
    nodes.push(node);
  }

  // Enough free addresses for the interfaces that need one allocated?
  for (const net of networks) {
    const want = pendingAlloc.filter((x) => x.network === net.name);
    if (!want.length) continue;
    const usable = size(net.subnet) - (net.subnet.prefix >= 31 ? 0 : 2);
    const free = usable - (taken.get(net.name)?.size ?? 0);
    if (want.length > free) {
      add(
        want[Math.max(0, free)]!.path,
        `network ${net.name} (${net.cidr}) has no free address left for this interface`,
        `use a larger subnet than /${net.subnet.prefix}`,
      );
    }
  }

  // ---- router NAT (needs the nodes)
  const natExternal = new Map<string, string>();
  for (const [name, r] of Object.entries(doc.routers)) {
    const router = routers.find((x) => x.name === name);
    if (!router) continue;
    const linked = new Set(router.links.map((l) => l.network));
    r.nat.forEach((rule, i) => {
      const p = ['routers', name, 'nat', i];
      if (router.chassis === undefined && i === 0)
        add(
          ['routers', name, 'nat'],
          `NAT on router ${name} needs a gateway router`,
          'add chassis: local to the router',
          true,
        );
      if (!isIPv4(rule.external))
        add([...p, 'external'], `external "${rule.external}" is not an IPv4 address`, 'e.g. 100.64.0.10');
      else if (rule.type !== 'snat') {
        const holder = natExternal.get(rule.external);
        if (holder)
          add(
            [...p, 'external'],
            `external address ${rule.external} is already used by ${holder}`,
            'give each NAT rule its own external address',
          );
        natExternal.set(rule.external, `router ${name} nat[${i}]`);
        for (const net of networks)
          if (contains(net.subnet, ipToInt(rule.external)) && linked.has(net.name))
            add(
              [...p, 'external'],
              `external address ${rule.external} is inside ${net.name} (${net.cidr}), which router ${name} links`,
              'use an address outside the linked subnets',
            );
      }
      const v = rule.internal;
      if (v in doc.nodes) {
        const onLinked = doc.nodes[v]!.interfaces.some((x) =>
          linked.has(typeof x === 'string' ? x : x.network),
        );
        if (!onLinked)
          add(
            [...p, 'internal'],
            `node ${v} has no interface on a network router ${name} links`,
            `attach ${v} to ${[...linked].join(' or ')}`,
          );
      } else if (v in doc.networks) {
        if (rule.type !== 'snat')
          add(
            [...p, 'internal'],
            `${rule.type} needs one internal address, not the network ${v}`,
            'name a node or an IPv4 address',
          );
      } else if (isIPv4(v)) {
        // fine
      } else {
        const c = parseCidr(v);
        if (!c.ok || c.hostBitsSet || rule.type !== 'snat')
          add(
            [...p, 'internal'],
            `internal "${v}" is not a node, an IPv4 address${rule.type === 'snat' ? ', a network or a CIDR' : ''}`,
            didYouMean(v, nodeNames, 'nodes'),
          );
      }
      router.nat.push({ type: rule.type, external: rule.external, internal: v });
    });
  }

  // ---- groups
  const groups: Record<string, string[]> = {};
  for (const [name, members] of Object.entries(doc.groups)) {
    const p = ['groups', name];
    const bad = nameIssue(name, MAX_OBJECT_NAME);
    if (bad) add(p, `group name "${name}" ${bad}`, undefined, true);
    if (name in doc.nodes || name in doc.networks)
      add(
        p,
        `group "${name}" has the name of a ${name in doc.nodes ? 'node' : 'network'}`,
        'rename the group',
        true,
      );
    members.forEach((m, i) => {
      if (!(m in doc.nodes))
        add([...p, i], `group ${name} names unknown node "${m}"`, didYouMean(m, nodeNames, 'nodes'));
    });
    groups[name] = [...new Set(members)];
  }

  // ---- load balancers
  const loadBalancers: LabLoadBalancer[] = [];
  const routerNames2 = Object.keys(doc.routers);
  for (const [name, lb] of Object.entries(doc.load_balancers)) {
    const p = ['load_balancers', name];
    const bad = nameIssue(name, MAX_OBJECT_NAME);
    if (bad) add(p, `load balancer name "${name}" ${bad}`, undefined, true);
    if (!isIPv4(lb.vip)) add([...p, 'vip'], `vip "${lb.vip}" is not an IPv4 address`, 'e.g. vip: 10.0.9.100');
    else {
      // A VIP inside a node's own subnet needs an ARP answer nobody gives; routed VIPs are translated on the
      // client's switch before routing (verified on OVN 23.03).
      const inside = networks.find((net) => contains(net.subnet, ipToInt(lb.vip)));
      if (inside)
        add(
          [...p, 'vip'],
          `vip ${lb.vip} is inside ${inside.name} (${inside.cidr}); nodes would ARP for it and get no answer`,
          'use an address outside every lab subnet; clients reach it through their router',
        );
    }
    if (lb.proto !== undefined && lb.port === undefined)
      add([...p, 'proto'], 'proto needs a port', 'add port: 80, or remove proto');
    if (lb.backend_port !== undefined && lb.port === undefined)
      add([...p, 'backend_port'], 'backend_port needs a VIP port', 'add port: 80');
    lb.backends.forEach((b, i) => {
      if (!(b in doc.nodes) && !isIPv4(b))
        add(
          [...p, 'backends', i],
          `backend "${b}" is not a node or an IPv4 address`,
          didYouMean(b, nodeNames, 'nodes'),
        );
      else if (b in doc.nodes && doc.nodes[b]!.interfaces.length === 0)
        add([...p, 'backends', i], `backend node ${b} has no interfaces`, 'attach it to a network');
    });
    const attach = lb.attach ?? Object.keys(doc.networks);
    (lb.attach ?? []).forEach((a, i) => {
      if (!(a in doc.networks) && !(a in doc.routers))
        add(
          [...p, 'attach', i],
          `attach to unknown network or router "${a}"`,
          didYouMean(a, [...networkNames, ...routerNames2], 'networks and routers'),
        );
    });
    const out: LabLoadBalancer = { name, vip: lb.vip, backends: lb.backends, attach };
    if (lb.port !== undefined) {
      out.port = lb.port;
      out.proto = lb.proto ?? 'tcp';
    }
    if (lb.backend_port !== undefined) out.backendPort = lb.backend_port;
    loadBalancers.push(out);
  }

  // ---- policies
  const policies: LabPolicy[] = [];
  if (doc.policies.length > MAX_POLICIES)
    add(
      ['policies'],
      `${doc.policies.length} policies; at most ${MAX_POLICIES} fit the ACL priority range`,
      'merge policies with groups or CIDRs',
      true,
    );
  doc.policies.forEach((pol, i) => {
    const action = 'deny' in pol ? 'deny' : 'allow';
    const rule = 'deny' in pol ? pol.deny : pol.allow;
    const p = ['policies', i, action];
    for (const end of ['from', 'to'] as const) {
      const v = rule[end];
      if (!(v in doc.nodes) && !(v in doc.networks) && !(v in doc.groups)) {
        const c = parseCidr(v.includes('/') ? v : `${v}/32`);
        if (!c.ok || c.hostBitsSet) {
          add(
            [...p, end],
            `"${v}" is not a node, a group, a network or a CIDR`,
            didYouMean(
              v,
              [...nodeNames, ...Object.keys(doc.groups), ...networkNames],
              'nodes, groups and networks',
            ),
          );
        }
      }
    }
    for (const end of ['from', 'to'] as const) {
      const v = rule[end];
      const members = doc.groups[v] ?? (v in doc.nodes ? [v] : []);
      const bare = members.filter((m) => doc.nodes[m] && doc.nodes[m]!.interfaces.length === 0);
      if (bare.length && bare.length === members.length)
        add(
          [...p, end],
          `${v} has no interfaces, so no address to match`,
          'attach the node to a network, or remove the policy',
        );
    }
    const out: LabPolicy = { action, from: rule.from, to: rule.to, proto: rule.proto };
    if (rule.port !== undefined) {
      if (rule.proto !== 'tcp' && rule.proto !== 'udp') {
        add([...p, 'port'], `a port needs proto tcp or udp, not ${rule.proto}`, 'add proto: tcp');
      }
      const [lo, hi] = String(rule.port).split('-').map(Number) as [number, number | undefined];
      const max = hi ?? lo;
      if (lo < 1 || max > 65535 || max < lo)
        add(
          [...p, 'port'],
          `port "${rule.port}" is not a port or range within 1-65535`,
          'e.g. 80 or 8000-8080',
        );
      else out.port = { min: lo, max };
    }
    policies.push(out);
  });

  // ---- expect
  const expectations: Lab['expect'] = [];
  doc.expect.forEach((e, i) => {
    const p = ['expect', i];
    if (!(e.from in doc.nodes))
      add([...p, 'from'], `expect from unknown node "${e.from}"`, didYouMean(e.from, nodeNames, 'nodes'));
    else if (doc.nodes[e.from]!.interfaces.length === 0)
      add([...p, 'from'], `node ${e.from} has no interfaces to probe from`, 'attach it to a network');
    if (!(e.to in doc.nodes) && !isIPv4(e.to))
      add(
        [...p, 'to'],
        `expect to "${e.to}": not a node or an IPv4 address`,
        didYouMean(e.to, nodeNames, 'nodes'),
      );
    if (e.from === e.to) add([...p, 'to'], `expect from ${e.from} to itself`, 'probe another node');
    if (e.proto === 'icmp' && e.port !== undefined)
      add([...p, 'port'], 'icmp has no port', 'remove port, or use proto tcp or udp');
    if (e.proto !== 'icmp' && e.port === undefined)
      add(p, `expect ${e.proto} needs a port`, `add port: 80 (for example)`);
    expectations.push({ from: e.from, to: e.to, proto: e.proto, port: e.port, result: e.result });
  });

  // ---- ovn
  const ovn = doc.ovn;
  if (!isIPv4(ovn.encap.ip))
    add(
      ['ovn', 'encap', 'ip'],
      `encap ip "${ovn.encap.ip}" is not an IPv4 address`,
      'the address other chassis reach this one on, e.g. 127.0.0.1 for one host',
    );
  for (const key of ['remote', 'nb'] as const) {
    const v = ovn[key];
    if (v !== undefined && !REMOTE_RE.test(v))
      add(
        ['ovn', key],
        `ovn ${key} "${v}" is not an OVSDB remote`,
        'e.g. unix:/var/run/ovn/ovnsb_db.sock or tcp:192.0.2.10:6642',
      );
  }
  if (ovn.nb !== undefined && ovn.remote === undefined)
    add(
      ['ovn', 'nb'],
      'ovn.nb needs ovn.remote (the southbound DB of the same central)',
      'add remote: tcp:HOST:6642',
    );
  if (!/^[a-z][a-z0-9-]{0,14}$/.test(ovn.bridge))
    add(['ovn', 'bridge'], `bridge "${ovn.bridge}" is not a valid bridge name`, 'usually br-int');

  if (issues.length) return { issues };
  const lab: Lab = {
    name: doc.name,
    defaults: doc.defaults,
    networks,
    routers,
    nodes,
    groups,
    loadBalancers,
    policies,
    expect: expectations,
    ovn: { ...ovn, encap: { ...ovn.encap } },
  };
  return { lab, issues };
}

function checkHostIp(
  text: string,
  subnet: Cidr,
  cidrText: string,
  path: PathSeg[],
  add: (path: PathSeg[], message: string, hint?: string) => void,
): number | undefined {
  if (isIPv6(text)) {
    add(
      path,
      `${text} is an IPv6 address on the IPv4 subnet ${cidrText}`,
      `use an IPv4 address in ${cidrText}`,
    );
    return undefined;
  }
  if (!isIPv4(text)) {
    add(path, `"${text}" is not an IPv4 address`, `e.g. ${intToIp(firstHost(subnet) + 9)}`);
    return undefined;
  }
  const ip = ipToInt(text);
  if (!contains(subnet, ip)) {
    add(path, `${text} is outside the subnet ${cidrText}`, `use an address in ${cidrText}`);
    return undefined;
  }
  if (ip === subnet.base) {
    add(
      path,
      `${text} is the network address of ${cidrText}`,
      `use a host address, e.g. ${intToIp(firstHost(subnet) + 9)}`,
    );
    return undefined;
  }
  if (ip === broadcast(subnet)) {
    add(
      path,
      `${text} is the broadcast address of ${cidrText}`,
      `use a host address, e.g. ${intToIp(firstHost(subnet) + 9)}`,
    );
    return undefined;
  }
  return ip;
}
