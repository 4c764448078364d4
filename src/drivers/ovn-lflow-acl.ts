/**
 * The northbound ACL behind a southbound logical flow: Logical_Flow external_ids:stage-hint holds the first 8 hex
 * digits of the NB row's UUID (ovn-northd sets it for ACL stages), and the ACL's owner is the logical switch or
 * port group whose `acls` holds it. Used to name the ACL an ovn-trace drop points at.
 */
import { run } from '../exec.js';
import { map, num, parseTables, str } from './ovsdb-json.js';

export interface AclRef {
  uuid: string;
  name: string;
  direction: string;
  priority: number;
  match: string;
  action: string;
  externalIds: Record<string, string>;
  /** where the ACL hangs: a logical switch or a port group */
  owner?: { kind: 'switch' | 'port-group'; name: string };
}

/** The northbound ACL behind a logical flow (by its stage-hint); undefined when the flow is not an ACL's own. */
export async function aclOfLflow(
  lflow: string,
  opts: { sb?: string; nb?: string } = {},
): Promise<AclRef | undefined> {
  if (!/^[0-9a-f]{4,36}$/.test(lflow)) return undefined;
  const sb = opts.sb ? [`--db=${opts.sb}`] : [];
  const nb = opts.nb ? [`--db=${opts.nb}`] : [];
  const json = ['--format=json', '--data=json'];
  const f = await run(
    'ovn-sbctl',
    ['--timeout=10', ...sb, ...json, '--columns=external_ids', 'list', 'Logical_Flow', lflow],
    { timeoutMs: 15_000, reject: false },
  );
  if (f.exitCode !== 0) return undefined;
  const hint = map(parseTables(f.stdout)[0]?.[0] ?? {}, 'external_ids')['stage-hint'];
  if (!hint || !/^[0-9a-f]{4,36}$/.test(hint)) return undefined;
  const a = await run(
    'ovn-nbctl',
    [
      '--timeout=10',
      ...nb,
      ...json,
      '--columns=_uuid,name,direction,priority,match,action,external_ids',
      'list',
      'ACL',
      hint,
    ],
    {
      timeoutMs: 15_000,
      reject: false,
    },
  );
  if (a.exitCode !== 0) return undefined;
  const row = parseTables(a.stdout)[0]?.[0];
  if (!row) return undefined;
  const acl: AclRef = {
    uuid: str(row, '_uuid'),
    name: str(row, 'name'),
    direction: str(row, 'direction'),
    priority: num(row, 'priority') ?? 0,
    match: str(row, 'match'),
    action: str(row, 'action'),
    externalIds: map(row, 'external_ids'),
  };
  const owners = await run(
    'ovn-nbctl',
    [
      '--timeout=10',
      ...nb,
      ...json,
      '--columns=name',
      'find',
      'Logical_Switch',
      `acls{>=}${acl.uuid}`,
      '--',
      '--columns=name',
      'find',
      'Port_Group',
      `acls{>=}${acl.uuid}`,
    ],
    { timeoutMs: 15_000, reject: false },
  );
  if (owners.exitCode === 0) {
    const [ls = [], pg = []] = parseTables(owners.stdout);
    if (ls[0]) acl.owner = { kind: 'switch', name: str(ls[0], 'name') };
    else if (pg[0]) acl.owner = { kind: 'port-group', name: str(pg[0], 'name') };
  }
  return acl;
}
