/**
 * The lab file's shape (design.md "Lab file: the core shape"), as a zod schema. Shape only: references between
 * sections, addresses and names are checked in validate.ts, where every problem can be reported at once.
 * The same schema is exported as JSON Schema by `labctl schema`, for editors.
 */
import { z } from 'zod';

const port = z.int().min(1).max(65535);
const portSpec = z.union([
  port,
  z.string().regex(/^\d{1,5}(-\d{1,5})?$/, 'expected a port or a range like 8000-8080'),
]);
const proto = z.enum(['tcp', 'udp', 'icmp', 'any']);
const probeProto = z.enum(['tcp', 'udp', 'icmp']);

const duration = z.union([z.string(), z.number().min(0)]);
export const impairSchema = z.strictObject({
  delay: duration.optional().describe('added one-way delay: 50ms, 1.5s, 500us (a number: ms)'),
  jitter: duration.optional().describe('the delay varies by ± this (uniform); needs delay'),
  loss: z
    .union([z.string(), z.number().min(0)])
    .optional()
    .describe('random loss: 1%, 0.5% (a number: %)'),
  rate: z
    .union([z.string(), z.number().min(0)])
    .optional()
    .describe('rate limit: 10mbit, 512kbit, 1gbit (a number: bit/s)'),
  direction: z
    .enum(['egress', 'both'])
    .optional()
    .describe('egress (default): traffic the node sends on it; both: also traffic to the node'),
});

export const interfaceSchema = z.union([
  z.string().describe('shorthand: the network to attach to; address and MAC are allocated'),
  z.strictObject({
    network: z.string().describe('the network (logical switch) this interface attaches to'),
    ip: z
      .string()
      .optional()
      .describe(
        'IPv4 address in the network subnet; allocated when omitted; "dhcp": the allocated address, taken by a DHCP client from OVN (docs/dhcp-dns.md)',
      ),
    ip6: z
      .string()
      .optional()
      .describe('IPv6 address in the network subnet6; allocated when omitted (docs/ipv6.md)'),
    mac: z
      .string()
      .optional()
      .describe('unicast MAC; derived from lab, node and interface name when omitted'),
    name: z.string().optional().describe('interface name inside the container; eth1, eth2, … by default'),
    mtu: z.int().min(576).max(9000).optional().describe('defaults to the network MTU'),
    impair: impairSchema
      .optional()
      .describe('link impairment of this interface (docs/impairments.md): delay, jitter, loss, rate'),
  }),
]);

export const nodeSchema = z.strictObject({
  image: z.string().min(1).optional().describe('image to run; defaults.image when omitted'),
  build: z
    .union([
      z.string().min(1),
      z.strictObject({ context: z.string().min(1), dockerfile: z.string().min(1).optional() }),
    ])
    .optional()
    .describe('build the image from this context directory (relative to the lab file)'),
  cmd: z
    .union([z.string().min(1), z.array(z.string()).min(1)])
    .optional()
    .describe('command to run'),
  env: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
  interfaces: z.array(interfaceSchema).default([]),
  listen: z
    .array(z.string())
    .default([])
    .describe('services the node itself serves, as proto/port (tcp/80, udp/53); doctor probes them'),
  chassis: z
    .string()
    .optional()
    .describe('the chassis (of chassis:) this node is placed on; the first one when omitted'),
});

export const networkSchema = z.strictObject({
  subnet: z
    .string()
    .optional()
    .describe('IPv4 CIDR, e.g. 10.0.1.0/24 (optional when subnet6 is given: an IPv6-only network)'),
  gateway: z
    .string()
    .optional()
    .describe("the router's address on this network; first host address by default"),
  mtu: z.int().min(576).max(9000).optional(),
  dhcp: z
    .boolean()
    .optional()
    .describe('OVN answers DHCP here, for interfaces with ip: dhcp (docs/dhcp-dns.md)'),
  subnet6: z
    .string()
    .optional()
    .describe('IPv6 CIDR, e.g. "fd00:a::/64": the network is dual-stack or IPv6-only'),
  ra: z
    .boolean()
    .optional()
    .describe('the router sends IPv6 router advertisements on this network (off by default; docs/ipv6.md)'),
});

export const routerLinkSchema = z.union([
  z.string(),
  z.strictObject({
    network: z.string(),
    ip: z.string().optional(),
    ip6: z
      .string()
      .optional()
      .describe("the router's IPv6 address on this network; first host address by default"),
  }),
]);

export const natSchema = z.strictObject({
  type: z.enum(['dnat_and_snat', 'snat', 'dnat']).describe('dnat_and_snat: a public address for one node'),
  external: z.string().describe('the outside (public) IPv4 or IPv6 address'),
  internal: z.string().describe('node, address of the same family, or (snat) network / CIDR'),
});

