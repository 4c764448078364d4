/** Every chassis of a multi-chassis lab is in the lab's SB as `<chassis>.<lab>` with its encap address. */
import { sbChassis } from '../src/drivers/chassis-state.js';
import { remoteChassisState } from '../src/drivers/remote-chassis.js';
import { chassisDaemons } from '../src/drivers/sim-chassis.js';
import { chassisSubject, doctorFixCommand, perChassis } from './chassis-common.js';
import type { DoctorCheck } from './runner.js';
import { fail, pass } from './wiring-common.js';

export const chassisRegistered: DoctorCheck = {
  id: 'chassis.registered',
  layer: 'host',
  title: 'each chassis registered in the SB with its encap address',
  async run(ctx) {
    const rows = await sbChassis(ctx.plan.lab);
    return perChassis(this, ctx, async (ch) => {
      const row = rows.find((r) => r.name === ch.systemId);
      const fix = doctorFixCommand(ctx);
      if (!row) {
        // its daemons being down explains it (chassis.daemons reports that)
        const down =
          ch.kind === 'remote'
            ? (await remoteChassisState(ch)).down.length > 0
            : Object.values(chassisDaemons(ctx.plan.lab, ch.name)).some((p) => !p);
        return {
          ...fail('chassis-not-registered', `no SB Chassis row ${ch.systemId}`, fix),
          ...(down ? { followsFrom: `chassis.daemons ${chassisSubject(ch.name)}` } : {}),
        };
      }
      if (!row.encapIps.includes(ch.encapIp))
        return fail(
          'encap-missing',
          `SB Chassis ${ch.systemId} has encap ${row.encapIps.join(', ') || '(none)'}, expected geneve ${ch.encapIp}`,
          fix,
        );
      return pass(`SB Chassis ${ch.systemId}, geneve encap ${ch.encapIp}`);
    });
  },
};
