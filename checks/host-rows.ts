/**
 * The host layer reuses src/host's report (probeHost + evaluateHost: one structured row per component, with
 * cause and fix). Each host check file picks its rows; this maps a row to a CheckResult. A row the report marks
 * blockedBy (not checkable because a lower row failed) becomes followsFrom that row's result.
 */
import { isSafeHostStart } from '../src/doctor/causes.js';
import type { HostCheck, HostCheckId } from '../src/host/report.js';
import type { DoctorCheck, DoctorContext } from './runner.js';
import type { CheckResult } from './types.js';

/** Where each host report row lands: the doctor check id and the subject. */
export const HOST_ROW_TARGET: Partial<Record<HostCheckId, { id: string; subject: string }>> = {
  tools: { id: 'host.tools', subject: 'tools' },
  dockerd: { id: 'host.dockerd', subject: 'dockerd' },
  'ovsdb-server': { id: 'host.ovsdb', subject: 'ovsdb-server' },
  'ovs-vswitchd': { id: 'host.ovs-vswitchd', subject: 'ovs-vswitchd' },
  'ovn-nb': { id: 'host.ovn-nb', subject: 'OVN NB' },
  'ovn-sb': { id: 'host.ovn-sb', subject: 'OVN SB' },
  'ovn-northd': { id: 'host.ovn-northd', subject: 'ovn-northd' },
  'ovn-controller': { id: 'host.ovn-controller', subject: 'ovn-controller' },
  'chassis.system-id': { id: 'host.chassis-keys', subject: 'system-id' },
  'chassis.ovn-remote': { id: 'host.chassis-keys', subject: 'ovn-remote' },
  'chassis.encap': { id: 'host.chassis-keys', subject: 'ovn-encap-type/ip' },
  'chassis.datapath-type': { id: 'host.chassis-keys', subject: 'ovn-bridge-datapath-type' },
  'sb-connection': { id: 'host.sb-connection', subject: 'ovn-controller → SB' },
  'chassis.registered': { id: 'host.chassis', subject: 'chassis' },
  'br-int': { id: 'host.datapath', subject: 'br-int' },
};

export function rowToResult(
  check: Pick<DoctorCheck, 'id' | 'layer'>,
  row: HostCheck,
  subject: string,
): CheckResult {
  const base: CheckResult = {
    id: check.id,
    layer: check.layer,
    subject,
    status: 'pass',
    evidence: row.detail,
    data: { row: row.id },
  };
  if (row.ok)
    return row.required ? base : { ...base, status: row.detail.startsWith('not checked') ? 'skip' : 'pass' };
  if (!row.required) return { ...base, status: 'warn', ...(row.fix ? { fix: row.fix } : {}) };
  const r: CheckResult = { ...base, status: 'fail' };
  if (row.cause) r.cause = row.cause;
  if (row.fix) r.fix = row.fix;
  if (row.blockedBy) {
    const t = HOST_ROW_TARGET[row.blockedBy];
    if (t) r.followsFrom = `${t.id} ${t.subject}`;
  }
  return r;
}

/** A host check: the report rows it reports, in order. */
export function hostCheck(
  id: string,
  title: string,
  rows: HostCheckId[],
  extra: Partial<DoctorCheck> = {},
): DoctorCheck {
  const check: DoctorCheck = {
    id,
    layer: 'host',
    title,
    async run(ctx: DoctorContext) {
      const report = await ctx.facts.hostReport();
      const out: CheckResult[] = [];
      for (const rowId of rows) {
        const row = report.checks.find((c) => c.id === rowId);
        const subject = HOST_ROW_TARGET[rowId]?.subject ?? rowId;
        if (!row) {
          out.push({
            id,
            layer: 'host',
            subject,
            status: 'skip',
            evidence: 'not reported by the host probe',
          });
          continue;
        }
        out.push(rowToResult(check, row, subject));
      }
      return out;
    },
    ...extra,
  };
  return check;
}

/**
 * The --fix of host checks: src/host's start logic (idempotent: starts only what is down, repairs the chassis keys
 * and br-int), applied when the row's fix is a plain host start, optionally onto a datapath this kernel supports
 * (always a repair). Read from the row's fix as data (its FixAction), never from the printed line; another encap or
 * southbound remote is left to the user.
 */
export async function fixWithHostStart(ctx: DoctorContext, result: CheckResult): Promise<string | undefined> {
  if (!ctx.startHost || result.status !== 'fail') return undefined;
  const rowId = result.data?.row;
  if (typeof rowId !== 'string') return undefined;
  const row = (await ctx.facts.hostReport()).checks.find((c) => c.id === rowId);
  const action = row?.action;
  if (!isSafeHostStart(action)) return undefined;
  const changes = await ctx.startHost(action.datapath ? { datapath: action.datapath } : {});
  return changes.length
    ? `labctl host start: ${changes.join('; ')}`
    : 'labctl host start: nothing needed starting';
}
