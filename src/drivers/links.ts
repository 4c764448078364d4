/**
 * Links and network namespaces on one host: veth pairs, moving an end into a container's netns, and the
 * in-container settings. Batched: one `ip -batch` for all host-side changes, one per container namespace.
 * Host-side veth ends carry the alias `labctl:<lab>`, so `down` finds them even when OVS never saw them.
 */

import { type Runner, run as runLocal, which } from '../exec.js';
import { assertArg } from '../names.js';
import { perlScriptPath } from '../perl/scripts.js';

export const ALIAS_PREFIX = 'labctl:';

export interface HostLink {
  name: string;
  alias?: string;
  operstate: string;
  up: boolean;
  mtu: number;
  /** set when the peer is in another namespace */
  peerNetnsId?: number;
}

export interface NsLink {
  name: string;
  mac: string;
  mtu: number;
  up: boolean;
  operstate: string;
  addrs: string[]; // "ip/prefix", IPv4 only
  /** global IPv6 addresses, "ip/prefix" (RFC 5952); the kernel's own link-local fe80:: ones are left out */
  addrs6?: string[];
  /** the interface has an IPv6 link-local address: IPv6 is enabled on it */
  v6?: boolean;
}

export interface NsRoute {
  dst: string;
  via?: string;
  dev: string;
  /** 6: an IPv6 route (as PlanRoute.family) */
  family?: 6;
}

export interface NsState {
  links: NsLink[];
  routes: NsRoute[];
}

interface IpLinkJson {
  ifname: string;
  ifalias?: string;
  operstate: string;
  flags?: string[];
  mtu: number;
  address?: string;
  link_netnsid?: number;
  addr_info?: { family: string; local: string; prefixlen: number; scope?: string }[];
}

const nsenter = (pid: number, args: string[]) => ['-t', String(pid), '-n', ...args];

export function parseLinks(json: string): IpLinkJson[] {
  return json.trim() ? (JSON.parse(json) as IpLinkJson[]) : [];
}

export interface LinkDriver {
  /** Host-side links whose name starts with the given prefix (veths we name lv…). */
  hostLinks(prefix?: string): Promise<HostLink[]>;
  /** Run `ip -batch` in the host namespace (lines are ip commands without the leading `ip`). */
  hostBatch(lines: string[]): Promise<void>;
  /** Delete host links by name; a link that is already gone is fine (veths vanish with their container's netns). */
  deleteHostLinks(names: string[]): Promise<void>;
  /** Run `ip -batch` inside the network namespace of process `pid`. */
  nsBatch(pid: number, lines: string[]): Promise<void>;
  /** Links, IPv4 and global IPv6 addresses and routes inside the namespace of `pid`. */
  nsState(pid: number): Promise<NsState>;
  /**
   * sysctl -w inside the namespace of `pid`: only net.ipv6.conf.<dev>.<key> keys (docs/ipv6.md: how a lab
   * interface gets IPv6 without DAD, router advertisements or SLAAC).
   */
  nsSysctls(pid: number, values: Record<string, string>): Promise<void>;
  /** ethtool -K DEV tx off, in the host namespace or (pid given) inside the container's namespace. */
  disableTxOffload(dev: string, pid?: number): Promise<void>;
  /** tx checksum offload off on many host-namespace devices at once (one process, not one per device). */
  disableTxOffloads(devs: string[]): Promise<void>;
  /** Is tx checksum offload on? */
  txOffload(dev: string, pid?: number): Promise<boolean | undefined>;
  /**
   * Every offload a user-space relay must not see off (tx checksum, TSO, GSO, GRO) on host-namespace devices:
   * the relay copies frames as they are, so they must be whole, checksummed and at most one MTU.
   */
  disableRelayOffloads(devs: string[]): Promise<void>;
  /** ethtool -k of a host device: the features that are on, of tx-checksumming, tcp-segmentation-offload, generic-segmentation-offload, generic-receive-offload */
  offloadsOn(dev: string): Promise<string[] | undefined>;
}

/** The offloads disableRelayOffloads switches off, as ethtool -k names them. */
export const RELAY_OFFLOADS = [
  'tx-checksumming',
  'tcp-segmentation-offload',
  'generic-segmentation-offload',
  'generic-receive-offload',
];

/**
 * The links of this host, or (netns given) of a named network namespace that plays the host's part: a simulated
 * chassis's, where the nodes' host-side veths live (docs/multichassis.md).
 */