export const routerSchema = z.strictObject({
  links: z.array(routerLinkSchema).min(1),
  chassis: z
    .string()
    .optional()
    .describe("make this a gateway router bound to that host's chassis (today: local); needed for nat"),
  nat: z.array(natSchema).default([]).describe('NAT rules (gateway routers)'),
  gateway: z
    .strictObject({
      network: z.string().describe('the linked network the gateway port is on (the external side)'),
      chassis: z
        .record(z.string(), z.int().min(1).max(32767))
        .describe('chassis name → priority; the highest-priority chassis that is up is the active gateway'),
    })
    .optional()
    .describe('multi-chassis labs: an HA distributed gateway port on these chassis (docs/multichassis.md)'),
  routes: z
    .array(z.strictObject({ prefix: z.string(), via: z.string() }))
    .default([])
    .describe('static routes on this router'),
});

export const ruleSchema = z.strictObject({
  from: z.string().describe('node, group, network or CIDR'),
  to: z.string().describe('node, group, network or CIDR'),
  proto: proto.default('any'),
  port: portSpec.optional(),
});

export const policySchema = z.union([
  z.strictObject({ deny: ruleSchema }),
  z.strictObject({ allow: ruleSchema }),
]);

export const expectSchema = z.strictObject({
  from: z.string().describe('node'),
  to: z.string().describe('node, or an IPv4/IPv6 address (a public NAT address, a VIP, a node address)'),
  proto: probeProto,
  port: port.optional(),
  result: z.enum(['pass', 'blocked']).default('pass'),
});

export const loadBalancerSchema = z.strictObject({
  vip: z.string().describe('virtual IPv4 or IPv6 address'),
  port: port.optional().describe('VIP port; without it the VIP answers on every port and ICMP'),
  proto: z.enum(['tcp', 'udp']).optional().describe('with port; tcp by default'),
  backends: z.array(z.string()).min(1).describe('nodes or addresses of the VIP family'),
  backend_port: port.optional().describe('port on the backends; the VIP port by default'),
  attach: z
    .array(z.string())
    .optional()
    .describe('networks and routers to attach to; every network by default'),
});

export const ovnSchema = z.strictObject({
  remote: z
    .string()
    .optional()
    .describe('southbound DB of an existing OVN central; embedded local one when omitted'),
  nb: z.string().optional().describe('northbound DB of an existing OVN central (pairs with remote)'),
  encap: z
    .strictObject({
      type: z.enum(['geneve', 'vxlan', 'stt']).default('geneve'),
      ip: z.string().default('127.0.0.1'),
    })
    .prefault({}),
  datapath: z.enum(['auto', 'system', 'netdev']).default('auto'),
  bridge: z.string().default('br-int'),
});

// ---- scenarios (labctl run; docs/experiments.md) ----
const stepDuration = z
  .union([
    z.number().positive(),
    z.string().regex(/^\d+(\.\d+)?(ms|s)$/, 'expected a duration like 2s or 500ms'),
  ])
  .describe('seconds, or a string like 2s / 500ms');

export const flowSchema = z.strictObject({
  name: z.string().describe('names the flow in the report and in expect'),
  from: z.string().describe('the node that sends'),
  to: z
    .string()
    .describe('a node (its address when each packet is sent) or an IPv4 address (a VIP, a NAT address)'),
  proto: probeProto,
  port: port.optional().describe("tcp/udp: the port labctl's own echo listener serves"),
  rate: z.number().positive().max(1000).default(10).describe('packets (messages) per second'),
});

/** One step: exactly one of these keys (validate/scenarios.ts says so, at the step). */
export const stepSchema = z
  .strictObject({
    wait: stepDuration.optional(),
    up: z.string().min(1).optional().describe('converge to this lab file (relative to this one)'),
    readdress: z.strictObject({ node: z.string(), iface: z.string(), ip: z.string() }).optional(),
    link: z.strictObject({ node: z.string(), iface: z.string(), state: z.enum(['up', 'down']) }).optional(),
    'conntrack-flush': z
      .strictObject({ node: z.string().optional(), address: z.string().optional() })
      .optional(),
    exec: z.strictObject({ node: z.string(), cmd: z.array(z.string()).min(1) }).optional(),
    chassis: z
      .union([z.strictObject({ stop: z.string() }), z.strictObject({ start: z.string() })])
      .optional()
      .describe('stop or start a simulated chassis of a multi-chassis lab, as labctl chassis stop|start'),
    impair: impairSchema
      .extend({
        node: z.string(),
        iface: z.string(),
        clear: z.literal(true).optional().describe('take the impairment off (instead of delay/loss/…)'),
      })
      .optional()
      .describe('set (replace) or clear an interface impairment, as labctl impair does'),
  })
  .describe('one key: wait, up, readdress, link, conntrack-flush, exec, impair or chassis');

