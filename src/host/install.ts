/**
 * `labctl host install`: on Debian/Ubuntu, apt-get install what labctl needs — only the packages dpkg does not
 * already list as installed. Refuses clearly when not root or not apt-based; prints each command it runs.
 * A Docker that is already there — Docker's own docker-ce/containerd.io, the distribution's docker.io, moby-engine,
 * or any dockerd that answers — is accepted as it is: docker.io is installed only where no Docker is present
 * (installing it next to containerd.io would make apt fail on the containerd conflict before anything else).
 * The decision is pure (planInstall) and unit-tested on simulated facts.
 */
import { existsSync, readFileSync } from 'node:fs';
import { execa } from 'execa';
import { dockerServerVersion } from '../drivers/docker-client.js';
import { envError } from '../errors.js';
import { run, which } from '../exec.js';
import { DOCKER_ENGINE_PACKAGES, DOCKER_PACKAGE, HOST_PACKAGES } from './constants.js';
import { isRoot } from './system.js';

/** Parse `dpkg-query -W -f '${Package}\t${db:Status-Abbrev}\n'` output: the packages that are installed ("ii"). */
export function installedFromDpkgQuery(output: string): Set<string> {
  const installed = new Set<string>();
  for (const line of output.split('\n')) {
    const [pkg, status] = line.split('\t');
    if (pkg && status?.startsWith('ii')) installed.add(pkg.split(':')[0]!);
  }
  return installed;
}

/** Parse the same output with a third field `${Version}`: installed package → version. */
export function installedVersionsFromDpkgQuery(output: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of output.split('\n')) {
    const [pkg, status, version] = line.split('\t');
    if (pkg && status?.startsWith('ii')) out.set(pkg.split(':')[0]!, version?.trim() ?? '');
  }
  return out;
}

/** What this host already has of Docker, whatever package it came from. */
export interface DockerPresence {
  /** Docker engine packages dpkg lists as installed, with their versions (DOCKER_ENGINE_PACKAGES, containerd.io) */
  packages: Record<string, string>;
  /** dockerd on PATH (a static install, or a package apt does not know) */
  dockerd?: string;
  /** the server version of a dockerd answering on the socket */
  answers?: string;
}

export interface InstallPlan {
  /** the packages to apt-get install */
  missing: string[];
  /** what was decided about Docker, for people; conflict: docker.io cannot be installed here (why) */
  docker: { present: boolean; install: boolean; detail: string; conflict?: string };
}

/**
 * The packages to install: what dpkg does not list, except that the Docker package is dropped whenever any Docker
 * is present (an engine package installed, dockerd on PATH, or a daemon answering).
 */
export function planInstall(
  wanted: readonly string[],
  installed: Set<string>,
  docker: DockerPresence,
): InstallPlan {
  const engines = Object.entries(docker.packages)
    .filter(([p]) => (DOCKER_ENGINE_PACKAGES as readonly string[]).includes(p) || p === 'containerd.io')
    .map(([p, v]) => (v ? `${p} ${v}` : p));
  const engineInstalled = engines.some((e) => !e.startsWith('containerd.io'));
  const present = engineInstalled || Boolean(docker.dockerd) || Boolean(docker.answers);
  if (!present && docker.packages['containerd.io'] !== undefined) {
    // Docker's containerd.io without its engine: docker.io would pull Debian's containerd, which conflicts
    const conflict = `containerd.io ${docker.packages['containerd.io']} (Docker's repository) is installed without a Docker engine; ${DOCKER_PACKAGE} conflicts with it`;
    return {
      missing: missingPackages(
        wanted.filter((p) => p !== DOCKER_PACKAGE),
        installed,
      ),
      docker: { present, install: false, detail: conflict, conflict },
    };
  }
  const wantsDocker = wanted.includes(DOCKER_PACKAGE);
  const missing = missingPackages(present ? wanted.filter((p) => p !== DOCKER_PACKAGE) : wanted, installed);
  const found = [
    ...engines,
    ...(docker.dockerd && engines.length === 0 ? [docker.dockerd] : []),
    ...(docker.answers ? [`daemon answers: Docker ${docker.answers}`] : ['daemon not answering']),
  ].join(', ');
  return {
    missing,
    docker: present
      ? { present, install: false, detail: `Docker present (${found}): left as it is` }
      : {
          present,
          install: wantsDocker && missing.includes(DOCKER_PACKAGE),
          detail: `no Docker on this host: ${DOCKER_PACKAGE} is installed`,
        },
  };
}

