/**
 * ensureImage: make sure a node's image exists locally, the cheapest way that works on a host without a registry.
 *   present                → nothing
 *   build: {context}       → docker build of that directory (relative to baseDir), tagged `image`
 *   labctl/node            → built from compose/node (FROM labctl/base:bookworm, built first when missing)
 *   labctl/base:bookworm   → registry attempt, then debootstrap + import (base-image.ts)
 *   anything else          → docker pull; when that fails, an environment error naming the image and the fix
 * Builds of the same image are serialized within the process and across processes (a lock file per image), so
 * parallel `labctl up` runs and CI jobs never debootstrap twice at once.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import type Dockerode from 'dockerode';
import lockfile from 'proper-lockfile';
import { envError, usageError } from '../errors.js';
import { BASE_IMAGE, buildBaseImage } from './base-image.js';
import { nodeImageContext } from './paths.js';
import { followDockerStream } from './stream.js';

export { BASE_IMAGE } from './base-image.js';
export const NODE_IMAGE = 'labctl/node';

export interface BuildSpec {
  context: string;
  dockerfile?: string;
}

export interface EnsureImageOptions {
  build?: BuildSpec;
  /** directory `build.context` is relative to (the lab file's directory); default: the current directory */
  baseDir?: string;
  onProgress?: (line: string) => void;
}

/**
 * Network of the build containers. Docker's default bridge reaches Debian's archive on the machines measured so
 * far, but a host whose kernel lacks NAT would leave `apt-get` in a build hanging; LABCTL_BUILD_NETWORK=host
 * switches labctl's builds to the host's network (docs/host.md).
 */
export function buildNetworkMode(): string | undefined {
  const v = process.env.LABCTL_BUILD_NETWORK;
  return v && v !== 'default' ? v : undefined;
}

/** `repo[:tag]` with the tag defaulted to latest, so labctl/node and labctl/node:latest compare equal. */
export function normalizeImage(image: string): string {
  const lastSlash = image.lastIndexOf('/');
  const hasTag = image.slice(lastSlash + 1).includes(':') || image.includes('@');
  return hasTag ? image : `${image}:latest`;
}

export const isNodeImage = (image: string) => normalizeImage(image) === normalizeImage(NODE_IMAGE);
export const isBaseImage = (image: string) => normalizeImage(image) === normalizeImage(BASE_IMAGE);
/** Images labctl can make from nothing (no registry, no build context). */
export const isBuiltinImage = (image: string) => isNodeImage(image) || isBaseImage(image);

export async function imageExists(docker: Dockerode, image: string): Promise<boolean> {
  try {
    await docker.getImage(image).inspect();
    return true;
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) return false;
    throw err;
  }
}

const inFlight = new Map<string, Promise<void>>();

export async function ensureImage(
  docker: Dockerode,
  image: string,
  opts: EnsureImageOptions = {},
): Promise<void> {
  if (await imageExists(docker, image)) return;
  const key = normalizeImage(image);
  let p = inFlight.get(key);
  if (!p) {
    p = withImageLock(key, async () => {
      if (await imageExists(docker, image)) return; // another process made it while we waited
      await makeImage(docker, image, opts);
    }).finally(() => inFlight.delete(key));
    inFlight.set(key, p);
  }
  return p;
}

/**
 * Build (or rebuild with force) one of labctl's own images: labctl/node, or labctl/base:bookworm.
 * Used by `labctl image build`; ensureImage calls the same code when the image is missing.
 */
export async function buildBuiltinImage(
  docker: Dockerode,
  image: string,
  opts: { force?: boolean; onProgress?: (line: string) => void } = {},
): Promise<'present' | 'built'> {
  if (!isBuiltinImage(image)) {
    throw usageError(
      `labctl builds only ${NODE_IMAGE} and ${BASE_IMAGE}, not ${image}`,
      `labctl image build ${NODE_IMAGE}`,
    );
  }
  const key = normalizeImage(image);
  return withImageLock(key, async () => {
    if (!opts.force && (await imageExists(docker, image))) return 'present';
    if (isBaseImage(image)) {
      await buildBaseImage(docker, { onProgress: opts.onProgress });
    } else {
      await ensureImage(docker, BASE_IMAGE, { onProgress: opts.onProgress });
      await buildFromContext(
        docker,
        NODE_IMAGE,
        nodeImageContext(),
        'Dockerfile',
        opts.onProgress,
        true,
        Boolean(opts.force),
      );
    }
    return 'built';
  });
}

