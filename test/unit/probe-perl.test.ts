/**
 * The perl programs labctl ships (src/perl/*.pl), run for real with small inputs: the broker step against the
 * manifest grammar of src/probe/manifest.ts (the one place both sides are defined), the ICMP shim, and the
 * tx-offload ioctl in a network namespace of the test's own (unshare -n: nothing on the host is touched).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { perlScriptPath } from '../../src/perl/scripts.js';
import { formatStep, parseManifest } from '../../src/probe/manifest.js';

const root = process.getuid?.() === 0;
/** a high port, different per test process (the UDP one must be free; TCP may move up to 8 ports) */
const PORT = 40_000 + (process.pid % 9_000);
/** run argv in a network namespace of its own where ping sockets are allowed (as in a container) */
const inPingNetns = (argv: string[]) => [
  'unshare',
  '-n',
  'sh',
  '-c',
  'sysctl -qw net.ipv4.ping_group_range="0 2147483647" && exec "$@"',
  'sh',
  ...argv,
];

function perl(args: string[], env: Record<string, string> = {}) {
  return spawnSync('perl', args, {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
    encoding: 'utf8',
    timeout: 10_000,
  });
}

describe('perl -c', () => {
  it.each(['broker', 'icmp-shim', 'tx-off'] as const)('%s.pl compiles', (name) => {
    const r = perl(['-c', '-w', perlScriptPath(name)]);
    expect(r.stderr).toMatch(/syntax OK/);
    expect(r.status).toBe(0);
  });
});

