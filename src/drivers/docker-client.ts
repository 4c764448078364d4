/**
 * The Docker endpoint of a host. Probed once; a daemon that does not answer fails here, in one place, with
 * one message and the command that fixes it (cause code docker-unreachable).
 */
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