export function localLinks(netns?: string, via?: { run: Runner; perl: false }): LinkDriver {
  // via: the same driver on another machine (a remote chassis over ssh): no local perl script there
  const run = via?.run ?? runLocal;
  const perl = via ? undefined : which('perl');
  if (netns !== undefined) assertArg(netns, 'network namespace name');
  /** `ip` in the host's namespace (the chassis's, with netns) */
  const ipArgs = (args: string[]) => (netns === undefined ? args : ['-n', netns, ...args]);
  /** a program run in the host's namespace (the chassis's, with netns) */
  const inHost = (file: string, args: string[]): [string, string[]] =>
    netns === undefined ? [file, args] : ['ip', ['netns', 'exec', netns, file, ...args]];
  return {
    async hostLinks(prefix = 'lv') {
      const r = await run('ip', ipArgs(['-j', 'link', 'show']), { timeoutMs: 15_000 });
      return parseLinks(r.stdout)
        .filter((l) => l.ifname.startsWith(prefix))
        .map((l) => ({
          name: l.ifname,
          alias: l.ifalias,
          operstate: l.operstate,
          up: (l.flags ?? []).includes('UP'),
          mtu: l.mtu,
          peerNetnsId: l.link_netnsid,
        }));
    },
    async hostBatch(lines) {
      if (!lines.length) return;
      await run('ip', ipArgs(['-batch', '-']), { input: `${lines.join('\n')}\n`, timeoutMs: 30_000 });
    },
    async deleteHostLinks(names) {
      await Promise.all(
        names.map(async (n) => {
          const r = await run('ip', ipArgs(['link', 'del', 'dev', assertArg(n, 'link name')]), {
            reject: false,
            timeoutMs: 10_000,
          });
          if (r.exitCode !== 0 && !/Cannot find device|does not exist/.test(r.stderr))
            throw new Error(`ip link del ${n}: ${r.stderr}`);
        }),
      );
    },
    async nsBatch(pid, lines) {
      if (!lines.length) return;
      await run('nsenter', nsenter(pid, ['ip', '-batch', '-']), {
        input: `${lines.join('\n')}\n`,
        timeoutMs: 15_000,
      });
    },
    async nsState(pid) {
      const r = await run('nsenter', nsenter(pid, ['ip', '-j', '-batch', '-']), {
        input: 'addr show\nroute show\n',
        timeoutMs: 15_000,
      });
      const [addrJson = '[]', routeJson = '[]'] = r.stdout
        .split('\n')
        .filter((l) => l.trim().startsWith('['));
      const links = parseLinks(addrJson).map((l) => {
        const v6 = (l.addr_info ?? []).filter((a) => a.family === 'inet6');
        return {
          name: l.ifname,
          mac: l.address ?? '',
          mtu: l.mtu,
          up: (l.flags ?? []).includes('UP'),
          operstate: l.operstate,
          addrs: (l.addr_info ?? [])
            .filter((a) => a.family === 'inet')
            .map((a) => `${a.local}/${a.prefixlen}`),
          addrs6: v6
            .filter((a) => a.scope !== 'link' && a.scope !== 'host')
            .map((a) => `${a.local}/${a.prefixlen}`),
          v6: v6.some((a) => a.scope === 'link'),
        };
      });
      const routes: NsRoute[] = (
        JSON.parse(routeJson) as { dst: string; gateway?: string; dev: string }[]
      ).map((r) => ({ dst: r.dst, via: r.gateway, dev: r.dev }));
      // IPv6 routes only where some interface has a global IPv6 address (ip -batch has no per-line -6)
      if (links.some((l) => l.addrs6.length > 0)) {
        const r6 = await run('nsenter', nsenter(pid, ['ip', '-6', '-j', 'route', 'show']), {
          timeoutMs: 15_000,
        });
        for (const r of JSON.parse(r6.stdout.trim() || '[]') as {
          dst: string;
          gateway?: string;
          dev: string;
          protocol?: string;
        }[])
          if (r.protocol !== 'kernel') routes.push({ dst: r.dst, via: r.gateway, dev: r.dev, family: 6 });
      }
      return { links, routes };
    },
    async nsSysctls(pid, values) {
      const args = Object.entries(values).map(([k, v]) => {
        if (!/^net\.ipv6\.conf\.[a-z][a-z0-9_-]{0,14}\.[a-z0-9_]+$/.test(k) || !/^\d+$/.test(v))
          throw new Error(`refusing sysctl ${k}=${v}`);
        return `${k}=${v}`;
      });
      if (!args.length) return;
      await run('nsenter', nsenter(pid, ['sysctl', '-q', '-w', ...args]), { timeoutMs: 15_000 });
    },
    async disableTxOffload(dev, pid) {
      assertArg(dev, 'interface name');
      const args = ['-K', dev, 'tx', 'off'];
      // ethtool exits 0 after a change, and also when nothing needed changing ("Actual changes:" omitted).
      if (pid === undefined) await run(...inHost('ethtool', args), { timeoutMs: 10_000 });
      else await run('nsenter', nsenter(pid, ['ethtool', ...args]), { timeoutMs: 10_000 });
    },
    async disableTxOffloads(devs) {
      if (!devs.length) return;
      for (const d of devs) assertArg(d, 'interface name');
      if (perl) {
        // one process for every device: src/perl/tx-off.pl issues ethtool's SIOCETHTOOL ETHTOOL_STXCSUM request
        const r = await run(...inHost(perl, [perlScriptPath('tx-off'), ...devs]), {
          timeoutMs: 15_000,
          reject: false,
        });
        if (r.exitCode !== 0)
          throw new Error(
            `${r.stderr.trim() || `perl exited ${r.exitCode}`} (tx checksum offload, via perl's ioctl)`,
          );
      } else for (const d of devs) await this.disableTxOffload(d);
    },
    async disableRelayOffloads(devs) {
      await Promise.all(
        devs.map((d) =>
          run(
            'ethtool',
            ['-K', assertArg(d, 'interface name'), 'tx', 'off', 'tso', 'off', 'gso', 'off', 'gro', 'off'],
            {
              timeoutMs: 10_000,
            },
          ),
        ),
      );
    },
    async offloadsOn(dev) {
      const r = await run('ethtool', ['-k', assertArg(dev, 'interface name')], {
        timeoutMs: 10_000,
        reject: false,
      });
      if (r.exitCode !== 0) return undefined;
      return RELAY_OFFLOADS.filter((f) => new RegExp(`^${f}:\\s*on`, 'm').test(r.stdout));
    },
    async txOffload(dev, pid) {
      assertArg(dev, 'interface name');
      const args = ['-k', dev];
      const r =
        pid === undefined
          ? await run(...inHost('ethtool', args), { timeoutMs: 10_000, reject: false })
          : await run('nsenter', nsenter(pid, ['ethtool', ...args]), { timeoutMs: 10_000, reject: false });
      if (r.exitCode !== 0) return undefined;
      const m = /^tx-checksumming:\s*(on|off)/m.exec(r.stdout);
      return m ? m[1] === 'on' : undefined;
    },
  };
}
