/**
 * The OVN northbound database (central, shared by every chassis) and the southbound view of bindings.
 * A lab's rows are found by external_ids:labctl-lab; writes go through one ovn-nbctl transaction.
 */
import { run } from '../exec.js';
import { EXTID_LAB } from '../plan/types.js';
import { joinCommands } from './ovs.js';
import { bool, list, map, num, parseTables, q, str } from './ovsdb-json.js';

export interface NbSwitch {
  uuid: string;
  name: string;
  externalIds: Record<string, string>;
  otherConfig: Record<string, string>;
  acls: string[];
  ports: string[];
  loadBalancers: string[];
  /** DNS rows (uuids) the switch answers from (docs/dhcp-dns.md) */
  dnsRecords?: string[];
}
export interface NbSwitchPort {
  uuid: string;
  name: string;
  type: string;
  addresses: string[];
  options: Record<string, string>;
  externalIds: Record<string, string>;
  up?: boolean;
  /** the DHCP_Options row (uuid) OVN answers this port's DHCPv4 from */
  dhcpv4Options?: string;
  /** … and its DHCPv6 */
  dhcpv6Options?: string;
}
export interface NbRouter {
  uuid: string;
  name: string;
  externalIds: Record<string, string>;
  staticRoutes: string[];
  options: Record<string, string>;
  nat: string[];
  loadBalancers: string[];
}
export interface NbNat {
  uuid: string;
  type: string;
  externalIp: string;
  logicalIp: string;
  externalIds: Record<string, string>;
}
export interface NbLoadBalancer {
  uuid: string;
  name: string;
  vips: Record<string, string>;
  protocol: string;
  externalIds: Record<string, string>;
}
export interface NbRouterPort {
  uuid: string;
  name: string;
  mac: string;
  networks: string[];
  externalIds: Record<string, string>;
  /** IPv6 router advertisement settings (empty: none are sent) */
  raConfigs?: Record<string, string>;
  /** Gateway_Chassis rows of a distributed gateway port (uuids; their rows are in NbLabState.gatewayChassis) */
  gatewayChassis: string[];
}
/** A Gateway_Chassis row (labelled with the lab: found by external_ids like every other row of a lab). */
export interface NbGatewayChassis {
  uuid: string;
  name: string;
  chassisName: string;
  priority: number;
}
export interface NbAcl {
  uuid: string;
  direction: string;
  priority: number;
  match: string;
  action: string;
  name: string;
  externalIds: Record<string, string>;
}
export interface NbRoute {
  uuid: string;
  prefix: string;
  nexthop: string;
  externalIds: Record<string, string>;
}

export interface NbDhcpOptions {
  uuid: string;
  cidr: string;
  options: Record<string, string>;
  externalIds: Record<string, string>;
}
export interface NbDns {
  uuid: string;
  records: Record<string, string>;
  externalIds: Record<string, string>;
}

export interface NbLabState {
  switches: NbSwitch[];
  ports: NbSwitchPort[];
  routers: NbRouter[];
  routerPorts: NbRouterPort[];
  acls: NbAcl[];
  routes: NbRoute[];
  nat: NbNat[];
  loadBalancers: NbLoadBalancer[];
  /** absent in states read before DHCP/DNS existed (fixtures): none */
  dhcpOptions?: NbDhcpOptions[];
  dns?: NbDns[];
  /** Gateway_Chassis rows of the lab's gateway ports (absent in states read before gateways existed) */
  gatewayChassis?: NbGatewayChassis[];
}

export interface PortBindingState {
  logicalPort: string;
  chassis: string;
  up?: boolean;
}

export interface OvnDriver {
  readLab(lab?: string): Promise<NbLabState>;
  transact(commands: string[][]): Promise<void>;
  /** Port_Binding rows for these logical ports, with the chassis name they are bound to. */
  bindings(ports: string[]): Promise<PortBindingState[]>;
  /** Wait (bounded) until every chassis has installed the current NB contents; false on timeout. */
  syncHypervisors(timeoutS: number): Promise<boolean>;
  /** Names of every lab that has rows in NB. */
  labs(): Promise<string[]>;
}

