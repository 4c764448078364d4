/**
 * Containers of a host through dockerode (the Docker API, never the docker CLI). Every container labctl creates
 * carries labctl.lab and labctl.node, and a hash of its configuration so an unchanged node is never recreated.
 */
import type Docker from 'dockerode';
import { digest } from '../names.js';
import { LABEL_LAB, LABEL_NODE, type PlanNode } from '../plan/types.js';
import type { DockerApi } from './docker-client.js';

export const LABEL_CONFIG = 'labctl.config';

export interface ContainerInfo {
  id: string;
  name: string;
  lab: string;
  node: string;
  running: boolean;
  state: string;
  configHash: string;
  image: string;
}

/** What makes a container "the same": changing any of it recreates the container. Interfaces are not part of it. */
export function configHash(node: PlanNode): string {
  // The resolver (dns:) is part of it only when set, so labs without one keep their hash (and containers).
  const base = [node.image, node.cmd ?? null, node.env, node.hostname, node.container];
  return digest([JSON.stringify(node.resolver ? [...base, node.resolver] : base)], 16);
}

/** The Docker HostConfig of every node container (the bench's floor starts its containers with exactly this). */
export function nodeHostConfig() {
  return {
    NetworkMode: 'none',
    CapAdd: ['NET_ADMIN', 'NET_RAW'],
    // An init reaps zombies and makes SIGTERM/SIGKILL handling predictable for any image.
    Init: true,
    // IPv6 off by default: only a lab interface with an ip6 gets it, switched on without DAD, RA or SLAAC
    // (node-links.ts v6Sysctls, docs/ipv6.md); nothing else in a node ever speaks IPv6 by surprise.
    Sysctls: { 'net.ipv6.conf.all.disable_ipv6': '1', 'net.ipv6.conf.default.disable_ipv6': '1' },
  };
}

export interface ContainerDriver {
  list(lab?: string): Promise<ContainerInfo[]>;
  /** create and start; returns the container id */
  create(node: PlanNode): Promise<string>;
  start(id: string): Promise<void>;
  pid(id: string): Promise<number>;
  remove(id: string): Promise<void>;
}

export function dockerContainers(docker: Docker, scope?: Record<string, string>): ContainerDriver {
  // scope: only containers with these labels too (a Docker shared by several chassis of a lab)
  const scoped = Object.entries(scope ?? {}).map(([k, v]) => `${k}=${v}`);
  return {
    async list(lab) {
      const filters = { label: [lab === undefined ? LABEL_LAB : `${LABEL_LAB}=${lab}`, ...scoped] };
      const rows = await docker.listContainers({ all: true, filters });
      return rows.map((c) => ({
        id: c.Id,
        name: (c.Names[0] ?? '').replace(/^\//, ''),
        lab: c.Labels[LABEL_LAB] ?? '',
        node: c.Labels[LABEL_NODE] ?? '',
        running: c.State === 'running',
        state: c.State,
        configHash: c.Labels[LABEL_CONFIG] ?? '',
        image: c.Image,
      }));
    },
    async create(node) {
      const c = await docker.createContainer({
        name: node.container,
        Image: node.image,
        Hostname: node.hostname,
        ...(node.cmd ? { Cmd: node.cmd } : {}),
        Env: Object.entries(node.env).map(([k, v]) => `${k}=${v}`),
        Labels: { ...node.labels, [LABEL_CONFIG]: configHash(node) },
        HostConfig: {
          ...nodeHostConfig(),
          // dns: (docs/dhcp-dns.md): Docker writes /etc/resolv.conf from these, also with NetworkMode none
          ...(node.resolver
            ? {
                Dns: node.resolver.nameservers,
                DnsSearch: node.resolver.search,
                DnsOptions: node.resolver.options ?? [],
              }
            : {}),
        },
      });
      await c.start();
      return c.id;
    },
    async start(id) {
      await docker.getContainer(id).start();
    },
    async pid(id) {
      const info = await docker.getContainer(id).inspect();
      if (!info.State.Running || !info.State.Pid)
        throw new Error(`container ${info.Name.replace(/^\//, '')} is not running (${info.State.Status})`);
      return info.State.Pid;
    },
    async remove(id) {
      try {
        await docker.getContainer(id).remove({ force: true, v: true });
      } catch (err) {
        if ((err as { statusCode?: number }).statusCode !== 404) throw err;
      }
    },
  };
}

/** What `labctl down` needs of the containers: find a lab's by label, remove them. */
export type ContainerRemover = Pick<ContainerDriver, 'list' | 'remove'>;

interface ApiContainerRow {
  Id: string;
  Names?: string[];
  Labels?: Record<string, string>;
  State?: string;
  Image?: string;
}

/**
 * list and remove over the Engine API directly (docker-client.ts dockerApi): the same calls, filters and results as
 * dockerContainers, without loading dockerode (used by `labctl down`).
 */
export function apiContainers(api: DockerApi): ContainerRemover {
  return {
    async list(lab) {
      const filters = JSON.stringify({ label: [lab === undefined ? LABEL_LAB : `${LABEL_LAB}=${lab}`] });
      const rows = await api.request<ApiContainerRow[]>(
        'GET',
        `/containers/json?all=true&filters=${encodeURIComponent(filters)}`,
      );
      return rows.map((c) => ({
        id: c.Id,
        name: (c.Names?.[0] ?? '').replace(/^\//, ''),
        lab: c.Labels?.[LABEL_LAB] ?? '',
        node: c.Labels?.[LABEL_NODE] ?? '',
        running: c.State === 'running',
        state: c.State ?? '',
        configHash: c.Labels?.[LABEL_CONFIG] ?? '',
        image: c.Image ?? '',
      }));
    },
    async remove(id) {
      try {
        await api.request('DELETE', `/containers/${encodeURIComponent(id)}?force=true&v=true`);
      } catch (err) {
        if ((err as { statusCode?: number }).statusCode !== 404) throw err;
      }
    },
  };
}
