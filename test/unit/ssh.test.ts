/**
 * The ssh driver's pure parts (src/drivers/ssh.ts): argv quoting for the remote shell (checked against a real
 * /bin/sh, which must hand every argument back byte for byte), the command line with sudo/env, targets, and
 * known_hosts matching (plain, hashed, non-default port, changed key). Remote-chassis lab keys are validated with
 * located errors.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import {
  checkKnownHost,
  keyTypeOf,
  knownHostName,
  parseSshTarget,
  remoteCommandLine,
  shQuote,
} from '../../src/drivers/ssh.js';
import { checkLab, parseLab } from '../../src/lab/load.js';
import { compilePlan } from '../../src/plan/compile.js';

const NASTY = [
  '',
  'plain',
  'two words',
  "it's",
  "''",
  '$(touch /tmp/pwned)',
  '`id`',
  '"; rm -rf / #',
  'a\nb',
  '\\',
  '*',
  '~root',
  '-n',
  '$HOME',
  '!!',
  'é ünï',
];

describe('shQuote / remoteCommandLine', () => {
  it('a POSIX shell hands every quoted argument back unchanged', async () => {
    const line = `printf '%s\\0' ${NASTY.map(shQuote).join(' ')}`;
    const r = await execa('/bin/sh', ['-c', line]);
    expect(r.stdout.split('\0').slice(0, -1)).toEqual(NASTY);
  });

  it('root runs the program directly; another user through sudo -n; env through env(1), names checked', async () => {
    expect(remoteCommandLine('root', 'ovs-vsctl', ['show'])).toBe("'ovs-vsctl' 'show'");
    expect(remoteCommandLine('labctl', 'ip', ['link'])).toBe("'sudo' '-n' '--' 'ip' 'link'");
    expect(remoteCommandLine('root', 'apt-get', ['update'], { DEBIAN_FRONTEND: 'noninteractive' })).toBe(
      "'env' 'DEBIAN_FRONTEND=noninteractive' 'apt-get' 'update'",
    );
    expect(() => remoteCommandLine('root', 'x', [], { 'A;B': '1' })).toThrow(/environment variable name/);
    expect(() => shQuote('a\0b')).toThrow(/NUL/);
    // the line a remote shell would run: argv survives a round trip through sh -c
    const r = await execa('/bin/sh', ['-c', remoteCommandLine('root', 'printf', ['%s|', ...NASTY])]);
    expect(r.stdout).toBe(`${NASTY.join('|')}|`);
  });
});

describe('ssh targets and known_hosts', () => {
  it('parses user@host[:port], root and port 22 by default, refuses anything else', () => {
    expect(parseSshTarget('labctl@198.51.100.12')).toMatchObject({
      user: 'labctl',
      host: '198.51.100.12',
      port: 22,
    });
    expect(parseSshTarget('h.example:2222')).toMatchObject({ user: 'root', host: 'h.example', port: 2222 });
    for (const bad of ['a b', 'x;rm', '@host', 'u@', 'u@h:0', 'u@h:99999', '-oProxyCommand=x'])
      expect(() => parseSshTarget(bad), bad).toThrow();
  });

  const blob = Buffer.concat([Buffer.from([0, 0, 0, 11]), Buffer.from('ssh-ed25519'), randomBytes(36)]);
  const b64 = blob.toString('base64');
  it('reads the key type from the key blob', () => {
    expect(keyTypeOf(blob)).toBe('ssh-ed25519');
  });

  it('matches plain, hashed and [host]:port entries; a changed key is a mismatch, an absent host unknown', () => {
    expect(checkKnownHost(`198.51.100.12 ssh-ed25519 ${b64}\n`, '198.51.100.12', 'ssh-ed25519', b64)).toBe(
      'match',
    );
    expect(checkKnownHost(`a,198.51.100.12 ssh-ed25519 ${b64}\n`, '198.51.100.12', 'ssh-ed25519', b64)).toBe(
      'match',
    );
    expect(checkKnownHost(`198.51.100.12 ssh-ed25519 AAAAother\n`, '198.51.100.12', 'ssh-ed25519', b64)).toBe(
      'mismatch',
    );
    expect(checkKnownHost(`198.51.100.13 ssh-ed25519 ${b64}\n`, '198.51.100.12', 'ssh-ed25519', b64)).toBe(
      'unknown',
    );
    // a key of another type for the host is not a mismatch of this one (OpenSSH: unknown for this type)
    expect(checkKnownHost(`198.51.100.12 ssh-rsa AAAAx\n`, '198.51.100.12', 'ssh-ed25519', b64)).toBe(
      'unknown',
    );
    const name = knownHostName('h', 2222);
    expect(name).toBe('[h]:2222');
    expect(checkKnownHost(`h ssh-ed25519 ${b64}\n`, name, 'ssh-ed25519', b64)).toBe('unknown');
    const salt = randomBytes(20);
    const hash = createHmac('sha1', salt).update(name).digest('base64');
    expect(
      checkKnownHost(`|1|${salt.toString('base64')}|${hash} ssh-ed25519 ${b64}\n`, name, 'ssh-ed25519', b64),
    ).toBe('match');
    expect(checkKnownHost(`# comment\n\n@revoked h ssh-ed25519 ${b64}\n`, 'h', 'ssh-ed25519', b64)).toBe(
      'unknown',
    );
  });
});

const lab = (
  chassis: string,
  underlay = '{ subnet: 172.31.252.0/24, mtu: 1600, uplink: rcul0 }',
) => `name: rc-unit
chassis:
${chassis}
underlay: ${underlay}
networks:
  a: { subnet: 10.94.1.0/24 }
nodes:
  n1: { interfaces: [a] }
  n2: { chassis: r1, interfaces: [a] }
`;

describe('remote chassis in the lab file', () => {
  it('compiles ssh options, uplinks and the central address (the underlay’s last one by default)', () => {
    const l = parseLab(
      lab(`  hv1: {}
  r1: { kind: remote, ssh: root@198.18.77.2:2222, encap_ip: 172.31.252.20, uplink: rcul1, ssh_key: /k, known_hosts: /kh, host_key: accept-new }`),
    );
    const plan = compilePlan(l);
    expect(plan.underlay).toMatchObject({ uplink: 'rcul0', centralIp: '172.31.252.254' });
    expect(plan.chassis?.[1]).toMatchObject({
      kind: 'remote',
      systemId: 'r1.rc-unit',
      ssh: 'root@198.18.77.2:2222',
      sshKey: '/k',
      knownHosts: '/kh',
      hostKey: 'accept-new',
      uplink: 'rcul1',
    });
    // nodes carry their chassis as a label (one Docker may serve several chassis)
    expect(plan.nodes.map((n) => n.labels['labctl.chassis'])).toEqual(['hv1', 'r1']);
  });

  it('reports bad remote keys where they are', () => {
    const r = checkLab(
      lab(
        `  hv1: { ssh_key: /k }
  r1: { kind: remote, ssh: root@h, encap_ip: 10.0.0.5, uplink: "a b" }
  r2: { kind: remote, ssh: root@h2, encap_ip: 10.0.0.6, uplink: eth1 }
  r3: { kind: remote, ssh: root@h3, encap_ip: 172.31.252.9 }`,
        '{ subnet: 172.31.252.0/24, uplink: "x;y", central_ip: 172.31.252.9 }',
      ),
    );
    expect(r.lab).toBeUndefined();
    const msgs = r.diagnostics.map((d) => `${d.path}: ${d.message}`);
    expect(msgs).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^chassis\.hv1\.ssh_key: simulated chassis hv1 takes no ssh_key/),
        expect.stringMatching(/^chassis\.r1\.uplink: uplink "a b" is not an interface name/),
        expect.stringMatching(/^chassis\.r2\.encap_ip: .*not a host address of the underlay/),
        expect.stringMatching(/^chassis\.r3\.encap_ip: encap_ip 172\.31\.252\.9 is the central's address/),
        expect.stringMatching(/^underlay\.uplink: /),
      ]),
    );
    const policy = checkLab(
      lab(`  r1: { kind: remote, ssh: root@h, encap_ip: 172.31.252.7, host_key: trust-me }`),
    );
    expect(policy.diagnostics.map((d) => `${d.path}: ${d.message}`)).toEqual([
      'chassis.r1.host_key: "trust-me" is not one of strict, accept-new',
    ]);
  });
});
