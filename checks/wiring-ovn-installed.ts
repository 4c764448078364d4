/** ovn-controller has installed the port's flows: external_ids:ovn-installed="true" on its OVS interface. */
import { ovsPortOf } from '../src/plan/types.js';
import type { DoctorCheck } from './runner.js';
import { RECOMPUTE, wiringBinding } from './wiring-binding.js';
import { fail, pass, perIface, upCommand } from './wiring-common.js';

export const wiringOvnInstalled: DoctorCheck = {
  id: 'wiring.ovn-installed',
  layer: 'wiring',
  title: 'flows installed (ovn-installed)',
  run(ctx) {
    return perIface(this, ctx, async ({ iface }) => {
      const row = (await ctx.facts.ovs()).byName.get(ovsPortOf(iface));
      if (!row)
        return fail('iface-id-mismatch', `${ovsPortOf(iface)} is not an OVS interface`, upCommand(ctx));
      const v = row.externalIds['ovn-installed'];
      if (v !== 'true')
        return fail(
          'port-unbound',
          `${ovsPortOf(iface)}: external_ids:ovn-installed is ${v ? `"${v}"` : 'not set'}, expected "true"`,
          RECOMPUTE,
        );
      return pass(`${ovsPortOf(iface)} ovn-installed`);
    });
  },
  fix: (ctx, result) => wiringBinding.fix!(ctx, result),
};