async function makeImage(docker: Dockerode, image: string, opts: EnsureImageOptions): Promise<void> {
  const { onProgress } = opts;
  if (opts.build) {
    const context = resolve(opts.baseDir ?? process.cwd(), opts.build.context);
    const dockerfile = opts.build.dockerfile ?? 'Dockerfile';
    // A Dockerfile FROM one of labctl's own images gets that image made first: there is no registry to pull it from.
    for (const from of dockerfileBaseImages(context, dockerfile)) {
      if (
        isBuiltinImage(from) &&
        normalizeImage(from) !== normalizeImage(image) &&
        !(await imageExists(docker, from))
      )
        await ensureImage(docker, from, { onProgress });
    }
    await buildFromContext(docker, image, context, dockerfile, onProgress, false);
    return;
  }
  if (isBaseImage(image)) {
    await buildBaseImage(docker, { onProgress });
    return;
  }
  if (isNodeImage(image)) {
    await ensureImage(docker, BASE_IMAGE, { onProgress });
    await buildFromContext(docker, NODE_IMAGE, nodeImageContext(), 'Dockerfile', onProgress, true);
    return;
  }
  await pullImage(docker, image, onProgress);
}

/** The images a Dockerfile builds FROM (stage names excluded); [] when it cannot be read. Pure apart from the read. */
export function dockerfileBaseImages(context: string, dockerfile = 'Dockerfile'): string[] {
  const path = isAbsolute(dockerfile) ? dockerfile : join(context, dockerfile);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return [];
  }
  return parseFromLines(text);
}

export function parseFromLines(text: string): string[] {
  const stages = new Set<string>();
  const images: string[] = [];
  for (const raw of text.split('\n')) {
    const m = /^\s*FROM\s+(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?/i.exec(raw);
    if (!m) continue;
    const from = m[1]!;
    if (!stages.has(from.toLowerCase()) && !from.includes('$')) images.push(from);
    if (m[2]) stages.add(m[2].toLowerCase());
  }
  return images;
}

async function buildFromContext(
  docker: Dockerode,
  image: string,
  context: string,
  dockerfile: string,
  onProgress: ((line: string) => void) | undefined,
  builtin: boolean,
  /** --force: rebuild every layer (fresh Debian packages), not just re-tag the cached result */
  nocache = false,
): Promise<void> {
  if (!existsSync(context) || !statSync(context).isDirectory()) {
    throw envError(
      `build context of ${image} is not a directory: ${context}`,
      'fix build.context in the lab file',
    );
  }
  if (!existsSync(join(context, dockerfile))) {
    throw envError(
      `no ${dockerfile} in the build context of ${image} (${context})`,
      'fix build.dockerfile in the lab file',
    );
  }
  onProgress?.(`building ${image} from ${context}`);
  const networkmode = buildNetworkMode();
  const stream = await docker.buildImage(
    { context, src: readdirSync(context) },
    {
      t: image,
      dockerfile,
      rm: true,
      forcerm: true,
      ...(networkmode ? { networkmode } : {}),
      ...(nocache ? { nocache: true } : {}),
      ...(builtin ? { labels: { 'labctl.image': normalizeImage(image) } } : {}),
    },
  );
  const outcome = await followDockerStream(docker, stream, onProgress);
  if (outcome.error || !(await imageExists(docker, image))) {
    const fix = builtin
      ? 'check that the Debian archive is reachable from a container (docs/host.md, LABCTL_BUILD_NETWORK=host), then: labctl image build'
      : `fix the Dockerfile, then try it by hand: docker build -t ${image} -f ${dockerfile} ${context}`;
    throw envError(
      `building ${image} failed: ${outcome.error ?? 'no image was tagged'}`,
      fix,
      outcome.tail.slice(-12),
    );
  }
  onProgress?.(`built ${image}`);
}

async function pullImage(
  docker: Dockerode,
  image: string,
  onProgress?: (line: string) => void,
): Promise<void> {
  const fix = `build it locally (docker build -t ${image} DIR), or give the node build: { context: DIR } in the lab file`;
  try {
    onProgress?.(`pulling ${image}`);
    const stream = await docker.pull(image);
    const outcome = await followDockerStream(docker, stream, onProgress);
    if (outcome.error) throw new Error(outcome.error);
  } catch (err) {
    const why = String((err as Error)?.message ?? err)
      .split('\n')[0]!
      .replace(/^\(HTTP code \d+\) [a-z ]+ - /, '');
    throw envError(`image ${image} is not present and cannot be pulled: ${why}`, fix);
  }
  if (!(await imageExists(docker, image)))
    throw envError(`image ${image} is not present after docker pull`, fix);
}

/** One lock file per image under the temp directory; waits up to 15 minutes for another builder. */
async function withImageLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
  const file = join(tmpdir(), `labctl-image-${key.replace(/[^A-Za-z0-9_.-]/g, '_')}`);
  const release = await lockfile.lock(file, {
    realpath: false,
    stale: 30_000,
    update: 10_000,
    retries: { retries: 900, factor: 1, minTimeout: 1000, maxTimeout: 1000 },
    onCompromised: () => {
      // the build goes on; at worst two builders tag the same image
    },
  });
  try {
    return await fn();
  } finally {
    await release().catch(() => undefined);
  }
}
