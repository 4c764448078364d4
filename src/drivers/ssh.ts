/**
 * Commands on a remote machine over ssh (docs/multichassis.md "Remote chassis"), through the ssh2 library rather than
 * the ssh binary: one authenticated connection per machine carries every command as its own channel (no handshake
 * per command, no ControlMaster sockets to clean up), host keys are checked in-process against known_hosts, and a
 * failure arrives as a typed error instead of ssh's exit 255 and stderr text.
 *
 * An ssh "exec" request carries one command LINE that the remote user's shell parses. labctl never builds that line
 * from free text: every command is an argv array whose elements are each quoted by `shQuote` (single quotes, the one
 * quoting POSIX shells never interpret inside), and callers validate names before they become arguments (assertArg).
 * A non-root user runs every command through `sudo -n --` (passwordless sudo is required; see the docs).
 *
 * Host keys: checked against a known_hosts file (default ~/.ssh/known_hosts; plain and hashed `|1|` entries) and a
 * key that does not match is always refused. An unknown host is refused unless accept-new is set (lab:
 * `host_key: accept-new`, CLI: `--ssh-accept-new`), which records the key on first use like OpenSSH's
 * StrictHostKeyChecking=accept-new.
 */
import { createHmac } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import pLimit from 'p-limit';
import type { Client, ClientChannel, ConnectConfig } from 'ssh2';
import { atCommandEnd } from '../cleanup.js';
import { envError } from '../errors.js';
import { CommandError, formatCommand, type RunOptions, type RunResult } from '../exec.js';

/** user@host[:port] as the lab file (chassis.X.ssh) and `--ssh` take it. */
export const SSH_TARGET_RE =
  /^(?:([a-z_][a-z0-9_-]{0,31})@)?([A-Za-z0-9][A-Za-z0-9.-]{0,252})(?::(\d{1,5}))?$/;

export interface SshTarget {
  user: string;
  host: string;
  port: number;
  /** private key file; default: ssh-agent (SSH_AUTH_SOCK), then ~/.ssh/id_ed25519, ~/.ssh/id_rsa */
  key?: string;
  /** known_hosts file (default ~/.ssh/known_hosts) */
  knownHosts?: string;
  /** record an unknown host's key on first use (never accepts a changed key) */
  acceptNew?: boolean;
}

export function parseSshTarget(
  spec: string,
  extra: Omit<SshTarget, 'user' | 'host' | 'port'> = {},
): SshTarget {
  const m = SSH_TARGET_RE.exec(spec);
  if (!m) throw envError(`ssh target "${spec}" is not user@host[:port]`, 'e.g. --ssh root@198.51.100.12');
  const port = m[3] ? Number(m[3]) : 22;
  if (port < 1 || port > 65535) throw envError(`ssh port ${port} is out of range`, 'e.g. root@host:2222');
  return { user: m[1] ?? 'root', host: m[2]!, port, ...extra };
}

export const describeTarget = (t: SshTarget) => `${t.user}@${t.host}${t.port === 22 ? '' : `:${t.port}`}`;

/**
 * Quote one argument for a POSIX shell: wrapped in single quotes, each single quote written as '\''. Inside single
 * quotes no character is special ($, `, \, ", *, newline, spaces), so the remote shell hands the program exactly
 * this string.
 */
