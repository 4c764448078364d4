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
 * DHCP_Options rows: one per network and family with dhcp: true (external_ids:labctl-network; the family is the
 * cidr's), created, updated in place or destroyed. Returns the reference (uuid, or the @id of a row this transaction
 * creates) per `network|4` and `network|6`, for the ports.
 */
export function diffDhcpOptions(
  plan: Plan,
  nb: NbLabState,
  emit: Emit,
  nextId: () => number,
): Map<string, string> {
  const refs = new Map<string, string>();
  const keyOf = (network: string, cidr: string) => `${network}|${cidr.includes(':') ? 6 : 4}`;
  const have = new Map<string, NonNullable<NbLabState['dhcpOptions']>>();
  for (const row of nb.dhcpOptions ?? []) {
    const key = keyOf(row.externalIds['labctl-network'] ?? '', row.cidr);
    have.set(key, [...(have.get(key) ?? []), row]);
  }
  for (const sw of plan.switches)
    for (const dhcp of [sw.dhcp, sw.dhcp6]) {
      if (!dhcp) continue;
      const key = keyOf(sw.network, dhcp.cidr);
      const cur = (have.get(key) ?? [])[0];
      const opts = Object.entries(dhcp.options).map(([k, v]) => `options:${q(k)}=${q(v)}`);
      const v6 = dhcp.cidr.includes(':');
      const desc = `${dhcp.cidr} server ${dhcp.options.server_id}`;
      const what = `DHCP${v6 ? 'v6' : ''} options of ${sw.name}`;
      if (!cur) {
        const id = `@dhcp${nextId()}`;
        emit('structure', '+', `add ${what} (${desc})`, [
          [
            `--id=${id}`,
            'create',
            'DHCP_Options',
            `cidr=${q(dhcp.cidr)}`,
            ...opts,
            ...extIds(dhcp.externalIds),
          ],
        ]);
        refs.set(key, id);
      } else {
        refs.set(key, cur.uuid);
        if (
          cur.cidr !== dhcp.cidr ||
          !sameMap(cur.options, dhcp.options) ||
          !sameMap(cur.externalIds, dhcp.externalIds)
        )
          emit('structure', '~', `update ${what} (${desc})`, [
            ['clear', 'DHCP_Options', cur.uuid, 'options'],
            ['set', 'DHCP_Options', cur.uuid, `cidr=${q(dhcp.cidr)}`, ...opts, ...extIds(dhcp.externalIds)],
          ]);
      }
    }
  // rows no network wants (dhcp turned off, network gone, a subnet changed, a duplicate): ports lose the weak
  // reference with them
  for (const [key, rows] of have)
    for (const row of rows)
      if (refs.get(key) !== row.uuid)
        emit(
          'late',
          '-',
          `remove DHCP options ${row.cidr} (${row.externalIds['labctl-network'] ?? 'no network'})`,
          [['--if-exists', 'destroy', 'DHCP_Options', row.uuid]],
        );
  return refs;
}

/** The port's DHCP link of one family: its network's options when its interface leases by DHCP, else none. */
export function dhcpPortCommands(
  port: string,
  column: 'dhcpv4_options' | 'dhcpv6_options',
  want: string | undefined,
  have: string | undefined,
): { summary: string; commands: string[][] } | undefined {
  if (want === have) return undefined;
  const what = column === 'dhcpv6_options' ? 'DHCPv6' : 'DHCP';
  if (want)
    return {
      summary: `link port ${port} to its network's ${what} options`,
      commands: [['set', 'Logical_Switch_Port', port, `${column}=${want}`]],
    };
  if (have)
    return {
      summary: `unlink port ${port} from ${what} options`,
      commands: [['clear', 'Logical_Switch_Port', port, column]],
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
