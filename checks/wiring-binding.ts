/** The port's Port_Binding is bound to this host's chassis and up. */
import { recomputeOvnController } from '../src/drivers/ovn-controller.js';
import type { DoctorCheck } from './runner.js';
import { command, fail, pass, perIface } from './wiring-common.js';

export const RECOMPUTE = command('ovn-appctl', '-t', 'ovn-controller', 'recompute');

export const wiringBinding: DoctorCheck = {
  id: 'wiring.binding',
  layer: 'wiring',
  title: 'port bound on this chassis',
  run(ctx) {
    return perIface(this, ctx, async ({ iface }) => {
      const [bindings, chassis] = await Promise.all([ctx.facts.bindings(), ctx.facts.chassisName()]);
      const b = bindings.get(iface.lsp);
      const where = chassis ?? '(this host has no system-id)';
      if (!b)
        return fail(
          'port-unbound',
          `no Port_Binding for ${iface.lsp} in SB (ovn-northd creates it from the NB port)`,
          RECOMPUTE,
        );
      if (!b.chassis)
        return fail(
          'port-unbound',
          `${iface.lsp} is not bound to any chassis (expected ${where})`,
          RECOMPUTE,
          { chassis: null },
        );
      if (chassis && b.chassis !== chassis)
        return fail(
          'port-unbound',
          `${iface.lsp} is bound to chassis ${b.chassis}, expected ${chassis}`,
          RECOMPUTE,
          { chassis: b.chassis },
        );
      if (b.up === false)
        return fail(
          'port-unbound',
          `${iface.lsp} is bound to ${b.chassis} but Port_Binding.up is false`,
          RECOMPUTE,
        );
      return pass(`${iface.lsp} bound to ${b.chassis}${b.up ? ', up' : ''}`);
    });
  },
  async fix(_ctx, result) {
    if (result.cause !== 'port-unbound') return undefined;
    await recomputeOvnController();
    return 'asked ovn-controller to recompute';
  },
};
