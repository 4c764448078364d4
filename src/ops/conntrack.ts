/**
 * Flush connection tracking for a lab, a node or an address. On the userspace datapath conntrack lives inside
 * ovs-vswitchd (`ovs-appctl dpctl/flush-conntrack`, per OVN zone or by tuple); on the kernel datapath in the
 * host's conntrack table (`conntrack -D`). A container's own netns table is flushed too when a node is named.
 * ovn-controller does not flush conntrack when addresses change (doctor-notes.md): after a move, flush.
 */
import { type DatapathTarget, flushAddresses, flushZones } from '../drivers/conntrack.js';
import { ctZoneList } from '../drivers/ovn-controller.js';
import { usageError } from '../errors.js';
import { run, which } from '../exec.js';
import { isIPv4 } from '../lab/ipv4.js';
import type { LabRuntime } from './context.js';
import { nodePid } from './context.js';

export interface FlushOptions {
  node?: string;
  address?: string;
}

/**
 * The datapaths a lab's conntrack lives in: this host's, or (multi-chassis labs) each simulated chassis's own
 * ovs-vswitchd with its own ovn-controller's zones; `node` narrows it to the chassis that node is placed on.
 */
async function labDatapaths(
  plan: LabRuntime['state']['plan'],
  node?: string,
): Promise<{ name: string; target?: DatapathTarget; controllerCtl?: string }[]> {
  if (!plan.chassis?.length) return [{ name: 'this host' }];
  const { chassisPaths } = await import('../plan/chassis-naming.js');
  const { controllerCtl } = await import('../drivers/sim-chassis.js');
  const host = node ? plan.nodes.find((n) => n.name === node)?.host : undefined;
  return plan.chassis
    .filter((c) => c.kind === 'simulated' && (!host || c.name === host))
    .map((c) => {
      const p = chassisPaths(plan.lab, c.name);
      const ctl = controllerCtl(plan.lab, c.name);
      return {
        name: `chassis ${c.name}`,
        target: { db: `unix:${p.dbSock}`, vswitchdCtl: p.vswitchdCtl },
        ...(ctl ? { controllerCtl: ctl } : {}),
      };
    });
}

export async function flushConntrack(rt: LabRuntime, opts: FlushOptions): Promise<string[]> {
  const { plan } = rt.state;
  const done: string[] = [];
  if (opts.address !== undefined && !isIPv4(opts.address))
    throw usageError(`"${opts.address}" is not an IPv4 address`, 'e.g. --address 10.0.1.10');
  const multi = Boolean(plan.chassis?.length);
  for (const dp of await labDatapaths(plan, opts.node)) {
    const where = multi ? ` on ${dp.name}` : '';
    if (opts.address) {
      await flushAddresses(plan.ovn.bridge, [opts.address], () => false, 1, dp.target);
      done.push(`flushed conntrack entries to and from ${opts.address}${where}`);
      continue;
    }
    // a stopped chassis has no ovn-controller to ask (and no datapath to flush)
    if (multi && !dp.controllerCtl) {
      done.push(`skipped ${dp.name}: its ovn-controller does not run`);
      continue;
    }
    const zones = await ctZoneList(dp.controllerCtl);
    const lsps = plan.nodes
      .filter((n) => !opts.node || n.name === opts.node)
      .flatMap((n) => n.interfaces.map((i) => i.lsp));
    const wanted = lsps.map((l) => zones.get(l)).filter((z): z is number => z !== undefined);
    if (!opts.node) {
      // The lab's routers have their own SNAT/DNAT zones, keyed by the router's UUID.
      const nb = await rt.ovn.readLab(plan.lab);
      for (const r of nb.routers)
        for (const suffix of ['_dnat', '_snat']) {
          const z = zones.get(`${r.uuid}${suffix}`);
          if (z !== undefined) wanted.push(z);
        }
    }
    await flushZones(plan.ovn.bridge, wanted, dp.target);
    done.push(
      `flushed ${wanted.length} conntrack zone(s) of ${opts.node ? `node ${opts.node}` : `lab ${plan.lab}`}${where}`,
    );
  }
  if (opts.node && which('conntrack')) {
    const pid = await nodePid(rt, opts.node);
    await run('nsenter', ['-t', String(pid), '-n', 'conntrack', '-F'], { timeoutMs: 10_000, reject: false });
    done.push(`flushed the kernel conntrack table inside ${opts.node}`);
  }
  return done;
}
