/**
 * The Docker endpoint of a host. Probed once; a daemon that does not answer fails here, in one place, with
 * one message and the command that fixes it (cause code docker-unreachable).
 */
import http from 'node:http';
import type Docker from 'dockerode';
import { envError } from '../errors.js';

export const DOCKER_SOCKET = process.env.LABCTL_DOCKER_SOCKET ?? '/var/run/docker.sock';

let cached: Promise<Docker> | undefined;
export const DOCKER_CALL_TIMEOUT_MS = 300_000;

/**
 * dockerode is loaded on first use: it pulls in ssh2 and friends, and commands that never talk to Docker
 * (validate, plan, schema) should not pay for that at start-up.
 */
export async function loadDockerode(): Promise<typeof Docker> {
  return (await import('dockerode')).default;
}

export async function probeDocker(socketPath = DOCKER_SOCKET, timeoutMs = 5000): Promise<Docker> {
  const Docker = await loadDockerode();
  const docker = new Docker({ socketPath, timeout: timeoutMs });
  try {
    await docker.ping();
  } catch (err) {
    throw envError(
      `Docker daemon does not answer on ${socketPath} (${(err as Error).message})`,
      'labctl host start   (starts dockerd, OVS and OVN; run as root)',
    );
  }
  // Calls after the probe may be long (image builds, container starts under load), but never endless: a dockerd
  // that stops answering (moby/moby#46661 deadlocks 20.10 under many concurrent exits) fails the call after
  // DOCKER_CALL_TIMEOUT_MS of silence instead of hanging up/down forever.
  return new Docker({ socketPath, timeout: DOCKER_CALL_TIMEOUT_MS });
}

/** One probed client per process. */
export function connectDocker(): Promise<Docker> {
  cached ??= probeDocker().catch((err) => {
    cached = undefined;
    throw err;
  });
  return cached;
}

/** An Engine API error: statusCode is the HTTP status (404: no such object, 409: conflict). */
export class DockerApiError extends Error {
  constructor(
    message: string,
    readonly statusCode: number,
  ) {
    super(message);
    this.name = 'DockerApiError';
  }
}

/**
 * The Engine API without dockerode: one request is one `http.request` over the unix socket, the JSON body parsed.
 * For commands whose Docker work is a few plain calls (`labctl down`: list, remove): dockerode and docker-modem take
 * ~30 ms of CPU to load, which such a command pays before its first call. No `/_ping` first: the first call fails
 * the same way, with the same message, when no daemon answers.
 */
export interface DockerApi {
  /** The parsed JSON body (undefined when empty). Status >= 400 rejects with a DockerApiError. */
  request<T = unknown>(method: string, path: string): Promise<T>;
}

const UNREACHABLE = new Set(['ENOENT', 'ECONNREFUSED', 'EACCES', 'EPERM', 'ENOTSOCK']);

export function dockerApi(socketPath = DOCKER_SOCKET, timeoutMs = DOCKER_CALL_TIMEOUT_MS): DockerApi {
  // Keep-alive, and sockets enough for REMOVE_CONCURRENCY (12) calls at once plus reads: no call waits for a socket.
  // Idle keep-alive sockets are unref'd by the agent, so they do not keep the process alive.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
  return {
    request<T>(method: string, path: string) {
      return new Promise<T>((resolve, reject) => {
        // servername '' skips the agent's server-name guess for TLS, whose net.isIP() compiles the IPv6 pattern on the
        // first call (~5 ms of CPU before the first request; a unix socket has no server name).
        const options: http.RequestOptions & { servername: string } = {
          socketPath,
          agent,
          method,
          path,
          servername: '',
        };
        const req = http.request(options, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', reject);
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            const status = res.statusCode ?? 0;
            let body: unknown;
            try {
              body = text ? JSON.parse(text) : undefined;
            } catch {
              body = text;
            }
            if (status >= 400) {
              const why = (body as { message?: string } | undefined)?.message ?? text.trim();
              reject(
                new DockerApiError(`Docker ${method} ${path}: HTTP ${status}${why ? ` ${why}` : ''}`, status),
              );
            } else resolve(body as T);
          });
        });
        // Never endless: a dockerd that stops answering (moby/moby#46661) fails the call after timeoutMs of silence.
        req.setTimeout(timeoutMs, () =>
          req.destroy(
            new Error(
              `Docker ${method} ${path} got no answer in ${Math.round(timeoutMs / 1000)} s (is dockerd hung? \`docker info\` tells)`,
            ),
          ),
        );
        req.on('error', (err: NodeJS.ErrnoException) => {
          if (err.code && UNREACHABLE.has(err.code))
            reject(
              envError(
                `Docker daemon does not answer on ${socketPath} (${err.message})`,
                'labctl host start   (starts dockerd, OVS and OVN; run as root)',
              ),
            );
          else reject(err);
        });
        req.end();
      });
    },
  };
}

/**
 * The server version of the dockerd answering on the socket, or undefined when none answers within the bound.
 * Whatever package it came from (docker.io, docker-ce, moby-engine, a static binary): a daemon that answers is a
 * working Docker.
 */
export async function dockerServerVersion(
  socketPath = DOCKER_SOCKET,
  timeoutMs = 5000,
): Promise<string | undefined> {
  try {
    const Docker = await loadDockerode();
    const v = (await new Docker({ socketPath, timeout: timeoutMs }).version()) as { Version?: string };
    return v.Version ?? '?';
  } catch {
    return undefined;
  }
}