export function missingPackages(wanted: readonly string[], installed: Set<string>): string[] {
  return wanted.filter((p) => !installed.has(p));
}

/** ID and ID_LIKE of /etc/os-release, lower-cased. */
export function osFamily(osRelease: string): string[] {
  const get = (k: string) => new RegExp(`^${k}="?([^"\\n]*)"?$`, 'm').exec(osRelease)?.[1] ?? '';
  return [get('ID'), ...get('ID_LIKE').split(/\s+/)].filter(Boolean).map((s) => s.toLowerCase());
}

export interface InstallResult {
  missing: string[];
  installed: string[];
  docker: InstallPlan['docker'];
}

export async function installHost(
  opts: { log?: (line: string) => void; packages?: readonly string[] } = {},
): Promise<InstallResult> {
  const log = opts.log ?? (() => undefined);
  const wanted = opts.packages ?? HOST_PACKAGES;
  let family: string[] = [];
  try {
    family = osFamily(readFileSync('/etc/os-release', 'utf8'));
  } catch {
    // unknown system
  }
  const apt = which('apt-get') && which('dpkg-query');
  if (!apt || !family.some((f) => f === 'debian' || f === 'ubuntu')) {
    throw envError(
      `labctl host install supports Debian and Ubuntu (apt-get); this host is ${family[0] ?? 'unknown'}${apt ? '' : ' without apt-get'}`,
      `install by hand: ${wanted.join(' ')} (or your distribution's equivalents)`,
    );
  }
  if (!isRoot())
    throw envError('labctl host install must run as root (apt-get install)', 'sudo labctl host install');

  // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own format syntax, not a JS template
  const DPKG_FORMAT = '${Package}\t${db:Status-Abbrev}\t${Version}\n';
  const asked = [...new Set([...wanted, ...DOCKER_ENGINE_PACKAGES, 'containerd.io'])];
  const [q, answers] = await Promise.all([
    run('dpkg-query', ['-W', '-f', DPKG_FORMAT, ...asked], { reject: false, timeoutMs: 30_000 }),
    dockerServerVersion(),
  ]);
  const versions = installedVersionsFromDpkgQuery(q.stdout);
  const dockerd = which('dockerd');
  const plan = planInstall(wanted, new Set(versions.keys()), {
    packages: Object.fromEntries(
      [...versions].filter(
        ([p]) => (DOCKER_ENGINE_PACKAGES as readonly string[]).includes(p) || p === 'containerd.io',
      ),
    ),
    ...(dockerd ? { dockerd } : {}),
    ...(answers ? { answers } : {}),
  });
  const { missing } = plan;
  if (plan.docker.conflict && wanted.includes(DOCKER_PACKAGE))
    throw envError(
      plan.docker.conflict,
      "apt-get install -y docker-ce   (from Docker's repository, like containerd.io), then labctl host install",
    );
  if (wanted.includes(DOCKER_PACKAGE)) log(plan.docker.detail);
  if (missing.length === 0) {
    const needed = plan.docker.present ? wanted.filter((p) => p !== DOCKER_PACKAGE) : wanted;
    log(`all ${needed.length} packages are installed: ${needed.join(' ')}`);
    return { missing, installed: [], docker: plan.docker };
  }
  log(`missing: ${missing.join(' ')}`);
  for (const argv of [
    ['apt-get', 'update'],
    ['apt-get', 'install', '-y', ...missing],
  ]) {
    log(`$ DEBIAN_FRONTEND=noninteractive ${argv.join(' ')}`);
    // apt's own progress goes straight to the terminal and is kept for the error message; argv array, no shell
    const r = await execa(argv[0]!, argv.slice(1), {
      reject: false,
      timeout: 30 * 60_000,
      env: { DEBIAN_FRONTEND: 'noninteractive' },
      stdin: 'ignore',
      stdout: ['inherit', 'pipe'],
      stderr: ['inherit', 'pipe'],
      lines: true,
    });
    if (r.exitCode !== 0) {
      const out = [...(r.stderr as string[]), ...(r.stdout as string[])];
      throw envError(
        `${argv.join(' ')} failed (${r.timedOut ? 'timed out' : `exit ${r.exitCode ?? '?'}`})`,
        'check the apt sources and the network, then run labctl host install again',
        out.slice(-5),
      );
    }
  }
  if (existsSync('/run/systemd/system'))
    log('systemd units were installed; start everything with: labctl host start');
  else log('no systemd here: start the daemons with labctl host start');
  return { missing, installed: missing, docker: plan.docker };
}
