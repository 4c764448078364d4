/** The logical switch port exists on the planned switch, with addresses "MAC IP" as planned. */
import type { DoctorCheck } from './runner.js';
import { command, fail, fixByConverge, pass, perIface, upCommand } from './wiring-common.js';

export const wiringLsp: DoctorCheck = {
  id: 'wiring.lsp',
  layer: 'wiring',
  title: 'logical switch port and its addresses',
  run(ctx) {
    return perIface(this, ctx, async ({ iface }) => {
      const nb = await ctx.facts.nb();
      const lsp = nb.ports.find((p) => p.name === iface.lsp);
      if (!lsp)
        return fail(
          'lsp-missing',
          `no Logical_Switch_Port ${iface.lsp} labelled for lab ${ctx.plan.lab} in NB (expected on ${iface.switch})`,
          upCommand(ctx),
        );
      const sw = nb.switches.find((s) => s.ports.includes(lsp.uuid));
      if (sw?.name !== iface.switch)
        return fail(
          'lsp-missing',
          `${iface.lsp} is on switch ${sw?.name ?? '(none)'}, expected ${iface.switch}`,
          upCommand(ctx),
        );
      // "MAC IP", "MAC IP IP6" or "MAC IP6": both families (docs/ipv6.md)
      const want = [iface.mac, iface.ip, iface.ip6].filter(Boolean).join(' ');
      if (lsp.addresses.length !== 1 || lsp.addresses[0] !== want)
        return fail(
          'address-mismatch',
          `NB addresses of ${iface.lsp}: ${lsp.addresses.length ? lsp.addresses.map((a) => `"${a}"`).join(', ') : '(none)'}, expected "${want}"`,
          command('ovn-nbctl', 'lsp-set-addresses', iface.lsp, want),
          { seen: lsp.addresses, expected: want },
        );
      return pass(`${iface.lsp} on ${iface.switch}, addresses "${want}"`);
    });
  },
  // applyPlan's NB diff recreates a missing port and resets addresses, in one transaction.
  fix: fixByConverge,
};
