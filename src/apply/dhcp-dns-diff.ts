/**
 * The DHCP_Options and DNS rows of a lab (docs/dhcp-dns.md) against the plan: part of diffNb, pure. A node record
 * changes in the `structure` transaction — the one that readdresses the port — and a translated address's record
 * (a NAT rule's public address, a load balancer's VIP) in the `late` one, which moves the rule; new names come in
 * `late` (their ports are bound by then), names that go leave in `structure`: a name never points at an address
 * that is not (or no longer) live.
 */
import type { NbLabState } from '../drivers/ovn.js';
import { extIds, q } from '../drivers/ovsdb-json.js';
import { isTranslationRecord, type Plan } from '../plan/types.js';
import type { ChangeOp, NbPhase } from './changes.js';

type Emit = (phase: NbPhase, op: ChangeOp, summary: string, commands: string[][]) => void;

const sameMap = (a: Record<string, string>, b: Record<string, string>) => {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
};

/**
 * DHCP_Options rows: one per network with dhcp: true (external_ids:labctl-network), created, updated in place or
 * destroyed. Returns the reference (uuid, or the @id of a row this transaction creates) per network, for the ports.
 */
export function diffDhcpOptions(
  plan: Plan,
  nb: NbLabState,
  emit: Emit,
  nextId: () => number,
): Map<string, string> {
  const refs = new Map<string, string>();
  const have = new Map<string, NbLabState['dhcpOptions'] & object>();
  for (const row of nb.dhcpOptions ?? []) {
    const net = row.externalIds['labctl-network'] ?? '';
    have.set(net, [...(have.get(net) ?? []), row]);
  }
  for (const sw of plan.switches) {
    if (!sw.dhcp) continue;
    const rows = have.get(sw.network) ?? [];
    const cur = rows[0];
    const opts = Object.entries(sw.dhcp.options).map(([k, v]) => `options:${q(k)}=${q(v)}`);
    const desc = `${sw.dhcp.cidr} server ${sw.dhcp.options.server_id}`;
    if (!cur) {
      const id = `@dhcp${nextId()}`;
      emit('structure', '+', `add DHCP options of ${sw.name} (${desc})`, [
        [
          `--id=${id}`,
          'create',
          'DHCP_Options',
          `cidr=${q(sw.dhcp.cidr)}`,
          ...opts,
          ...extIds(sw.dhcp.externalIds),
        ],
      ]);
      refs.set(sw.network, id);
    } else {
      refs.set(sw.network, cur.uuid);
      if (
        cur.cidr !== sw.dhcp.cidr ||
        !sameMap(cur.options, sw.dhcp.options) ||
        !sameMap(cur.externalIds, sw.dhcp.externalIds)
      )
        emit('structure', '~', `update DHCP options of ${sw.name} (${desc})`, [
          ['clear', 'DHCP_Options', cur.uuid, 'options'],
          [
            'set',
            'DHCP_Options',
            cur.uuid,
            `cidr=${q(sw.dhcp.cidr)}`,
            ...opts,
            ...extIds(sw.dhcp.externalIds),
          ],
        ]);
    }
  }
  // rows no network wants (dhcp turned off, network gone, a duplicate): ports lose the weak reference with them
  for (const [net, rows] of have)
    for (const row of rows)
      if (refs.get(net) !== row.uuid)
        emit('late', '-', `remove DHCP options ${row.cidr} (${net || 'no network'})`, [
          ['--if-exists', 'destroy', 'DHCP_Options', row.uuid],
        ]);
  return refs;
}

/** The port's DHCPv4 link: the options of its network when its interface has ip: dhcp, else none. */
export function dhcpPortCommands(
  port: string,
  want: string | undefined,
  have: string | undefined,
): { summary: string; commands: string[][] } | undefined {
  if (want === have) return undefined;
  if (want)
    return {
      summary: `link port ${port} to its network's DHCP options`,
      commands: [['set', 'Logical_Switch_Port', port, `dhcpv4_options=${want}`]],
    };
  if (have)
    return {
      summary: `unlink port ${port} from DHCP options`,
      commands: [['clear', 'Logical_Switch_Port', port, 'dhcpv4_options']],
    };
  return undefined;
}

/**
 * The lab's DNS row: created with every record and attached to every lab switch; then converged record by record
 * (node names with the ports in `structure`, public names with the NAT rules in `late`); destroyed when dns: goes.
 */
export function diffDns(plan: Plan, nb: NbLabState, emit: Emit, nextId: () => number): void {
  const rows = nb.dns ?? [];
  const cur = rows[0];
  const holders = (uuid: string) =>
    nb.switches.filter((s) => s.dnsRecords?.includes(uuid)).map((s) => s.name);
  const drop = (row: { uuid: string }) => {
    const cmds: string[][] = holders(row.uuid).map((s) => [
      'remove',
      'Logical_Switch',
      s,
      'dns_records',
      row.uuid,
    ]);
    cmds.push(['--if-exists', 'destroy', 'DNS', row.uuid]);
    emit('late', '-', `remove DNS records ${row.uuid.slice(0, 8)}`, cmds);
  };
  for (const row of rows.slice(plan.dns ? 1 : 0)) drop(row);
  if (!plan.dns) return;
  const L = plan.lab;
  const want = plan.dns.records;
  let ref: string;
  if (!cur) {
    ref = `@dns${nextId()}`;
    emit('structure', '+', `add DNS records of ${L} (${Object.keys(want).length} names)`, [
      [
        `--id=${ref}`,
        'create',
        'DNS',
        ...Object.entries(want).map(([k, v]) => `records:${q(k)}=${q(v)}`),
        ...extIds(plan.dns.externalIds),
      ],
    ]);
  } else {
    ref = cur.uuid;
    // A changed node name moves with its port (structure); a new name, or a translated address's (NAT, VIP), once
    // its address is live (late); a name that goes, at once (structure): never a name for a dead address.
    for (const [name, ips] of Object.entries(want))
      if (cur.records[name] !== ips)
        emit(
          cur.records[name] === undefined || isTranslationRecord(plan, name) ? 'late' : 'structure',
          cur.records[name] === undefined ? '+' : '~',
          `DNS ${name} → ${ips}${cur.records[name] === undefined ? '' : ` (was ${cur.records[name]})`}`,
          [['set', 'DNS', ref, `records:${q(name)}=${q(ips)}`]],
        );
    for (const name of Object.keys(cur.records))
      if (!(name in want))
        emit('structure', '-', `DNS ${name} (was ${cur.records[name]})`, [
          ['remove', 'DNS', ref, 'records', q(name)],
        ]);
    if (!sameMap(cur.externalIds, plan.dns.externalIds))
      emit('structure', '~', `relabel DNS records of ${L}`, [
        ['set', 'DNS', ref, ...extIds(plan.dns.externalIds)],
      ]);
  }
  const attached = new Set(cur ? holders(cur.uuid) : []);
  for (const sw of plan.switches)
    if (!attached.has(sw.name))
      emit('structure', '+', `answer DNS of ${L} on ${sw.name}`, [
        ['add', 'Logical_Switch', sw.name, 'dns_records', ref],
      ]);
}
