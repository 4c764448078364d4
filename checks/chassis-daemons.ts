/**
 * A multi-chassis lab's daemons: its own central (NB, SB ovsdb-servers and ovn-northd) and, per chassis,
 * ovsdb-server, ovs-vswitchd and ovn-controller — running (found by pidfile) and, for ovn-controller, connected
 * to the lab's SB. One chassis whose daemons are down is `chassis-down` (evidence names the chassis and daemon);
 * --fix starts what is not running and restarts a disconnected ovn-controller.
 */
import { fixText } from '../src/doctor/causes.js';
import { controllerStatus } from '../src/drivers/chassis-state.js';
import { remoteChassisState } from '../src/drivers/remote-chassis.js';
import {
  centralDaemons,
  chassisDaemons,
  ensureCentral,
  startChassisDaemons,
  stopChassisDaemons,
} from '../src/drivers/sim-chassis.js';
import { centralPaths, chassisPaths } from '../src/plan/chassis-naming.js';
import { chassisSubject, doctorFixCommand, perChassis } from './chassis-common.js';
import type { DoctorCheck } from './runner.js';
import type { CheckResult } from './types.js';
import { fail, pass } from './wiring-common.js';

export const chassisDaemonsCheck: DoctorCheck = {
  id: 'chassis.daemons',
  layer: 'host',
  title: "each chassis's daemons and the lab's central run",
  async run(ctx) {
    const lab = ctx.plan.lab;
    const c = centralDaemons(lab);
    const central: CheckResult = {
      id: this.id,
      layer: this.layer,
      subject: 'central',
      status: 'pass',
      evidence: `NB pid ${c.nb}, SB pid ${c.sb}, ovn-northd pid ${c['ovn-northd']}`,
      data: { chassis: 'central', pids: c },
    };
    const down = (['nb', 'sb', 'ovn-northd'] as const).filter((d) => !c[d]);
    if (down.length) {
      central.status = 'fail';
      central.cause = !c.nb ? 'ovn-nb-down' : !c.sb ? 'ovn-sb-down' : 'ovn-northd-down';
      central.evidence = `the lab's central: ${down.join(', ')} not running (pidfiles under ${centralPaths(lab).dir})`;
      central.fix = fixText(doctorFixCommand(ctx));
    }
    const perCh = await perChassis(this, ctx, async (ch) => {
      if (ch.kind === 'remote') {
        // its own daemons, over ssh (docs/multichassis.md "Remote chassis")
        const r = await remoteChassisState(ch);
        if (r.down.length)
          return fail(
            'chassis-down',
            `chassis ${ch.name} (remote ${ch.ssh}): ${r.down.join(', ')} not running; its ports get no flows and its tunnels are gone`,
            doctorFixCommand(ctx),
            { missing: r.down },
          );
        if (r.sb !== 'connected')
          return fail(
            'sb-disconnected',
            `chassis ${ch.name} (remote ${ch.ssh}): ovn-controller is ${r.sb === undefined ? 'not answering' : `"${r.sb}"`} (expected connected to the lab's SB over SSL)`,
            {
              kind: 'command',
              argv: ['labctl', 'host', 'check', '--chassis', ch.name, '-f', ctx.labFile ?? 'LAB.yml'],
            },
          );
        return pass(
          `chassis ${ch.name} (remote ${ch.ssh}): ovsdb-server, ovs-vswitchd, ovn-controller run; SB connected over SSL`,
        );
      }
      const d = chassisDaemons(lab, ch.name);
      const missing = (['ovsdb-server', 'ovs-vswitchd', 'ovn-controller'] as const).filter((x) => !d[x]);
      if (missing.length)
        return fail(
          'chassis-down',
          `chassis ${ch.name}: ${missing.join(', ')} not running (pidfile under ${chassisPaths(lab, ch.name).dir}); its ports get no flows and its tunnels are gone`,
          doctorFixCommand(ctx),
          { missing, pids: d },
        );
      if (!c.sb) return pass(`chassis ${ch.name}: daemons run (SB not checked: it is down)`, { pids: d });
      const status = await controllerStatus(lab, ch.name);
      if (status !== 'connected')
        return fail(
          'sb-disconnected',
          `chassis ${ch.name}: ovn-controller is ${status === undefined ? 'not answering' : `"${status}"`} (expected connected to the lab's SB)`,
          doctorFixCommand(ctx),
          { pids: d },
        );
      return pass(`chassis ${ch.name}: ovsdb-server, ovs-vswitchd, ovn-controller run; SB connected`, {
        pids: d,
      });
    });
    return [central, ...perCh];
  },
  async fix(ctx, result) {
    const lab = ctx.plan.lab;
    const underlay = ctx.plan.underlay;
    if (!underlay) return undefined;
    if (result.subject === 'central') {
      await ensureCentral(lab, underlay.netns);
      return `started the central of lab ${lab}`;
    }
    const ch = ctx.plan.chassis?.find((c) => chassisSubject(c.name) === result.subject);
    if (!ch) return undefined;
    if (ch.kind === 'remote') {
      if (result.cause !== 'chassis-down') return undefined;
      const { remoteStart } = await import('../src/host/remote.js');
      const { sshSession } = await import('../src/drivers/ssh.js');
      const { remoteTargetOf } = await import('../src/drivers/remote-chassis.js');
      await remoteStart(sshSession(remoteTargetOf(ch)));
      return `started the daemons of remote chassis ${ch.name} over ssh`;
    }
    // a disconnected controller is restarted; daemons that do not run are started
    if (result.cause === 'sb-disconnected') await stopChassisDaemons(lab, ch.name, ['ovn-controller']);
    await startChassisDaemons(lab, ch, underlay);
    return `restarted the daemons of chassis ${ch.name}`;
  },
};
