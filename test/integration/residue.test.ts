/**
 * The zero-residue helper itself, on the real NB: a row labelled with a lab in any table labctl writes must count
 * as residue. The test writes one labelled row in each of those tables itself (ovn-nbctl, one transaction, rows
 * of a lab name no other test uses), checks residue() sees every one, and removes them again whatever happens.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { daemonsUp, NB_LABELLED_TABLES, nbRowsOfLab, ovsdbFind, residue, sh } from '../helpers/labctl.js';

const LAB = 'it-residue';
const LABEL = `external_ids:labctl-lab=${LAB}`;
const SWITCH = `${LAB}-ls`;
const ROUTER = `${LAB}-lr`;
const ROOT_TABLES = [
  'Logical_Switch',
  'Logical_Router',
  'Load_Balancer',
  'Port_Group',
  'Address_Set',
  'DHCP_Options',
  'DNS',
];
const up = await daemonsUp();

/** Remove the lab's root rows, by label (the other tables' rows hang off them and are collected with them). */
async function removeRows(): Promise<void> {
  for (const table of ROOT_TABLES) {
    const uuids = (await ovsdbFind('ovn-nbctl', table, ['_uuid'], [LABEL])).map((r) => String(r._uuid));
    if (uuids.length) await sh('ovn-nbctl', ['--timeout=10', 'destroy', table, ...uuids]);
  }
}

describe.runIf(up)('residue() counts every NB table labctl writes', () => {
  beforeAll(async () => {
    await removeRows();
  });
  afterAll(async () => {
    await removeRows();
    expect(await residue(LAB)).toEqual({ containers: [], ovs: 0, links: [], nb: 0, state: false });
  });

  it('finds a labelled row in each table, and nothing once they are gone', async () => {
    expect(await nbRowsOfLab(LAB)).toEqual({});
    const L = LABEL;
    await sh('ovn-nbctl', [
      '--timeout=10',
      '--',
      '--id=@acl',
      'create',
      'ACL',
      'direction=to-lport',
      'priority=1001',
      'match="ip4"',
      'action=allow',
      L,
      '--',
      '--id=@qos',
      'create',
      'QoS',
      'direction=to-lport',
      'priority=100',
      'match="ip4"',
      'action:dscp=10',
      L,
      '--',
      '--id=@lsp',
      'create',
      'Logical_Switch_Port',
      `name=${LAB}-lsp`,
      L,
      '--',
      'create',
      'Logical_Switch',
      `name=${SWITCH}`,
      'ports=@lsp',
      'acls=@acl',
      'qos_rules=@qos',
      L,
      '--',
      '--id=@lrp',
      'create',
      'Logical_Router_Port',
      `name=${LAB}-lrp`,
      'mac="02:00:00:00:6e:01"',
      'networks="10.68.1.1/24"',
      L,
      '--',
      '--id=@route',
      'create',
      'Logical_Router_Static_Route',
      'ip_prefix="10.68.2.0/24"',
      'nexthop="10.68.1.2"',
      L,
      '--',
      '--id=@nat',
      'create',
      'NAT',
      'type=snat',
      'external_ip="192.0.2.68"',
      'logical_ip="10.68.1.0/24"',
      L,
      '--',
      '--id=@policy',
      'create',
      'Logical_Router_Policy',
      'priority=10',
      'match="ip4"',
      'action=allow',
      L,
      '--',
      'create',
      'Logical_Router',
      `name=${ROUTER}`,
      'ports=@lrp',
      'static_routes=@route',
      'nat=@nat',
      'policies=@policy',
      L,
      '--',
      'create',
      'Load_Balancer',
      `name=${LAB}-lb`,
      L,
      '--',
      'create',
      'Port_Group',
      `name=${LAB.replace(/-/g, '_')}_pg`,
      L,
      '--',
      'create',
      'Address_Set',
      `name=${LAB.replace(/-/g, '_')}_as`,
      L,
      '--',
      'create',
      'DHCP_Options',
      'cidr="10.68.1.0/24"',
      L,
      '--',
      'create',
      'DNS',
      L,
    ]);
    const rows = await nbRowsOfLab(LAB);
    expect(rows).toEqual(Object.fromEntries(NB_LABELLED_TABLES.map((t) => [t, 1])));
    const r = await residue(LAB);
    expect(r.nb).toBe(NB_LABELLED_TABLES.length);
    expect(r.nbTables).toEqual(rows);

    await removeRows();
    expect(await nbRowsOfLab(LAB)).toEqual({});
  });
});
