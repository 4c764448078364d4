/**
 * labctl/base:bookworm — the Debian base every labctl image builds FROM. No container registry is reachable on the
 * machines labctl targets (platform.md), so after one quick `docker pull debian:bookworm-slim` attempt the base is
 * made from Debian's own packages: `debootstrap --variant=minbase bookworm DIR` (its default mirror; no mirror is
 * written here), then `tar -C DIR -c .` streamed into Docker's image import. The temporary root is always removed.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Dockerode from 'dockerode';
import { execa } from 'execa';
import { envError } from '../errors.js';
import { run, which } from '../exec.js';
import { followDockerStream } from './stream.js';

export const BASE_IMAGE = 'labctl/base:bookworm';
export const BASE_UPSTREAM = 'debian:bookworm-slim';
const BASE_REPO = 'labctl/base';
const BASE_TAG = 'bookworm';

/** How long the registry attempt may take before falling back to debootstrap. */
const PULL_ATTEMPT_MS = 20_000;
const DEBOOTSTRAP_TIMEOUT_MS = 20 * 60_000;

type Progress = ((line: string) => void) | undefined;

/** Try the registry once, quickly. Resolves true when debian:bookworm-slim was pulled and tagged as the base. */
export async function tryPullBase(
  docker: Dockerode,
  onProgress: Progress,
  timeoutMs = PULL_ATTEMPT_MS,
): Promise<boolean> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  try {
    onProgress?.(`trying docker pull ${BASE_UPSTREAM}`);
    const stream = await docker.pull(BASE_UPSTREAM, { abortSignal: abort.signal });
    const outcome = await followDockerStream(docker, stream);
    if (outcome.error) throw new Error(outcome.error);
    await docker.getImage(BASE_UPSTREAM).tag({ repo: BASE_REPO, tag: BASE_TAG });
    onProgress?.(`pulled ${BASE_UPSTREAM}, tagged ${BASE_IMAGE}`);
    return true;
  } catch (err) {
    const why = abort.signal.aborted ? `no answer within ${timeoutMs / 1000} s` : firstLine(err);
    onProgress?.(`docker pull ${BASE_UPSTREAM} failed (${why}); building ${BASE_IMAGE} from Debian packages`);
    return false;
  } finally {
    clearTimeout(timer);
  }
}

/** Build labctl/base:bookworm: registry first, debootstrap + import otherwise. */
export async function buildBaseImage(
  docker: Dockerode,
  opts: { onProgress?: (line: string) => void; tryPull?: boolean } = {},
): Promise<void> {
  const { onProgress } = opts;
  if (opts.tryPull !== false && (await tryPullBase(docker, onProgress))) return;
  if (!which('debootstrap')) {
    throw envError(
      `cannot build ${BASE_IMAGE}: no registry is reachable and debootstrap is not installed`,
      'labctl host install   (or: apt-get install -y debootstrap)',
    );
  }
  if (!which('tar'))
    throw envError(`cannot build ${BASE_IMAGE}: tar is not installed`, 'apt-get install -y tar');

  const root = mkdtempSync(
    join(process.env.LABCTL_TMPDIR ?? (tmpdir() === '/tmp' ? '/var/tmp' : tmpdir()), 'labctl-base-'),
  );
  try {
    await debootstrap(root, onProgress);
    await importRootfs(docker, root, onProgress);
  } finally {
    await removeRootfs(root);
  }
}

async function debootstrap(root: string, onProgress: Progress): Promise<void> {
  const args = ['--variant=minbase', 'bookworm', root];
  onProgress?.(`debootstrap ${args.join(' ')}`);
  const tail: string[] = [];
  const sub = execa('debootstrap', args, {
    reject: false,
    timeout: DEBOOTSTRAP_TIMEOUT_MS,
    stdin: 'ignore',
    all: true,
    buffer: false,
  });
  let partial = '';
  sub.all?.on('data', (chunk: Buffer) => {
    partial += chunk.toString();
    let nl = partial.indexOf('\n');
    while (nl >= 0) {
      const line = partial.slice(0, nl).trimEnd();
      partial = partial.slice(nl + 1);
      if (line) {
        tail.push(line);
        if (tail.length > 20) tail.shift();
        onProgress?.(line);
      }
      nl = partial.indexOf('\n');
    }
  });
  const r = await sub;
  if (r.failed) {
    const why = r.timedOut ? 'timed out' : `exited ${r.exitCode ?? '?'}`;
    throw envError(
      `debootstrap of Debian bookworm ${why}: cannot build ${BASE_IMAGE}`,
      'check that the Debian archive is reachable (apt-get update), then: labctl image build',
      tail.slice(-10),
    );
  }
}

async function importRootfs(docker: Dockerode, root: string, onProgress: Progress): Promise<void> {
  onProgress?.(`importing ${root} as ${BASE_IMAGE}`);
  const tar = execa('tar', ['-C', root, '--numeric-owner', '-c', '.'], {
    reject: false,
    stdin: 'ignore',
    buffer: false,
    timeout: 10 * 60_000,
  });
  const stream = await docker.importImage(tar.stdout!, {
    repo: BASE_REPO,
    tag: BASE_TAG,
    changes: ['CMD ["bash"]', 'LABEL org.opencontainers.image.title=labctl/base'],
  } as object);
  const [outcome, tarResult] = await Promise.all([followDockerStream(docker, stream), tar]);
  if (tarResult.failed) {
    throw envError(
      `tar of the debootstrap root failed (exit ${tarResult.exitCode ?? '?'}): cannot import ${BASE_IMAGE}`,
      'labctl image build',
    );
  }
  if (outcome.error) {
    throw envError(
      `docker import of ${BASE_IMAGE} failed: ${outcome.error}`,
      'labctl image build',
      outcome.tail.slice(-10),
    );
  }
  onProgress?.(`imported ${BASE_IMAGE}`);
}

/** Remove the temporary root; unmount anything debootstrap may have left mounted inside it first (never follow mounts). */
export async function removeRootfs(root: string): Promise<void> {
  const inside = mountsUnder(root).sort((a, b) => b.length - a.length);
  for (const m of inside) {
    await run('umount', ['-l', m], { reject: false, timeoutMs: 10_000 });
  }
  if (mountsUnder(root).length > 0) return; // leave it rather than delete through a live mount
  rmSync(root, { recursive: true, force: true });
}

function mountsUnder(root: string): string[] {
  try {
    return readFileSync('/proc/self/mounts', 'utf8')
      .split('\n')
      .map((l) => (l.split(' ')[1] ?? '').replace(/\\040/g, ' '))
      .filter((m) => m === root || m.startsWith(`${root}/`));
  } catch {
    return [];
  }
}

function firstLine(err: unknown): string {
  return String((err as Error)?.message ?? err).split('\n')[0] ?? '';
}