export const OVN_TIMEOUT_S = 20;

export function ovnDriver(opts: { nb?: string; sb?: string } = {}): OvnDriver {
  const nbArgs = opts.nb ? [`--db=${opts.nb}`] : [];
  const sbArgs = opts.sb ? [`--db=${opts.sb}`] : [];
  const nbctl = (args: string[]) =>
    run('ovn-nbctl', [`--timeout=${OVN_TIMEOUT_S}`, ...nbArgs, ...args], {
      timeoutMs: OVN_TIMEOUT_S * 1000 + 5000,
    });
  const sbctl = (args: string[]) =>
    run('ovn-sbctl', [`--timeout=${OVN_TIMEOUT_S}`, ...sbArgs, ...args], {
      timeoutMs: OVN_TIMEOUT_S * 1000 + 5000,
    });
  const fmt = ['--format=json', '--data=json'];

  return {
    async readLab(lab) {
      const cond =
        lab === undefined ? `external_ids:${EXTID_LAB}!=""` : `external_ids:${EXTID_LAB}=${q(lab)}`;
      const r = await nbctl([
        ...fmt,
        ...joinCommands([
          [
            '--columns=_uuid,name,external_ids,other_config,acls,ports,load_balancer,dns_records',
            'find',
            'Logical_Switch',
            cond,
          ],
          [
            '--columns=_uuid,name,type,addresses,options,external_ids,up,dhcpv4_options,dhcpv6_options',
            'find',
            'Logical_Switch_Port',
            cond,
          ],
          [
            '--columns=_uuid,name,external_ids,static_routes,options,nat,load_balancer',
            'find',
            'Logical_Router',
            cond,
          ],
          [
            '--columns=_uuid,name,mac,networks,external_ids,ipv6_ra_configs,gateway_chassis',
            'find',
            'Logical_Router_Port',
            cond,
          ],
          ['--columns=_uuid,direction,priority,match,action,name,external_ids', 'find', 'ACL', cond],
          ['--columns=_uuid,ip_prefix,nexthop,external_ids', 'find', 'Logical_Router_Static_Route', cond],
          ['--columns=_uuid,type,external_ip,logical_ip,external_ids', 'find', 'NAT', cond],
          ['--columns=_uuid,name,vips,protocol,external_ids', 'find', 'Load_Balancer', cond],
          ['--columns=_uuid,cidr,options,external_ids', 'find', 'DHCP_Options', cond],
          ['--columns=_uuid,records,external_ids', 'find', 'DNS', cond],
          ['--columns=_uuid,name,chassis_name,priority', 'find', 'Gateway_Chassis', cond],
        ]),
      ]);
      const [
        ls = [],
        lsp = [],
        lr = [],
        lrp = [],
        acl = [],
        routes = [],
        nat = [],
        lbs = [],
        dhcp = [],
        dns = [],
        gcs = [],
      ] = parseTables(r.stdout);
      return {
        switches: ls.map((x) => ({
          uuid: str(x, '_uuid'),
          name: str(x, 'name'),
          externalIds: map(x, 'external_ids'),
          otherConfig: map(x, 'other_config'),
          acls: list(x, 'acls'),
          ports: list(x, 'ports'),
          loadBalancers: list(x, 'load_balancer'),
          dnsRecords: list(x, 'dns_records'),
        })),
        ports: lsp.map((x) => ({
          uuid: str(x, '_uuid'),
          name: str(x, 'name'),
          type: str(x, 'type'),
          addresses: list(x, 'addresses'),
          options: map(x, 'options'),
          externalIds: map(x, 'external_ids'),
          up: bool(x, 'up'),
          ...(str(x, 'dhcpv4_options') ? { dhcpv4Options: str(x, 'dhcpv4_options') } : {}),
          ...(str(x, 'dhcpv6_options') ? { dhcpv6Options: str(x, 'dhcpv6_options') } : {}),
        })),
        routers: lr.map((x) => ({
          uuid: str(x, '_uuid'),
          name: str(x, 'name'),
          externalIds: map(x, 'external_ids'),
          staticRoutes: list(x, 'static_routes'),
          options: map(x, 'options'),
          nat: list(x, 'nat'),
          loadBalancers: list(x, 'load_balancer'),
        })),
        routerPorts: lrp.map((x) => ({
          uuid: str(x, '_uuid'),
          name: str(x, 'name'),
          mac: str(x, 'mac'),
          networks: list(x, 'networks'),
          externalIds: map(x, 'external_ids'),
          raConfigs: map(x, 'ipv6_ra_configs'),
          gatewayChassis: list(x, 'gateway_chassis'),
        })),
        acls: acl.map((x) => ({
          uuid: str(x, '_uuid'),
          direction: str(x, 'direction'),
          priority: num(x, 'priority') ?? 0,
          match: str(x, 'match'),
          action: str(x, 'action'),
          name: str(x, 'name'),
          externalIds: map(x, 'external_ids'),
        })),
        routes: routes.map((x) => ({
          uuid: str(x, '_uuid'),
          prefix: str(x, 'ip_prefix'),
          nexthop: str(x, 'nexthop'),
          externalIds: map(x, 'external_ids'),
        })),
        nat: nat.map((x) => ({
          uuid: str(x, '_uuid'),
          type: str(x, 'type'),
          externalIp: str(x, 'external_ip'),
          logicalIp: str(x, 'logical_ip'),
          externalIds: map(x, 'external_ids'),
        })),
        loadBalancers: lbs.map((x) => ({
          uuid: str(x, '_uuid'),
          name: str(x, 'name'),
          vips: map(x, 'vips'),
          protocol: str(x, 'protocol'),
          externalIds: map(x, 'external_ids'),
        })),
        dhcpOptions: dhcp.map((x) => ({
          uuid: str(x, '_uuid'),
          cidr: str(x, 'cidr'),
          options: map(x, 'options'),
          externalIds: map(x, 'external_ids'),
        })),
        dns: dns.map((x) => ({
          uuid: str(x, '_uuid'),
          records: map(x, 'records'),
          externalIds: map(x, 'external_ids'),
        })),
        gatewayChassis: gcs.map((x) => ({
          uuid: str(x, '_uuid'),
          name: str(x, 'name'),
          chassisName: str(x, 'chassis_name'),
          priority: num(x, 'priority') ?? 0,
        })),
      };
    },
    async transact(commands) {
      if (!commands.length) return;
      await nbctl(joinCommands(commands));
    },
    async bindings(ports) {
      if (!ports.length) return [];
      const r = await sbctl([
        ...fmt,
        ...joinCommands([
          ['--columns=logical_port,chassis,up', 'list', 'Port_Binding'],
          ['--columns=_uuid,name', 'list', 'Chassis'],
        ]),
      ]);
      const [pb = [], ch = []] = parseTables(r.stdout);
      const chassisName = new Map(ch.map((c) => [str(c, '_uuid'), str(c, 'name')]));
      const want = new Set(ports);
      return pb
        .filter((p) => want.has(str(p, 'logical_port')))
        .map((p) => ({
          logicalPort: str(p, 'logical_port'),
          chassis: chassisName.get(str(p, 'chassis')) ?? '',
          up: bool(p, 'up'),
        }));
    },
    async syncHypervisors(timeoutS) {
      // Bounded: --wait=hv waits for every chassis, and one unhealthy chassis would make it wait forever.
      const r = await run('ovn-nbctl', [`--timeout=${timeoutS}`, ...nbArgs, '--wait=hv', 'sync'], {
        timeoutMs: timeoutS * 1000 + 5000,
        reject: false,
      });
      return r.exitCode === 0;
    },
    async labs() {
      const s = await this.readLab();
      const names = new Set<string>();
      for (const rows of [
        s.switches,
        s.routers,
        s.ports,
        s.acls,
        s.loadBalancers,
        s.dhcpOptions ?? [],
        s.dns ?? [],
      ])
        for (const x of rows) if (x.externalIds[EXTID_LAB]) names.add(x.externalIds[EXTID_LAB]!);
      return [...names].sort();
    },
  };
}
