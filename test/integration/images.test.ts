/**
 * ensureImage on the real Docker daemon: the default node image (built offline from Debian packages when missing)
 * has the tools labs rely on; a lab's `build:` context builds and is tagged; a failing build and an unpullable
 * image fail as environment errors with the fix. The pure helpers are tested first, without Docker.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { DOCKER_SOCKET } from '../../src/drivers/docker-client.js';
import { LabctlError } from '../../src/errors.js';
import {
  BASE_IMAGE,
  ensureImage,
  imageExists,
  isBuiltinImage,
  NODE_IMAGE,
  normalizeImage,
  parseFromLines,
} from '../../src/images/ensure-image.js';
import { nodeImageContext } from '../../src/images/paths.js';
import { eventLines } from '../../src/images/stream.js';

describe('image helpers (pure)', () => {
  it('normalizeImage defaults the tag to latest, keeping registry ports and digests', () => {
    expect(normalizeImage('labctl/node')).toBe('labctl/node:latest');
    expect(normalizeImage('labctl/base:bookworm')).toBe('labctl/base:bookworm');
    expect(normalizeImage('localhost:5000/x')).toBe('localhost:5000/x:latest');
    expect(normalizeImage('x@sha256:abc')).toBe('x@sha256:abc');
    expect(isBuiltinImage('labctl/node:latest')).toBe(true);
    expect(isBuiltinImage(BASE_IMAGE)).toBe(true);
    expect(isBuiltinImage('debian:bookworm')).toBe(false);
  });

  it('parseFromLines lists the images a Dockerfile builds FROM, not its stages', () => {
    const df = [
      '# comment',
      'FROM labctl/base:bookworm AS build',
      'RUN make',
      'from --platform=linux/amd64 build',
      'FROM labctl/node',
    ].join('\n');
    expect(parseFromLines(df)).toEqual(['labctl/base:bookworm', 'labctl/node']);
  });

  it('eventLines renders build output, errors and pull status', () => {
    expect(eventLines({ stream: 'Step 1/2 : FROM x\n ---> abc\n' })).toEqual([
      'Step 1/2 : FROM x',
      ' ---> abc',
    ]);
    expect(eventLines({ error: 'boom', errorDetail: { message: 'The command returned 1' } })).toEqual([
      'error: The command returned 1',
    ]);
    expect(eventLines({ status: 'Downloading', id: 'abc', progress: '[==> ]' })).toEqual([
      'abc: Downloading',
    ]);
  });

  it('the node image build context ships with labctl', () => {
    expect(nodeImageContext()).toMatch(/compose\/node$/);
  });
});

async function dockerUp(): Promise<boolean> {
  try {
    await new Docker({ socketPath: DOCKER_SOCKET, timeout: 5000 }).ping();
    return true;
  } catch {
    if (process.env.CI)
      throw new Error('CI=true but dockerd does not answer: .ci/run must start it (labctl host start)');
    return false;
  }
}

const up = await dockerUp();
const docker = new Docker({ socketPath: DOCKER_SOCKET });
const TEST_IMAGE = `labctl-test/images-build:${process.pid}`;
const tmp = mkdtempSync(join(tmpdir(), 'labctl-images-'));

/** Run a program in a throwaway container of `image` (no network, removed afterwards). */
async function inImage(image: string, argv: string[]): Promise<{ exitCode: number; stdout: string }> {
  const r = await execa(
    'docker',
    ['run', '--rm', '--network', 'none', '--entrypoint', argv[0]!, image, ...argv.slice(1)],
    {
      reject: false,
      timeout: 60_000,
    },
  );
  return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout).trim() };
}

