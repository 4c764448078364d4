/**
 * Each chassis of a multi-chassis lab has a geneve tunnel port to every other chassis (ovn-controller creates
 * `ovn-<peer>-N` once the peer is in the SB), with an ofport and no error. A missing one is `tunnel-missing`.
 */
import { tunnelPorts } from '../src/drivers/chassis-state.js';
import { remoteRunner } from '../src/drivers/remote-chassis.js';
import { chassisDaemons } from '../src/drivers/sim-chassis.js';
import { chassisSubject, doctorFixCommand, perChassis } from './chassis-common.js';
import type { DoctorCheck } from './runner.js';
import { fail, pass } from './wiring-common.js';

export const tunnelPortsCheck: DoctorCheck = {
  id: 'tunnel.ports',
  layer: 'wiring',
  title: 'a geneve tunnel port from each chassis to every other',
  async run(ctx) {
    const all = ctx.plan.chassis ?? [];
    const results = await perChassis(this, ctx, async (ch) => {
      const ports = await tunnelPorts(
        ctx.plan.lab,
        ch.name,
        ch.kind === 'remote' ? remoteRunner(ch) : undefined,
      );
      const problems: string[] = [];
      const deadPeers: string[] = [];
      for (const peer of all.filter((p) => p.name !== ch.name)) {
        const t = ports.find((x) => x.remoteIp === peer.encapIp);
        if (!t) {
          problems.push(`no tunnel to ${peer.name} (${peer.encapIp})`);
          if (
            peer.kind !== 'remote' &&
            Object.values(chassisDaemons(ctx.plan.lab, peer.name)).some((p) => !p)
          )
            deadPeers.push(peer.name);
        } else if (t.error || !t.ofport || t.ofport < 0)
          problems.push(`tunnel ${t.name} to ${peer.name}: ${t.error || 'no ofport'}`);
      }
      if (!problems.length)
        return pass(
          `chassis ${ch.name}: ${ports.map((t) => `${t.name} → ${t.remoteIp}`).join(', ') || 'no peers'}`,
          {
            tunnels: ports,
          },
        );
      const r = fail('tunnel-missing', `chassis ${ch.name}: ${problems.join('; ')}`, doctorFixCommand(ctx), {
        tunnels: ports,
      });
      // a peer whose daemons are down has left the SB: its tunnel is gone because of that
      return deadPeers.length === problems.length
        ? { ...r, followsFrom: `chassis.daemons ${chassisSubject(deadPeers[0]!)}` }
        : r;
    });
    return [...results.filter((r) => !r.followsFrom), ...results.filter((r) => r.followsFrom)];
  },
};