export const scenarioExpectSchema = z.strictObject({
  flow: z.string(),
  max_lost: z.int().min(0).optional(),
  max_loss_pct: z.number().min(0).max(100).optional(),
  max_gap_ms: z.number().min(0).optional(),
  tcp: z
    .union([
      z.enum(['survived', 'reset', 'stalled']),
      z.array(z.enum(['survived', 'reset', 'stalled'])).min(1),
    ])
    .optional()
    .describe('the outcome (or any of the outcomes) the tcp flow must have'),
});

export const scenarioSchema = z.strictObject({
  flows: z.array(flowSchema).min(1),
  steps: z.array(stepSchema).default([]),
  expect: z.array(scenarioExpectSchema).default([]),
});

export const chassisSchema = z.strictObject({
  kind: z
    .enum(['simulated', 'remote'])
    .default('simulated')
    .describe(
      'simulated: a chassis on this machine in its own network namespace; remote: a machine over ssh',
    ),
  ssh: z.string().optional().describe('remote: user@host labctl reaches the machine as'),
  encap_ip: z
    .string()
    .optional()
    .describe('tunnel endpoint address; simulated: allocated from underlay.subnet when omitted'),
  ssh_key: z.string().optional().describe('remote: private key file (default: ssh-agent, then ~/.ssh/id_*)'),
  known_hosts: z.string().optional().describe('remote: known_hosts file (default ~/.ssh/known_hosts)'),
  host_key: z
    .enum(['strict', 'accept-new'])
    .default('strict')
    .describe('remote: strict refuses an unknown host key; accept-new records it on first use'),
  uplink: z
    .string()
    .optional()
    .describe(
      'remote, userspace datapath: the interface labctl adds to br-phy, which gets encap_ip (a dedicated one)',
    ),
});

export const underlaySchema = z.strictObject({
  subnet: z
    .string()
    .default('172.31.250.0/24')
    .describe('IPv4 CIDR the simulated chassis take their tunnel addresses from'),
  uplink: z
    .string()
    .optional()
    .describe(
      'a host interface joined to the underlay bridge: the link to remote chassis (returned on down)',
    ),
  central_ip: z
    .string()
    .optional()
    .describe(
      "with remote chassis: the lab central's SB SSL address on the underlay (default: its last address)",
    ),
  mtu: z.int().min(1280).max(9000).default(1600).describe('MTU of the underlay links (geneve adds 58 bytes)'),
  bfd: z
    .strictObject({
      min_rx: z.int().min(1).max(10000).optional().describe('ms'),
      min_tx: z.int().min(1).max(10000).optional().describe('ms'),
      mult: z.int().min(1).max(100).optional().describe('missed packets before a session is down'),
    })
    .optional()
    .describe(
      "BFD on the tunnels (HA gateways' failure detection; OVS defaults: min_rx 1000, min_tx 100, mult 3)",
    ),
});

export const labSchema = z.strictObject({
  name: z.string().describe('[a-z0-9-], short; every object of the lab carries it'),
  defaults: z
    .strictObject({
      image: z.string().min(1).default('labctl/node'),
      mtu: z.int().min(576).max(9000).default(1500),
    })
    .prefault({}),
  networks: z.record(z.string(), networkSchema).default({}),
  routers: z.record(z.string(), routerSchema).default({}),
  nodes: z.record(z.string(), nodeSchema),
  groups: z
    .record(z.string(), z.array(z.string()).min(1))
    .default({})
    .describe('named sets of nodes (zones), usable as from/to in policies'),
  load_balancers: z.record(z.string(), loadBalancerSchema).default({}),
  policies: z.array(policySchema).default([]),
  expect: z.array(expectSchema).default([]),
  ovn: ovnSchema.prefault({}),
  scenarios: z
    .record(z.string(), scenarioSchema)
    .default({})
    .describe('experiments for labctl run: flows measured across steps'),
  chassis: z
    .record(z.string(), chassisSchema.prefault({}))
    .optional()
    .describe('multi-chassis lab: the OVN chassis its nodes are placed on (docs/multichassis.md)'),
  underlay: underlaySchema.optional().describe('the network joining simulated chassis'),
  dns: z
    .boolean()
    .optional()
    .describe(
      'OVN DNS: <node>, <node>.<lab> and <node>.public.<lab> resolve in every node (docs/dhcp-dns.md)',
    ),
});

export type LabInput = z.input<typeof labSchema>;
export type LabDoc = z.output<typeof labSchema>;

export function labJsonSchema(): Record<string, unknown> {
  return {
    $id: 'https://labctl.dev/schema/lab.json',
    title: 'labctl lab file',
    ...z.toJSONSchema(labSchema, { io: 'input', unrepresentable: 'any' }),
  };
}