describe.runIf(up)('ensureImage on the real Docker daemon', () => {
  afterAll(async () => {
    for (const img of [TEST_IMAGE]) {
      if (await imageExists(docker, img)) await docker.getImage(img).remove({ force: true });
    }
    rmSync(tmp, { recursive: true, force: true });
  });

  it(`${NODE_IMAGE}: built when missing (debootstrap base + apt), with ip, ping, ethtool, nc, busybox httpd`, async () => {
    const lines: string[] = [];
    await ensureImage(docker, NODE_IMAGE, { onProgress: (l) => lines.push(l) });
    expect(await imageExists(docker, NODE_IMAGE)).toBe(true);
    expect(await imageExists(docker, BASE_IMAGE)).toBe(true);
    const tools = ['ip', 'ping', 'ethtool', 'nc', 'tcpdump', 'iperf3', 'socat', 'curl', 'busybox'];
    const which = await inImage(NODE_IMAGE, ['which', ...tools]);
    expect(which.exitCode, which.stdout).toBe(0);
    expect(which.stdout.split('\n')).toHaveLength(tools.length);
    const httpd = await inImage(NODE_IMAGE, ['busybox', 'httpd', '--help']);
    expect(httpd.stdout + String(httpd.exitCode)).not.toMatch(/applet not found/);
    const index = await inImage(NODE_IMAGE, ['cat', '/srv/index.html']);
    expect(index.stdout).toMatch(/labctl/);

    // present → nothing: no build output the second time
    const again: string[] = [];
    await ensureImage(docker, NODE_IMAGE, { onProgress: (l) => again.push(l) });
    expect(again).toEqual([]);
  }, 900_000);

  it('a build: context (relative to baseDir) FROM labctl/base:bookworm is built and tagged', async () => {
    const ctx = join(tmp, 'ctx');
    mkdirSync(ctx, { recursive: true });
    writeFileSync(join(ctx, 'hello.txt'), 'hello from a build context\n');
    writeFileSync(
      join(ctx, 'Dockerfile.lab'),
      [
        'FROM labctl/base:bookworm',
        'COPY hello.txt /hello.txt',
        'RUN echo built > /built.txt',
        'CMD ["sleep", "infinity"]',
        '',
      ].join('\n'),
    );
    const lines: string[] = [];
    await ensureImage(docker, TEST_IMAGE, {
      build: { context: 'ctx', dockerfile: 'Dockerfile.lab' },
      baseDir: tmp,
      onProgress: (l) => lines.push(l),
    });
    expect(await imageExists(docker, TEST_IMAGE)).toBe(true);
    expect(lines.some((l) => /Successfully tagged|built /.test(l))).toBe(true);
    expect((await inImage(TEST_IMAGE, ['cat', '/hello.txt', '/built.txt'])).stdout).toBe(
      'hello from a build context\nbuilt',
    );
  }, 300_000);

  it('a failing build is an environment error with the build’s last lines; nothing is tagged', async () => {
    const ctx = join(tmp, 'bad');
    mkdirSync(ctx, { recursive: true });
    writeFileSync(
      join(ctx, 'Dockerfile'),
      ['FROM labctl/base:bookworm', 'RUN echo about-to-fail && false', ''].join('\n'),
    );
    const image = `labctl-test/images-bad:${process.pid}`;
    const err = await ensureImage(docker, image, { build: { context: ctx } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LabctlError);
    const e = err as LabctlError;
    expect(e.exitCode).toBe(2);
    expect(e.message).toMatch(new RegExp(`building ${image.replace(/[/:]/g, '.')} failed`));
    expect(e.details.join('\n')).toMatch(/about-to-fail/);
    expect(e.hint).toMatch(/docker build/);
    expect(await imageExists(docker, image)).toBe(false);
  }, 300_000);

  it('an image that is neither present, buildable nor pullable: environment error naming the image and the fix', async () => {
    // .invalid never resolves: no registry is contacted
    const image = 'registry.invalid/labctl-test/missing:1';
    const err = await ensureImage(docker, image).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LabctlError);
    const e = err as LabctlError;
    expect(e.exitCode).toBe(2);
    expect(e.message).toContain(image);
    expect(e.hint).toMatch(/build/);
  }, 120_000);

  it('a build context that does not exist is an environment error', async () => {
    const err = await ensureImage(docker, `labctl-test/images-none:${process.pid}`, {
      build: { context: 'no-such-dir' },
      baseDir: tmp,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LabctlError);
    expect((err as LabctlError).message).toMatch(/not a directory/);
  });
});
