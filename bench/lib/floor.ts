/**
 * The floor: what Docker alone costs for the same containers. N containers of the same image, with the same
 * container settings labctl uses (network mode none, NET_ADMIN/NET_RAW, init, IPv6 sysctls off) but no links,
 * no OVS and no OVN — created and started all at once, then removed all at once, through the Docker API from
 * the bench process (no CLI process start in the way: this is the lowest cost a tool could reach).
 * Every floor container carries the label labctl-bench=<tag> and is named labctl-bench-floor-<tag>-<i>.
 */
import Docker from 'dockerode';
import { nodeHostConfig } from '../../src/drivers/containers.js';

export const BENCH_LABEL = 'labctl-bench';

/** Every Docker API request of the bench is bounded (a hung dockerd must not hang the bench or its cleanup). */
export function docker(timeoutMs = 120_000): Docker {
  return new Docker({
    socketPath: process.env.LABCTL_DOCKER_SOCKET ?? '/var/run/docker.sock',
    timeout: timeoutMs,
  });
}

/**
 * Can dockerd still start and remove a container? Docker 20.10.24 (Debian 12's docker.io) can deadlock in
 * libnetwork when containers are created and removed concurrently (moby/moby#46661, fixed in 20.10.27): after
 * that, listing still works but every start, inspect and remove hangs. Measuring on such a daemon is pointless.
 */
export async function dockerLiveness(tag: string, image: string): Promise<string | undefined> {
  const d = docker(30_000);
  const name = `labctl-bench-probe-${tag}`;
  try {
    const c = await d.createContainer({
      name,
      Image: image,
      Cmd: ['true'],
      Labels: { [BENCH_LABEL]: tag, [`${BENCH_LABEL}.kind`]: 'probe' },
      HostConfig: { NetworkMode: 'none' },
    });
    await c.start();
    await c.remove({ force: true, v: true });
    return undefined;
  } catch (err) {
    return `dockerd did not start and remove a probe container within 30 s (${(err as Error).message}); if \`docker info\` hangs too, dockerd is deadlocked (Docker 20.10 libnetwork bug, moby/moby#46661) and must be restarted`;
  }
}

export interface FloorTimes {
  startMs: number;
  removeMs: number;
}

/** Run fn over items with at most `limit` in flight (limit 0: all at once). */
async function pool<T>(items: T[], limit: number, fn: (x: T) => Promise<void>): Promise<void> {
  if (limit <= 0 || limit >= items.length) {
    await Promise.all(items.map(fn));
    return;
  }
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

/**
 * Start N containers all at once, then remove them `removeConcurrency` at a time (default 12, the bound labctl
 * down uses). The removal is bounded because removing many running containers at once deadlocks Docker 20.10.24's
 * libnetwork (moby/moby#46661: every later start and remove hangs until dockerd is restarted); this bench hit it
 * twice with 50 parallel removals.
 */
export async function floorRun(
  d: Docker,
  tag: string,
  n: number,
  image: string,
  removeConcurrency = 8,
): Promise<FloorTimes> {
  const names = Array.from({ length: n }, (_, i) => `labctl-bench-floor-${tag}-${i + 1}`);
  const t0 = performance.now();
  const ids = await Promise.all(
    names.map(async (name) => {
      const c = await d.createContainer({
        name,
        Image: image,
        Hostname: name.slice(-20),
        Labels: { [BENCH_LABEL]: tag, [`${BENCH_LABEL}.kind`]: 'floor' },
        HostConfig: nodeHostConfig(),
      });
      await c.start();
      return c.id;
    }),
  );
  const t1 = performance.now();
  await pool(ids, removeConcurrency, (id) => d.getContainer(id).remove({ force: true, v: true }));
  const t2 = performance.now();
  return { startMs: t1 - t0, removeMs: t2 - t1 };
}

/** Remove every container carrying the bench label (this run's tag, or any tag with tag undefined). */
export async function removeBenchContainers(d: Docker, tag?: string): Promise<number> {
  const label = tag === undefined ? BENCH_LABEL : `${BENCH_LABEL}=${tag}`;
  const rows = await d.listContainers({ all: true, filters: { label: [label] } });
  await pool(rows, 8, (r) =>
    d
      .getContainer(r.Id)
      .remove({ force: true, v: true })
      .catch((err: { statusCode?: number }) => {
        // 404: gone already; 409: a removal is already in progress
        if (err.statusCode !== 404 && err.statusCode !== 409) throw err;
      }),
  );
  return rows.length;
}
