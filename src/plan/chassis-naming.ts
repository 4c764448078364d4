/**
 * Names and paths of a multi-chassis lab's runtime objects, in one place so compile, up, down, status and doctor
 * agree: network namespaces `labctl.<lab>` (underlay + central) and `labctl.<lab>.<chassis>`, and the runtime
 * directory `<run dir>/labs/<lab>/` with `central/` and one directory per chassis (databases, sockets, pidfiles,
 * logs). Lab and chassis names never contain a dot, so these names cannot collide between labs.
 */
import { join } from 'node:path';

export const RUN_DIR = process.env.LABCTL_RUN_DIR ?? '/run/labctl';
export const NETNS_PREFIX = 'labctl.';

export const chassisNaming = {
  systemId: (lab: string, chassis: string) => `${chassis}.${lab}`,
  netns: (lab: string, chassis: string) => `${NETNS_PREFIX}${lab}.${chassis}`,
  underlayNetns: (lab: string) => `${NETNS_PREFIX}${lab}`,
  /** the chassis end of its underlay link (inside the chassis netns) */
  uplink: 'ul0',
  /** the underlay end of a chassis's link (inside the underlay netns) */
  underlayPort: (chassis: string) => `u-${chassis}`,
  underlayBridge: 'ulbr',
  /** the i-th external network of HA gateways: names short enough for 15-byte interfaces (i < 10) */
  external: (i: number) => ({
    physnet: `ext${i}`,
    bridge: `xbr${i}`,
    ovsBridge: `br-x${i}`,
    uplink: `x${i}`,
    portPrefix: `x${i}-`,
  }),
};

/** Is this netns one of the lab's (its underlay or one of its chassis)? */
export function isLabNetns(lab: string, netns: string): boolean {
  const base = chassisNaming.underlayNetns(lab);
  return netns === base || (netns.startsWith(`${base}.`) && !netns.slice(base.length + 1).includes('.'));
}

export function labRunDir(lab: string): string {
  return join(RUN_DIR, 'labs', lab);
}

export function centralPaths(lab: string) {
  const dir = join(labRunDir(lab), 'central');
  return {
    dir,
    nbDb: join(dir, 'nb.db'),
    sbDb: join(dir, 'sb.db'),
    nbSock: join(dir, 'nb.sock'),
    sbSock: join(dir, 'sb.sock'),
  };
}

export function chassisPaths(lab: string, chassis: string) {
  const dir = join(labRunDir(lab), chassis);
  return {
    dir,
    confDb: join(dir, 'conf.db'),
    dbSock: join(dir, 'db.sock'),
    vswitchdCtl: join(dir, 'ovs-vswitchd.ctl'),
  };
}