export function shQuote(arg: string): string {
  if (arg.includes('\0')) throw new Error('refusing an argument with a NUL byte');
  return `'${arg.replaceAll("'", `'\\''`)}'`;
}

/** The command line an argv becomes on the remote (as root directly, else through sudo -n). */
export function remoteCommandLine(
  user: string,
  file: string,
  args: readonly string[],
  env?: Record<string, string>,
): string {
  const argv: string[] = [];
  if (user !== 'root') argv.push('sudo', '-n', '--');
  if (env && Object.keys(env).length) {
    argv.push('env');
    for (const [k, v] of Object.entries(env)) {
      if (!/^[A-Z_][A-Z0-9_]*$/.test(k))
        throw new Error(`refusing environment variable name ${JSON.stringify(k)}`);
      argv.push(`${k}=${v}`);
    }
  }
  argv.push(file, ...args);
  return argv.map(shQuote).join(' ');
}

// ---- known_hosts

/** The name a known_hosts line uses for a host: `host`, or `[host]:port` off port 22. */
export function knownHostName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

function hostMatches(pattern: string, name: string): boolean {
  if (pattern.startsWith('|1|')) {
    const [, , salt, hash] = pattern.split('|');
    if (!salt || !hash) return false;
    const h = createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64');
    return h === hash;
  }
  return pattern.split(',').some((p) => p === name);
}

/** 'match', 'mismatch' (the host is known with other keys of this type) or 'unknown'. */
export function checkKnownHost(
  knownHosts: string,
  name: string,
  keyType: string,
  keyBase64: string,
): 'match' | 'mismatch' | 'unknown' {
  let other = false;
  for (const raw of knownHosts.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith('@')) continue;
    const [hosts, type, key] = line.split(/\s+/);
    if (!hosts || !type || !key || !hostMatches(hosts, name)) continue;
    if (type === keyType && key === keyBase64) return 'match';
    if (type === keyType) other = true;
  }
  return other ? 'mismatch' : 'unknown';
}

/** The key type named inside an ssh public key blob (string length + name). */
export function keyTypeOf(blob: Buffer): string {
  if (blob.length < 4) return '';
  const n = blob.readUInt32BE(0);
  return blob.subarray(4, 4 + n).toString('latin1');
}

const defaultKnownHosts = () => join(homedir(), '.ssh', 'known_hosts');

function privateKeyOptions(t: SshTarget): Pick<ConnectConfig, 'privateKey' | 'agent'> {
  if (t.key) {
    try {
      return { privateKey: readFileSync(t.key) };
    } catch (err) {
      throw envError(
        `cannot read ssh key ${t.key}: ${(err as Error).message}`,
        'check chassis.X.ssh_key / --ssh-key',
      );
    }
  }
  if (process.env.SSH_AUTH_SOCK) return { agent: process.env.SSH_AUTH_SOCK };
  for (const f of ['id_ed25519', 'id_ecdsa', 'id_rsa']) {
    const p = join(homedir(), '.ssh', f);
    if (existsSync(p)) return { privateKey: readFileSync(p) };
  }
  throw envError(
    `no ssh key for ${describeTarget(t)}: no SSH_AUTH_SOCK and no ~/.ssh/id_ed25519, id_ecdsa or id_rsa`,
    'set chassis.X.ssh_key (or --ssh-key) to a private key the remote accepts',
  );
}

/** ssh2 connect options with labctl's host-key policy; `problem` receives why a key was refused. */
export function connectConfig(t: SshTarget, problem: (why: string) => void): ConnectConfig {
  const file = t.knownHosts ?? defaultKnownHosts();
  const name = knownHostName(t.host, t.port);
  return {
    host: t.host,
    port: t.port,
    username: t.user,
    readyTimeout: 10_000,
    keepaliveInterval: 15_000,
    ...privateKeyOptions(t),
    hostVerifier: (key: Buffer) => {
      const type = keyTypeOf(key);
      const b64 = key.toString('base64');
      const known = existsSync(file) ? readFileSync(file, 'utf8') : '';
      const verdict = checkKnownHost(known, name, type, b64);
      if (verdict === 'match') return true;
      if (verdict === 'mismatch') {
        problem(
          `the host key of ${name} (${type}) does not match ${file}: refusing (possible impersonation)`,
        );
        return false;
      }
      if (!t.acceptNew) {
        problem(`${name} is not in ${file} (host key ${type} unknown)`);
        return false;
      }
      mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
      appendFileSync(file, `${name} ${type} ${b64}\n`, { mode: 0o600 });
      return true;
    },
  };
}

/** At most this many channels at once on one connection (OpenSSH's MaxSessions defaults to 10). */
const CHANNELS = 8;

export interface SshSession {
  target: SshTarget;
  /** Run a program on the remote: the same contract as exec.ts's run (argv, timeout, input, reject). */
  run(file: string, args: readonly string[], opts?: RunOptions): Promise<RunResult>;
  /** Write a file on the remote (mode applied), through `install` reading stdin: no shell redirection. */
  writeFile(path: string, content: string | Buffer, mode?: number): Promise<void>;
  close(): void;
}

const sessions = new Map<string, Promise<{ client: Client; closed: () => boolean }>>();

async function connect(t: SshTarget): Promise<{ client: Client; closed: () => boolean }> {
  // a CommonJS module: its exports are the default export when bundled
  const mod = (await import('ssh2')) as typeof import('ssh2') & { default?: typeof import('ssh2') };
  const Client = mod.Client ?? mod.default!.Client;
  atCommandEnd(closeSshSessions);
  const client = new Client();
  let why: string | undefined;
  let closed = false;
  const cfg = connectConfig(t, (w) => {
    why = w;
  });
  await new Promise<void>((resolve, reject) => {
    client
      .once('ready', () => resolve())
      .once('error', (err) => {
        closed = true;
        reject(
          envError(
            `ssh to ${describeTarget(t)} failed: ${why ?? err.message}`,
            why?.includes('not in')
              ? `ssh-keyscan -p ${t.port} ${t.host} >> ${t.knownHosts ?? '~/.ssh/known_hosts'}   (after checking the fingerprint), or host_key: accept-new / --ssh-accept-new`
              : `ssh -p ${t.port} ${t.user}@${t.host} true   (check the address, user, key and that sshd runs)`,
          ),
        );
      })
      .connect(cfg);
  });
  client.on('close', () => {
    closed = true;
  });
  client.on('error', () => {
    closed = true;
  });
  return { client, closed: () => closed };
}

/** The connection to a target, opened on first use and shared by every caller in this process. */
export function sshSession(t: SshTarget): SshSession {
  const id = `${t.user}@${t.host}:${t.port}`;
  const limit = pLimit(CHANNELS);
  const conn = async () => {
    let p = sessions.get(id);
    if (p) {
      const c = await p.catch(() => undefined);
      if (c && !c.closed()) return c.client;
    }
    p = connect(t);
    sessions.set(id, p);
    p.catch(() => sessions.delete(id));
    return (await p).client;
  };
  const exec = (line: string, input: string | Buffer | undefined, timeoutMs: number) =>
    limit(
      async () =>
        new Promise<{ stdout: string; stderr: string; code: number; timedOut: boolean }>(
          (resolve, reject) => {
            conn().then((client) => {
              client.exec(line, (err: Error | undefined, stream: ClientChannel) => {
                if (err) return reject(err);
                const out: Buffer[] = [];
                const errb: Buffer[] = [];
                let timedOut = false;
                const timer = setTimeout(() => {
                  timedOut = true;
                  stream.close();
                }, timeoutMs);
                stream.on('data', (d: Buffer) => out.push(d));
                stream.stderr.on('data', (d: Buffer) => errb.push(d));
                stream.on('close', (code: number | null) => {
                  clearTimeout(timer);
                  resolve({
                    stdout: Buffer.concat(out).toString('utf8'),
                    stderr: Buffer.concat(errb).toString('utf8'),
                    code: timedOut ? 124 : (code ?? 255),
                    timedOut,
                  });
                });
                if (input !== undefined) stream.end(input);
                else stream.end();
              });
            }, reject);
          },
        ),
    );
  return {
    target: t,
    async run(file, args, opts = {}) {
      const line = remoteCommandLine(t.user, file, args, opts.env);
      const r = await exec(line, opts.input, opts.timeoutMs ?? 30_000);
      const result: RunResult = {
        stdout: r.stdout.replace(/\n$/, ''),
        stderr: r.stderr.replace(/\n$/, ''),
        exitCode: r.code,
        failed: r.code !== 0,
        timedOut: r.timedOut,
      };
      if (r.code === 127 && !result.stderr) result.stderr = `${file}: command not found on ${t.host}`;
      if (result.failed && opts.reject !== false)
        throw new CommandError(`ssh ${describeTarget(t)} ${formatCommand(file, args)}`, result);
      return result;
    },
    async writeFile(path, content, mode = 0o600) {
      const r = await exec(
        remoteCommandLine(t.user, 'install', ['-D', '-m', mode.toString(8), '/dev/stdin', path]),
        content,
        30_000,
      );
      if (r.code !== 0) throw new Error(`writing ${path} on ${t.host} failed: ${r.stderr.trim()}`);
    },
    close() {
      const p = sessions.get(id);
      sessions.delete(id);
      p?.then((c) => c.client.end()).catch(() => undefined);
    },
  };
}

/** Close every ssh connection of this process (so a command can exit). */
export async function closeSshSessions(): Promise<void> {
  const all = [...sessions.values()];
  sessions.clear();
  await Promise.all(all.map((p) => p.then((c) => c.client.end()).catch(() => undefined)));
}

/**
 * dockerode options for the remote's Docker over ssh (docker-modem runs `docker system dial-stdio` there), with the
 * same key and host-key policy as every other command (a refused host key fails the Docker call).
 */
export function dockerOverSsh(t: SshTarget): Record<string, unknown> {
  const { host, port, username, ...sshOptions } = connectConfig(t, () => undefined);
  // no timeout: docker-modem sets it on the socket, and an ssh channel has no setTimeout
  return { protocol: 'ssh', host, port, username, sshOptions };
}