describe('broker.pl', () => {
  const broker = perlScriptPath('broker');
  const manifestOf = (steps: string[], env: Record<string, string> = {}) =>
    perl([broker, ...steps, '--', 'printenv', 'LABCTL_MANIFEST'], env);

  it('opens what one step asks for and writes a manifest entry that manifest.ts reads', () => {
    const step = formatStep({
      node: 'web',
      pid: process.pid,
      icmp: false,
      tcp: 3,
      udp: 2,
      listen: [
        { proto: 'tcp', port: PORT, tries: 8 },
        { proto: 'udp', port: PORT },
      ],
    });
    expect(step).toBe(`web|${process.pid}|0|3|2|tcp/${PORT}+8,udp/${PORT}+0`);
    const r = manifestOf([step], { LABCTL_SOCKCONST: '2,1,2,1,2,10,41,26' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const [n, ...more] = parseManifest(r.stdout);
    expect(more).toEqual([]);
    expect(n).toMatchObject({ node: 'web', pid: process.pid, errors: [] });
    expect(n!.icmpFd).toBeUndefined();
    expect(n!.tcp).toHaveLength(3);
    expect(n!.udp).toHaveLength(2);
    // descriptors are real, distinct and above stdio
    const fds = [...n!.tcp, ...n!.udp, ...n!.listeners.map((l) => l.fd!)];
    expect(new Set(fds).size).toBe(fds.length);
    expect(Math.min(...fds)).toBeGreaterThan(2);
    expect(n!.listeners).toEqual([
      { proto: 'tcp', want: PORT, port: expect.any(Number), fd: expect.any(Number) },
      { proto: 'udp', want: PORT, port: PORT, fd: expect.any(Number) },
    ]);
    expect(n!.listeners[0]!.port).toBeGreaterThanOrEqual(PORT);
    expect(n!.listeners[0]!.port).toBeLessThanOrEqual(PORT + 8);
  });

  it('loads the Socket module when no constants are passed in, with the same result', () => {
    const r = manifestOf([formatStep({ node: 'a', pid: 1, icmp: false, tcp: 1, udp: 1 })]);
    expect(r.status).toBe(0);
    const [n] = parseManifest(r.stdout);
    expect(n).toMatchObject({ node: 'a', pid: 1, errors: [], listeners: [] });
    expect(n!.tcp).toHaveLength(1);
    expect(n!.udp).toHaveLength(1);
  });

  it('names the errno of a listener port that is taken, after its tries', () => {
    // a privileged port a non-existent service does not hold would bind as root: take one ourselves instead
    const holder = spawnSync(
      'perl',
      [
        '-e',
        `use Socket; socket(my $s, AF_INET, SOCK_STREAM, 0) or die; bind($s, pack_sockaddr_in(0, INADDR_ANY)) or die; listen($s, 1); my ($p) = unpack_sockaddr_in(getsockname($s)); my $r = qx{perl ${broker} 'n|1|0|0|0|tcp/$p+0' -- printenv LABCTL_MANIFEST}; print $r;`,
      ],
      { encoding: 'utf8', timeout: 10_000 },
    );
    expect(holder.status).toBe(0);
    const [n] = parseManifest(holder.stdout);
    expect(n!.listeners).toEqual([{ proto: 'tcp', want: expect.any(Number), code: 'EADDRINUSE' }]);
  });

  it.runIf(root)(
    'opens the ICMP socket where ping sockets are allowed, and names the errno where not',
    () => {
      const step = formatStep({ node: 'x', pid: 1, icmp: true });
      const [file, ...args] = inPingNetns(['perl', broker, step, '--', 'printenv', 'LABCTL_MANIFEST']);
      const r = spawnSync(file!, args, {
        env: { PATH: process.env.PATH, LABCTL_SOCKCONST: '2,1,2,1,2,10,41,26', LABCTL_ICMP_ID: '47000' },
        encoding: 'utf8',
        timeout: 10_000,
      });
      expect(r.stderr).toBe('');
      const [n] = parseManifest(r.stdout);
      expect(n!.errors).toEqual([]);
      expect(n!.icmpFd).toBeGreaterThan(2);
      // a namespace whose ping_group_range leaves root out (the host's default "1 0")
      const denied = spawnSync(
        'unshare',
        [
          '-n',
          'sh',
          '-c',
          'sysctl -qw net.ipv4.ping_group_range="1 0" && exec "$@"',
          'sh',
          'perl',
          broker,
          step,
          '--',
          'printenv',
          'LABCTL_MANIFEST',
        ],
        { env: { PATH: process.env.PATH }, encoding: 'utf8', timeout: 10_000 },
      );
      const [d] = parseManifest(denied.stdout);
      expect(d!.icmpFd).toBeUndefined();
      expect(d!.errors).toEqual(['icmp: EACCES']);
    },
  );

  it.runIf(root)('steps into the next netns with nsenter and appends one entry per step', () => {
    const steps = [
      formatStep({ node: 'a', pid: process.pid, icmp: false, tcp: 1 }),
      formatStep({ node: 'b', pid: process.pid, icmp: false, udp: 1 }),
    ];
    const r = manifestOf(steps, { LABCTL_SOCKCONST: '2,1,2,1,2,10,41,26' });
    expect(r.stderr).toBe('');
    const m = parseManifest(r.stdout);
    expect(m.map((n) => [n.node, n.tcp.length, n.udp.length])).toEqual([
      ['a', 1, 0],
      ['b', 0, 1],
    ]);
  });

  it.runIf(root)(
    'a node with IPv6: an ICMPv6 socket, AF_INET6 client sockets and dual-stack listeners on ::',
    () => {
      const step = formatStep({
        node: 'v6',
        pid: 1,
        icmp: true,
        icmp6: true,
        tcp: 1,
        udp: 1,
        tcp6: 2,
        udp6: 3,
        dual: true,
        listen: [
          { proto: 'tcp', port: PORT, tries: 2 },
          { proto: 'udp', port: PORT },
        ],
      });
      expect(step).toBe(`v6|1|1|1|1|tcp/${PORT}+2,udp/${PORT}+0|1|2|3|1`);
      // an IPv4-only step is what it always was
      expect(formatStep({ node: 'a', pid: 1, icmp: true, tcp: 1 })).toBe('a|1|1|1|0|');
      const show =
        'printenv LABCTL_MANIFEST; echo ---; cat /proc/net/tcp6 /proc/net/udp6; echo ---; for f in /proc/self/fd/*; do readlink $f; done';
      const [file, ...args] = inPingNetns(['perl', broker, step, '--', 'sh', '-c', show]);
      for (const sockconst of ['2,1,2,1,2,10,41,26', undefined]) {
        const r = spawnSync(file!, args, {
          env: {
            PATH: process.env.PATH,
            LABCTL_ICMP_ID: '47000',
            ...(sockconst ? { LABCTL_SOCKCONST: sockconst } : {}),
          },
          encoding: 'utf8',
          timeout: 10_000,
        });
        expect(r.stderr).toBe('');
        const [manifest = '', sockets = ''] = r.stdout.split('---\n');
        const [n] = parseManifest(manifest);
        expect(n!.errors).toEqual([]);
        expect(n!.icmpFd).toBeGreaterThan(2);
        expect(n!.icmp6Fd).toBeGreaterThan(2);
        expect([n!.tcp.length, n!.udp.length, n!.tcp6.length, n!.udp6.length]).toEqual([1, 1, 2, 3]);
        expect(n!.listeners).toEqual([
          { proto: 'tcp', want: PORT, port: PORT, fd: expect.any(Number), v6: true },
          { proto: 'udp', want: PORT, port: PORT, fd: expect.any(Number), v6: true },
        ]);
        // the kernel lists both listeners as IPv6 sockets on :: (tcp state 0A = LISTEN)
        const hexPort = PORT.toString(16).toUpperCase().padStart(4, '0');
        expect(sockets).toMatch(new RegExp(`00000000000000000000000000000000:${hexPort} [0-9A-F:]+ 0A`));
        expect(sockets).toMatch(new RegExp(`00000000000000000000000000000000:${hexPort} [0-9A-F:]+ 07`));
      }
    },
  );

  it('says why when it cannot go on: no final command, a bad step, a next netns that is gone', () => {
    expect(perl([broker, 'a|1|0|0|0|']).stderr).toMatch(/no final command/);
    expect(perl([broker, 'garbage', '--', 'true']).stderr).toMatch(/bad step 'garbage'/);
    if (!root) return;
    const gone = perl([broker, 'a|1|0|0|0|', `b|${2 ** 22 + 17}|0|0|0|`, '--', 'true']);
    expect(gone.status).not.toBe(0);
    expect(gone.stderr).toMatch(/nsenter/);
  });
});

describe('icmp-shim.pl', () => {
  const shim = perlScriptPath('icmp-shim');
  it.runIf(root)('hands the command an open ICMP socket as LABCTL_ICMP_FD', () => {
    const [file, ...args] = inPingNetns([
      'perl',
      shim,
      'sh',
      '-c',
      'echo "$LABCTL_ICMP_FD"; readlink /proc/self/fd/$LABCTL_ICMP_FD',
    ]);
    const r = spawnSync(file!, args, {
      env: { PATH: process.env.PATH, LABCTL_ICMP_ID: '47000' },
      encoding: 'utf8',
      timeout: 10_000,
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const [fd, link] = r.stdout.trim().split('\n');
    expect(Number(fd)).toBeGreaterThan(2);
    expect(link).toMatch(/^socket:\[\d+\]$/);
  });
  it.runIf(root)(
    'starts the command anyway when the socket is refused, saying why in LABCTL_ICMP_ERROR',
    () => {
      const r = spawnSync(
        'unshare',
        [
          '-n',
          'sh',
          '-c',
          'sysctl -qw net.ipv4.ping_group_range="1 0" && exec "$@"',
          'sh',
          'perl',
          shim,
          'sh',
          '-c',
          'echo "fd=$LABCTL_ICMP_FD err=$LABCTL_ICMP_ERROR"',
        ],
        { env: { PATH: process.env.PATH }, encoding: 'utf8', timeout: 10_000 },
      );
      expect(r.stdout.trim()).toBe('fd= err=Permission denied');
    },
  );
  it('says so when there is no command to start', () => {
    const r = perl([shim]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/no command/);
  });
});

describe('tx-off.pl', () => {
  const txOff = perlScriptPath('tx-off');
  it('fails naming the device it could not change', () => {
    const r = perl([txOff, 'labctl-nodev0']);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/ethtool -K labctl-nodev0 tx off: No such device/);
  });
  it.runIf(root)('turns tx checksumming off, as ethtool -K DEV tx off does (in a netns of its own)', () => {
    const out = execFileSync(
      'unshare',
      [
        '-n',
        'sh',
        '-c',
        `ip link add t0 type veth peer name t1 && ethtool -K t0 tx on >/dev/null 2>&1; ethtool -k t0 | grep '^tx-checksumming'; perl ${txOff} t0 && ethtool -k t0 | grep '^tx-checksumming'`,
      ],
      { encoding: 'utf8', timeout: 10_000 },
    );
    expect(out.trim().split('\n')).toEqual(['tx-checksumming: on', 'tx-checksumming: off']);
  });
});
