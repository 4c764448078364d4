/**
 * Exactly one OVS Interface carries the port's iface-id, and it is the planned host-side veth: on the integration
 * bridge, ofport > 0, error column empty. Reads every Interface row, so a foreign row claiming our iface-id shows.
 */

import { extIds } from '../src/drivers/ovsdb-json.js';
import { ovsPortOf } from '../src/plan/types.js';
import type { OvsIfaceRow } from './facts.js';
import type { DoctorCheck } from './runner.js';
import type { Cause } from './types.js';
import { RECOMPUTE } from './wiring-binding.js';
import { command, fail, fixByConverge, pass, perIface, refOf, upCommand } from './wiring-common.js';

/** Name the cause of an OVS interface error (the error column's text, from ovs-vswitchd). */
export function classifyOvsError(row: OvsIfaceRow, bridgeDatapath: string | undefined): Cause {
  if (/No such device/i.test(row.error)) return 'link-missing';
  if (
    (bridgeDatapath ?? '') !== 'netdev' &&
    /Address family not supported|datapath|dpif|Operation not supported/i.test(row.error)
  )
    return 'datapath-unsupported';
  return 'port-unbound';
}

export const wiringOvsPort: DoctorCheck = {
  id: 'wiring.ovs-port',
  layer: 'wiring',
  title: 'OVS interface with the iface-id',
  run(ctx) {
    return perIface(this, ctx, async ({ iface }) => {
      const ovs = await ctx.facts.ovs();
      const bridge = ctx.plan.ovn.bridge;
      const row = ovs.byName.get(ovsPortOf(iface));
      const claimants = ovs.byIfaceId.get(iface.lsp) ?? [];
      const others = claimants.filter((c) => c.name !== ovsPortOf(iface));
      const setId = command(
        'ovs-vsctl',
        'set',
        'Interface',
        ovsPortOf(iface),
        `external_ids:iface-id=${iface.lsp}`,
      );
      if (!row) {
        const who = others.length
          ? `; iface-id ${iface.lsp} is claimed by ${others.map((o) => o.name).join(', ')}`
          : '';
        return fail(
          'iface-id-mismatch',
          `${ovsPortOf(iface)} is not an OVS interface (expected on ${bridge} with iface-id ${iface.lsp})${who}`,
          upCommand(ctx),
          {
            plugged: false,
          },
        );
      }
      const seen = row.externalIds['iface-id'];
      if (seen !== iface.lsp)
        return fail(
          'iface-id-mismatch',
          `${ovsPortOf(iface)} has external_ids:iface-id=${seen ?? '(none)'}, expected ${iface.lsp}`,
          setId,
          { seen: seen ?? null, expected: iface.lsp },
        );
      if (others.length)
        return fail(
          'iface-id-mismatch',
          `iface-id ${iface.lsp} is claimed by ${claimants.length} interfaces: ${claimants.map((c) => c.name).join(', ')} (expected only ${ovsPortOf(iface)})`,
          others.map((o) => command('ovs-vsctl', 'remove', 'Interface', o.name, 'external_ids', 'iface-id')),
          { claimants: claimants.map((c) => c.name) },
        );
      if (row.bridge !== bridge)
        return fail(
          'iface-id-mismatch',
          `${ovsPortOf(iface)} is on bridge ${row.bridge ?? '(none)'}, expected ${bridge}`,
          upCommand(ctx),
        );
      if (row.error || row.ofport === undefined || row.ofport <= 0) {
        const dp = ovs.bridges.find((b) => b.name === bridge)?.datapathType;
        const c = classifyOvsError(row, dp);
        const fix =
          c === 'link-missing'
            ? upCommand(ctx)
            : c === 'datapath-unsupported'
              ? ({ kind: 'host-start' } as const)
              : RECOMPUTE;
        return fail(
          c,
          `${ovsPortOf(iface)} ofport ${row.ofport ?? '(unset)'}${row.error ? `, error "${row.error}"` : ''} (expected ofport > 0, no error; ${bridge} datapath_type ${dp || 'system'})`,
          fix,
          {
            ofport: row.ofport ?? null,
            error: row.error,
          },
        );
      }
      return pass(`${ovsPortOf(iface)} on ${bridge}, iface-id ${iface.lsp}, ofport ${row.ofport}`);
    });
  },
  async fix(ctx, result) {
    const ref = refOf(ctx, result);
    if (result.cause !== 'iface-id-mismatch' || !ref) return undefined;
    if (result.data?.expected === ref.iface.lsp && 'seen' in (result.data ?? {})) {
      // our own veth relabelled: restore its external_ids (the plan's, labels included)
      await ctx.host.ovs.transact([
        ['set', 'Interface', ovsPortOf(ref.iface), ...extIds(ref.iface.ovsExternalIds)],
      ]);
      return `restored external_ids:iface-id=${ref.iface.lsp} on ${ovsPortOf(ref.iface)}`;
    }
    // a foreign interface claiming our iface-id is not ours to edit; a missing or misplaced port: converge
    if (result.data?.claimants) return undefined;
    return fixByConverge(ctx, result);
  },
};
