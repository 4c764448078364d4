/**
 * `labctl host install`: on Debian/Ubuntu, apt-get install what labctl needs — only the packages dpkg does not
 * already list as installed. Refuses clearly when not root or not apt-based; prints each command it runs.
 */
import { existsSync, readFileSync } from 'node:fs';
import { execa } from 'execa';
import { envError } from '../errors.js';
import { run, which } from '../exec.js';
import { HOST_PACKAGES } from './constants.js';
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
  const DPKG_FORMAT = '${Package}\t${db:Status-Abbrev}\n';
  const q = await run('dpkg-query', ['-W', '-f', DPKG_FORMAT, ...wanted], {
    reject: false,
    timeoutMs: 30_000,
  });
  const missing = missingPackages(wanted, installedFromDpkgQuery(q.stdout));
  if (missing.length === 0) {
    log(`all ${wanted.length} packages are installed: ${wanted.join(' ')}`);
    return { missing, installed: [] };
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
  return { missing, installed: missing };
}
