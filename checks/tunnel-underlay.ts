/**
 * The underlay of a multi-chassis lab: each chassis's uplink (ul0 in its netns) is up, and every other chassis's
 * tunnel address answers from it. A chassis whose own uplink is down is the root (`underlay-down`, evidence names
 * it); the other chassis's failures towards it follow from that. The pings also warm the tunnels up: OVS learns each
 * peer's MAC from the ARP reply, so the data-plane probes that follow do not lose their first packet to it.
 */
import { underlayPing, uplinkState } from '../src/drivers/chassis-state.js';
import { remoteRunner } from '../src/drivers/remote-chassis.js';
import { chassisNaming } from '../src/plan/chassis-naming.js';
import { chassisSubject, perChassis } from './chassis-common.js';
import type { DoctorCheck } from './runner.js';
import { fail, pass } from './wiring-common.js';

export const tunnelUnderlay: DoctorCheck = {
  id: 'tunnel.underlay',
  layer: 'wiring',
  title: "each chassis's underlay link up and the other chassis's tunnel addresses reachable",
  async run(ctx) {
    const all = ctx.plan.chassis ?? [];
    const uplinks = new Map(
      await Promise.all(
        all.map(
          async (c) =>
            [
              c.name,
              c.netns
                ? await uplinkState(c.netns)
                : c.kind === 'remote' && c.uplink
                  ? await uplinkState('', { run: remoteRunner(c), dev: c.uplink })
                  : undefined,
            ] as const,
        ),
      ),
    );
    const isDown = (name: string) => {
      const u = uplinks.get(name);
      return !u?.exists || !u.up || u.operstate === 'DOWN';
    };
    const results = await perChassis(this, ctx, async (ch) => {
      const u = uplinks.get(ch.name);
      if (!u) return { status: 'skip', evidence: `chassis ${ch.name}: no uplink labctl manages` };
      const remote = ch.kind === 'remote' ? remoteRunner(ch) : undefined;
      const dev = remote ? ch.uplink! : chassisNaming.uplink;
      if (isDown(ch.name))
        return fail(
          'underlay-down',
          `chassis ${ch.name}: underlay link ${dev} is ${u.exists ? u.operstate.toLowerCase() : 'missing'} (no tunnel reaches it)`,
          u.exists && ch.netns
            ? {
                kind: 'command',
                argv: ['ip', '-n', ch.netns, 'link', 'set', 'dev', chassisNaming.uplink, 'up'],
              }
            : { kind: 'converge', ...(ctx.labFile ? { file: ctx.labFile } : {}) },
          { uplink: u },
        );
      const peers = all.filter((p) => p.name !== ch.name);
      const pings = await Promise.all(
        peers.map(async (p) => ({ p, r: await underlayPing(ch.netns ?? '', p.encapIp, remote) })),
      );
      const failed = pings.filter((x) => !x.r.ok);
      if (!failed.length)
        return pass(
          `chassis ${ch.name}: ${dev} up (mtu ${u.mtu}); ${pings.map((x) => `${x.p.name} ${x.p.encapIp} ${x.r.received}/3`).join(', ')}`,
          { uplink: u },
        );
      const ownFault = failed.filter((x) => !isDown(x.p.name));
      const evidence = `chassis ${ch.name}: no answer from ${failed.map((x) => `${x.p.name} (${x.p.encapIp})`).join(', ')}`;
      if (!ownFault.length)
        return {
          ...fail('underlay-down', evidence),
          followsFrom: `${this.id} ${chassisSubject(failed[0]!.p.name)}`,
        };
      return fail(
        'underlay-down',
        evidence,
        {
          kind: 'command',
          argv: ch.netns
            ? ['ip', '-n', ch.netns, 'route', 'get', ownFault[0]!.p.encapIp]
            : ['labctl', 'host', 'check', '--chassis', ch.name, '-f', ctx.labFile ?? 'LAB.yml'],
        },
        {
          uplink: u,
        },
      );
    });
    // the runner resolves followsFrom only to a result before it: a chassis's own fault goes first
    return [...results.filter((r) => !r.followsFrom), ...results.filter((r) => r.followsFrom)];
  },
};
