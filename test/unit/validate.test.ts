/**
 * Lab file validation: every malformed fixture under test/fixtures/invalid/ must be reported with the exact
 * line (and column), the path and the message; every problem of a file at once; valid labs report nothing.
 * The last block runs the built CLI end to end.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  checkLab,
  type Diagnostic,
  formatDiagnostic,
  LabValidationError,
  parseLab,
} from '../../src/lab/load.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const fixtures = join(root, 'test', 'fixtures');
const read = (rel: string) => readFileSync(join(fixtures, rel), 'utf8');

interface Want {
  line: number;
  col?: number;
  path: string;
  /** substring of the message */
  message: string;
  /** substring of the hint */
  hint?: string;
}

/** file under test/fixtures/invalid → every diagnostic it must produce, in order (sorted by position). */
const CASES: Record<string, Want[]> = {
  'yaml-syntax-error.yml': [
    {
      line: 4,
      col: 4,
      path: '(yaml)',
      message: 'YAML syntax: All mapping items must start at the same column',
    },
  ],
  'duplicate-key.yml': [
    { line: 7, col: 3, path: '(yaml)', message: 'duplicate key "web"', hint: 'remove or rename' },
  ],
  'empty-file.yml': [{ line: 1, col: 1, path: '(top)', message: 'the lab file is empty' }],
  'top-level-list.yml': [{ line: 1, col: 1, path: '(top)', message: 'the lab file must be a mapping' }],
  'unknown-keys.yml': [
    { line: 2, col: 1, path: 'netwroks', message: 'unknown key "netwroks"', hint: 'did you mean networks?' },
    {
      line: 5,
      col: 33,
      path: 'networks.vpc-a.gatway',
      message: 'unknown key "gatway"',
      hint: 'did you mean gateway?',
    },
    {
      line: 9,
      col: 27,
      path: 'nodes.web.interfaces[0].nmae',
      message: 'unknown key "nmae"',
      hint: 'did you mean name?',
    },
    {
      line: 10,
      col: 5,
      path: 'nodes.web.lisen',
      message: 'unknown key "lisen"',
      hint: 'did you mean listen?',
    },
    {
      line: 12,
      col: 3,
      path: 'ovn.datapth',
      message: 'unknown key "datapth"',
      hint: 'did you mean datapath?',
    },
  ],
  'missing-name.yml': [
    { line: 1, col: 1, path: 'name', message: 'missing required key "name"', hint: 'add name:' },
  ],
  'missing-nodes.yml': [{ line: 1, col: 1, path: 'nodes', message: 'missing required key "nodes"' }],
  'empty-nodes.yml': [{ line: 4, col: 1, path: 'nodes', message: 'the lab has no nodes' }],
  'nodes-without-value.yml': [{ line: 4, col: 1, path: 'nodes', message: 'expected a mapping, got null' }],
  'lab-name-charset.yml': [
    {
      line: 1,
      col: 7,
      path: 'name',
      message: 'lab name "My_Lab" must start with a letter and use only a-z, 0-9',
    },
  ],
  'lab-name-too-long.yml': [
    { line: 1, col: 7, path: 'name', message: 'is 29 characters long; the limit is 24' },
  ],
  'bad-object-names.yml': [
    { line: 3, col: 3, path: 'networks.Vpc_A', message: 'network name "Vpc_A" must start with a letter' },
    { line: 4, col: 3, path: 'networks.1net', message: 'network name "1net" must start with a letter' },
    { line: 6, col: 3, path: 'routers.edge--1', message: 'router name "edge--1" must start with a letter' },
    { line: 8, col: 3, path: 'nodes.web-', message: 'node name "web-" must start with a letter' },
    {
      line: 9,
      col: 3,
      path: 'nodes.a-node-name-that-is-longer-than-32',
      message: 'is 34 characters long; the limit is 32',
    },
  ],
  'node-named-like-router.yml': [
    { line: 8, col: 3, path: 'nodes.edge', message: 'node "edge" has the same name as a router' },
  ],
  'unknown-network.yml': [
    {
      line: 6,
      col: 18,
      path: 'nodes.web.interfaces[0]',
      message: 'node web attaches to unknown network "vpc-b"',
      hint: 'did you mean vpc-a?',
    },
    {
      line: 9,
      col: 20,
      path: 'nodes.db.interfaces[0].network',
      message: 'unknown network "vpca"',
      hint: 'did you mean vpc-a?',
    },
  ],
  'unknown-router-link.yml': [
    {
      line: 6,
      col: 26,
      path: 'routers.edge.links[1]',
      message: 'router edge links unknown network "vpc-c"',
      hint: 'did you mean vpc-a?',
    },
    {
      line: 9,
      col: 20,
      path: 'routers.core.links[0].network',
      message: 'router core links unknown network "transit"',
      hint: 'known networks: vpc-a, vpc-b',
    },
  ],
  'router-links-network-twice.yml': [
    { line: 6, col: 20, path: 'routers.edge.links[1]', message: 'router edge links vpc-a twice' },
  ],
  'invalid-cidr.yml': [
    { line: 3, col: 20, path: 'networks.octet.subnet', message: '10.0.300.0 is not an IPv4 address' },
    { line: 4, col: 24, path: 'networks.no-prefix.subnet', message: 'missing prefix length' },
    { line: 5, col: 26, path: 'networks.long-prefix.subnet', message: 'prefix length /33 is above 32' },
    { line: 6, col: 20, path: 'networks.words.subnet', message: 'subnet "lan": not an IPv4 CIDR' },
  ],
  'cidr-host-bits.yml': [
    {
      line: 3,
      col: 20,
      path: 'networks.vpc-a.subnet',
      message: 'subnet "10.0.1.5/24" has host bits set',
      hint: 'did you mean 10.0.1.0/24?',
    },
    {
      line: 4,
      col: 20,
      path: 'networks.vpc-b.subnet',
      message: 'has host bits set',
      hint: 'did you mean 172.16.0.0/20?',
    },
  ],
  'ipv6-subnet.yml': [
    {
      line: 3,
      col: 17,
      path: 'networks.v6.subnet',
      message: 'fd00:1:: is an IPv6 address (IPv6 goes in subnet6',
    },
  ],
  'subnet-too-small.yml': [
    {
      line: 3,
      col: 18,
      path: 'networks.p2p.subnet',
      message: 'subnet "10.0.2.0/31" is too small',
      hint: '/30',
    },
    { line: 4, col: 19, path: 'networks.host.subnet', message: 'subnet "10.0.3.7/32" is too small' },
  ],
  'ip-outside-subnet.yml': [
    {
      line: 7,
      col: 31,
      path: 'nodes.web.interfaces[0].ip',
      message: '10.0.2.10 is outside the subnet 10.0.1.0/24',
    },
  ],
  'ipv6-address-on-ipv4-subnet.yml': [
    {
      line: 7,
      col: 31,
      path: 'nodes.web.interfaces[0].ip',
      message: 'fd00::10 is an IPv6 address on the IPv4 subnet 10.0.1.0/24',
    },
  ],
  'ip-network-address.yml': [
    {
      line: 7,
      col: 31,
      path: 'nodes.web.interfaces[0].ip',
      message: '10.0.1.0 is the network address of 10.0.1.0/24',
    },
  ],
  'ip-broadcast-address.yml': [
    {
      line: 7,
      col: 31,
      path: 'nodes.web.interfaces[0].ip',
      message: '10.0.1.255 is the broadcast address of 10.0.1.0/24',
    },
  ],
  'ip-router-address.yml': [
    {
      line: 10,
      col: 31,
      path: 'nodes.web.interfaces[0].ip',
      message: '10.0.1.1 is the router address of vpc-a',
    },
    {
      line: 13,
      col: 31,
      path: 'nodes.db.interfaces[0].ip',
      message: '10.0.2.254 is the router address of vpc-b',
    },
  ],
  'ip-gateway-address.yml': [
    {
      line: 7,
      col: 30,
      path: 'nodes.web.interfaces[0].ip',
      message: '192.168.50.14 is the gateway address of mgmt',
    },
  ],
  'duplicate-ip.yml': [
    {
      line: 10,
      col: 31,
      path: 'nodes.db.interfaces[0].ip',
      message: 'address 10.0.1.20 on vpc-a is already used by node web',
    },
  ],
  'invalid-mac.yml': [
    {
      line: 7,
      col: 32,
      path: 'nodes.web.interfaces[0].mac',
      message: '"0a:00:00:00:00:zz" is not a MAC address',
    },
    {
      line: 8,
      col: 32,
      path: 'nodes.web.interfaces[1].mac',
      message: '"0a:00:00:00:10" is not a MAC address',
    },
  ],
  'multicast-mac.yml': [
    {
      line: 7,
      col: 32,
      path: 'nodes.web.interfaces[0].mac',
      message: '01:00:5e:00:00:fb is a multicast MAC',
    },
  ],
  'duplicate-mac.yml': [
    {
      line: 10,
      col: 32,
      path: 'nodes.db.interfaces[0].mac',
      message: 'MAC 0a:00:00:00:00:10 is already used by web.eth1',
    },
  ],
  'duplicate-interface-name.yml': [
    {
      line: 9,
      col: 33,
      path: 'nodes.web.interfaces[1].name',
      message: 'node web has two interfaces named data',
    },
    // the shorthand second interface is eth2 by position, like the explicit first one
    { line: 13, col: 9, path: 'nodes.db.interfaces[1]', message: 'node db has two interfaces named eth2' },
  ],
  'interface-name-too-long.yml': [
    {
      line: 7,
      col: 33,
      path: 'nodes.web.interfaces[0].name',
      message: 'interface name "backend-network0" is not valid',
      hint: 'at most 15 characters',
    },
  ],
  'listen-bad-format.yml': [
    { line: 7, col: 22, path: 'nodes.web.listen[1]', message: 'listen entry "http" is not proto/port' },
    { line: 7, col: 28, path: 'nodes.web.listen[2]', message: 'listen entry "sctp/9" is not proto/port' },
  ],
  'listen-port-out-of-range.yml': [
    {
      line: 9,
      col: 9,
      path: 'nodes.web.listen[1]',
      message: '"tcp/65536" is not proto/port',
      hint: 'port 1-65535',
    },
    { line: 10, col: 9, path: 'nodes.web.listen[2]', message: '"tcp/0" is not proto/port' },
  ],
  'policy-unknown-node.yml': [
    {
      line: 8,
      col: 19,
      path: 'policies[0].deny.from',
      message: '"clinet" is not a node',
      hint: 'did you mean client?',
    },
  ],
  'policy-port-with-icmp.yml': [
    { line: 8, col: 55, path: 'policies[0].deny.port', message: 'a port needs proto tcp or udp, not icmp' },
  ],
  'policy-bad-port-range.yml': [
    { line: 8, col: 55, path: 'policies[0].allow.port', message: 'port "9000-8000" is not a port or range' },
    { line: 9, col: 55, path: 'policies[1].allow.port', message: 'port "1000-70000" is not a port or range' },
  ],
  'policy-bad-proto.yml': [
    {
      line: 8,
      col: 43,
      path: 'policies[0].deny.proto',
      message: '"sctp" is not one of tcp, udp, icmp, any',
    },
  ],
  'expect-unknown-from.yml': [
    {
      line: 8,
      col: 13,
      path: 'expect[0].from',
      message: 'expect from unknown node "clinet"',
      hint: 'did you mean client?',
    },
  ],
  'expect-tcp-without-port.yml': [{ line: 9, col: 5, path: 'expect[1]', message: 'expect tcp needs a port' }],
  'expect-icmp-with-port.yml': [{ line: 8, col: 49, path: 'expect[0].port', message: 'icmp has no port' }],
  'expect-invalid-result.yml': [
    {
      line: 8,
      col: 60,
      path: 'expect[0].result',
      message: '"blokced" is not one of pass, blocked',
      hint: 'did you mean blocked?',
    },
  ],
  'invalid-datapath.yml': [
    { line: 5, col: 13, path: 'ovn.datapath', message: '"kernel" is not one of auto, system, netdev' },
  ],
  'invalid-encap-type.yml': [
    { line: 6, col: 11, path: 'ovn.encap.type', message: '"gre" is not one of geneve, vxlan, stt' },
  ],
  'bad-encap-ip.yml': [
    { line: 5, col: 30, path: 'ovn.encap.ip', message: 'encap ip "localhost" is not an IPv4 address' },
  ],
  'bad-ovn-remote.yml': [
    { line: 5, col: 11, path: 'ovn.remote', message: 'ovn remote "tcp:192.0.2.10" is not an OVSDB remote' },
    { line: 6, col: 7, path: 'ovn.nb', message: 'ovn nb "http://192.0.2.10:6641" is not an OVSDB remote' },
  ],
  'overlapping-subnets-on-router.yml': [
    {
      line: 9,
      col: 9,
      path: 'routers.edge.links[1]',
      message: 'subnet 10.0.1.0/24 of small overlaps 10.0.0.0/16 of big',
    },
  ],
  'subnet-full.yml': [
    {
      line: 8,
      col: 21,
      path: 'nodes.b.interfaces[0]',
      message: 'network p2p (10.0.6.0/30) has no free address left',
      hint: 'larger subnet than /30',
    },
  ],
  'route-via-not-linked.yml': [
    {
      line: 9,
      col: 37,
      path: 'routers.edge.routes[0].via',
      message: 'route next hop 10.0.2.254 is not on any network router edge links',
      hint: 'linked: 10.0.1.0/24',
    },
  ],
  'invalid-image.yml': [
    {
      line: 4,
      col: 12,
      path: 'nodes.web.image',
      message: 'image "Nginx Latest" is not a valid image reference',
    },
  ],
  'invalid-default-image.yml': [
    // reported once, where it is written, not once per node that inherits it
    { line: 3, col: 10, path: 'defaults.image', message: 'image "-bad" is not a valid image reference' },
  ],
  'invalid-env-key.yml': [
    { line: 6, col: 7, path: 'nodes.web.env.1BAD', message: 'environment variable name "1BAD" is not valid' },
    {
      line: 7,
      col: 7,
      path: 'nodes.web.env.has-dash',
      message: 'environment variable name "has-dash" is not valid',
    },
  ],
  // IPv6 twins of the IPv4 rules (docs/ipv6.md), each located
  'v6-subnets.yml': [
    {
      line: 3,
      col: 19,
      path: 'networks.bad.subnet6',
      message: 'subnet6 "fd00:zz::/64": fd00:zz:: is not an IPv6 address',
      hint: 'write an IPv6 CIDR such as "fd00:1::/64"',
    },
    {
      line: 4,
      col: 24,
      path: 'networks.hostbits.subnet6',
      message: 'subnet6 "fd00:a::5/64" has host bits set',
      hint: 'did you mean fd00:a::/64?',
    },
    {
      line: 5,
      col: 20,
      path: 'networks.tiny.subnet6',
      message: 'subnet6 "fd00:b::/127" is too small for a router and a node',
      hint: 'use /126 or larger',
    },
    {
      line: 6,
      col: 20,
      path: 'networks.four.subnet6',
      message: 'subnet6 "10.9.0.0/24": 10.9.0.0 is an IPv4 address',
      hint: 'write an IPv6 CIDR such as "fd00:1::/64"',
    },
    {
      line: 7,
      col: 3,
      path: 'networks.none',
      message: 'network none has no subnet',
      hint: 'add subnet: 10.0.1.0/24',
    },
    {
      line: 8,
      col: 35,
      path: 'networks.ra4.ra',
      message: 'ra: router advertisements need an IPv6 subnet on ra4',
      hint: 'add subnet6:',
    },
    {
      line: 9,
      col: 43,
      path: 'networks.gw6.gateway',
      message: 'network gw6 has no IPv4 subnet for gateway 10.9.2.1',
      hint: 'add subnet:',
    },
  ],
  'v6-addresses.yml': [
    {
      line: 9,
      col: 44,
      path: 'nodes.a.interfaces[0].ip6',
      message: 'fd00:9::10 is outside the subnet6 fd00:8:1::/64',
      hint: 'use an address in fd00:8:1::/64',
    },
    {
      line: 10,
      col: 44,
      path: 'nodes.b.interfaces[0].ip6',
      message: 'fd00:8:1::1 is the router IPv6 address of dual',
      hint: 'pick another address in fd00:8:1::/64',
    },
    {
      line: 12,
      col: 44,
      path: 'nodes.d.interfaces[0].ip6',
      message: 'IPv6 address fd00:8:1::20 on dual is already used by node c',
      hint: 'give each one its own address',
    },
    {
      line: 13,
      col: 42,
      path: 'nodes.e.interfaces[0].ip6',
      message: 'v4 has no subnet6, so ip6 fd00:8:2::5 has nowhere to go',
      hint: 'add subnet6: "fd00:1::/64"',
    },
    {
      line: 14,
      col: 41,
      path: 'nodes.f.interfaces[0].ip',
      message: 'v6 is IPv6-only (no subnet:), so ip 10.8.3.5 has nowhere to go',
      hint: 'use ip6:',
    },
    {
      line: 15,
      col: 44,
      path: 'nodes.g.interfaces[0].ip6',
      message: '"not-an-address" is not an IPv6 address',
      hint: 'e.g. "fd00:8:1::a"',
    },
    {
      line: 16,
      col: 44,
      path: 'nodes.h.interfaces[0].ip6',
      message: '10.8.1.7 is an IPv4 address, not an IPv6 one',
      hint: 'ip6 takes an IPv6 address in fd00:8:1::/64',
    },
    {
      line: 17,
      col: 42,
      path: 'nodes.i.interfaces[0].ip6',
      message: 'fd00:8:2:: is the subnet-router anycast address of fd00:8:2::/64',
      hint: 'use a host address',
    },
  ],
  'v6-routers.yml': [
    {
      line: 8,
      col: 16,
      path: 'routers.r1.links[1]',
      message: 'router r1: subnet6 fd00:7:0:1::/64 of b overlaps fd00:7::/48 of a',
      hint: 'a router cannot route between overlapping subnets',
    },
    {
      line: 8,
      col: 38,
      path: 'routers.r1.links[2].ip6',
      message: 'fd00:7:8::1 is outside the subnet6 fd00:7:9::/64',
      hint: 'use an address in fd00:7:9::/64',
    },
    {
      line: 10,
      col: 40,
      path: 'routers.r1.routes[0].via',
      message: 'route next hop 10.7.1.254 is IPv4 but the prefix fd00:99::/48 is IPv6',
      hint: 'an IPv6 prefix needs an IPv6 next hop',
    },
    {
      line: 11,
      col: 38,
      path: 'routers.r1.routes[1].via',
      message: 'route next hop fd00:7::fe is IPv6 but the prefix 10.99.0.0/16 is IPv4',
      hint: 'e.g. via: 10.0.1.254',
    },
    {
      line: 12,
      col: 40,
      path: 'routers.r1.routes[2].via',
      message: 'route next hop fd00:6::1 is not on any IPv6 network router r1 links',
      hint: 'linked: fd00:7::/48',
    },
    {
      line: 13,
      col: 19,
      path: 'routers.r1.routes[3].prefix',
      message: 'route prefix "fd00:97::1/48" has host bits set',
      hint: 'did you mean fd00:97::/48?',
    },
  ],
  'v6-nat-lb.yml': [
    {
      line: 10,
      col: 68,
      path: 'routers.gw.nat[0].internal',
      message: 'internal 10.6.2.5 is IPv4 but the external 2001:db8::10 is IPv6',
      hint: 'NAT maps addresses of one family',
    },
    {
      line: 11,
      col: 68,
      path: 'routers.gw.nat[1].internal',
      message:
        'node old has no IPv6 address on a network router gw links, for the IPv6 external 2001:db8::11',
      hint: 'give v4lan a subnet6',
    },
    {
      line: 13,
      col: 16,
      path: 'load_balancers.web6.vip',
      message: 'vip fd00:6:1::99 is inside lan (fd00:6:1::/64); nodes would solicit for it and get no answer',
      hint: 'use an address outside every lab subnet',
    },
    {
      line: 14,
      col: 54,
      path: 'load_balancers.web6b.backends[0]',
      message: 'backend node old has no IPv6 address for the IPv6 vip 2001:db8::80',
      hint: 'attach it to a network with subnet6',
    },
    {
      line: 14,
      col: 59,
      path: 'load_balancers.web6b.backends[1]',
      message: 'backend 10.6.2.9 is IPv4 but the vip 2001:db8::80 is IPv6',
      hint: 'a VIP and its backends are of one family',
    },
  ],
  'interface-ip-not-a-string.yml': [
    { line: 8, col: 13, path: 'nodes.web.interfaces[0].ip', message: 'expected a string, got number 10' },
  ],
};

function expectDiagnostics(file: string, diagnostics: Diagnostic[], want: Want[]): void {
  const shown = diagnostics.map(formatDiagnostic).join('\n');
  expect(diagnostics.length, `diagnostics of ${file}:\n${shown}`).toBe(want.length);
  want.forEach((w, i) => {
    const d = diagnostics[i]!;
    expect(d, `diagnostic ${i} of ${file}:\n${shown}`).toMatchObject({
      file,
      line: w.line,
      ...(w.col !== undefined ? { col: w.col } : {}),
      path: w.path,
      message: expect.stringContaining(w.message),
      ...(w.hint !== undefined ? { hint: expect.stringContaining(w.hint) } : {}),
    });
  });
}

describe('invalid lab files', () => {
  for (const [file, want] of Object.entries(CASES)) {
    it(`${file}: ${want[0]!.path} ${want[0]!.message}`, () => {
      const { lab, diagnostics } = checkLab(read(`invalid/${file}`), file);
      expect(lab).toBeUndefined();
      expectDiagnostics(file, diagnostics, want);
    });
  }

  it('has a test case for every fixture and a fixture for every test case', () => {
    const files = readdirSync(join(fixtures, 'invalid')).filter((f) => f.endsWith('.yml'));
    expect(files.filter((f) => f !== 'many-errors.yml').sort()).toEqual(Object.keys(CASES).sort());
    expect(files.length).toBeGreaterThanOrEqual(36);
  });

  it('every diagnostic points at a character of the file, not past a line end or at blank space', () => {
    for (const file of [...Object.keys(CASES), 'many-errors.yml']) {
      const text = read(`invalid/${file}`);
      const lines = text.split('\n');
      for (const d of checkLab(text, file).diagnostics) {
        const where = formatDiagnostic(d);
        expect(d.line, where).toBeGreaterThanOrEqual(1);
        expect(d.line, where).toBeLessThanOrEqual(lines.length);
        const line = lines[d.line - 1]!;
        if (file === 'empty-file.yml') continue;
        expect(d.col, where).toBeGreaterThanOrEqual(1);
        expect(d.col, where).toBeLessThanOrEqual(line.length);
        // a key or a value starts here, not blank space
        expect(line[d.col - 1], where).toMatch(/\S/);
      }
    }
  });

  it('reports every problem of a file at once, each at its own line', () => {
    const file = 'many-errors.yml';
    const { lab, diagnostics } = checkLab(read(`invalid/${file}`), file);
    expect(lab).toBeUndefined();
    expectDiagnostics(file, diagnostics, [
      { line: 1, col: 7, path: 'name', message: 'lab name "Many_Errors"' },
      { line: 4, col: 20, path: 'networks.vpc-b.subnet', message: 'has host bits set', hint: '10.0.2.0/24' },
      { line: 6, col: 26, path: 'routers.edge.links[1]', message: 'unknown network "vpc-c"', hint: 'vpc-a' },
      { line: 10, col: 31, path: 'nodes.web.interfaces[0].ip', message: 'outside the subnet 10.0.1.0/24' },
      { line: 11, col: 14, path: 'nodes.web.listen[0]', message: '"tcp/99999" is not proto/port' },
      { line: 14, col: 32, path: 'nodes.db.interfaces[0].mac', message: 'is a multicast MAC' },
      {
        line: 16,
        col: 21,
        path: 'policies[0].deny.from',
        message: '"client" is not a node',
      },
      { line: 18, col: 5, path: 'expect[0]', message: 'expect tcp needs a port' },
      { line: 20, col: 16, path: 'ovn.encap.ip', message: 'encap ip "not-an-ip"' },
      // an unknown key does not hide the semantic problems above
      { line: 21, col: 3, path: 'ovn.remte', message: 'unknown key "remte"', hint: 'did you mean remote?' },
    ]);
  });

  it('reports several schema errors of one file at once', () => {
    const text = [
      'name: 42',
      'networks:',
      '  vpc-a: { subnet: 10.0.1.0/24, mtu: 100 }',
      'nodes:',
      '  web:',
      '    interfaces: vpc-a',
      'ovn:',
      '  datapath: kernel',
      '',
    ].join('\n');
    expectDiagnostics('inline.yml', checkLab(text, 'inline.yml').diagnostics, [
      { line: 1, col: 7, path: 'name', message: 'expected a string, got number 42' },
      { line: 3, col: 38, path: 'networks.vpc-a.mtu', message: 'number 100 is too small (minimum 576)' },
      { line: 6, col: 17, path: 'nodes.web.interfaces', message: 'expected a list, got "vpc-a"' },
      { line: 8, col: 13, path: 'ovn.datapath', message: '"kernel" is not one of auto, system, netdev' },
    ]);
  });

  it('parseLab throws a LabValidationError carrying every diagnostic', () => {
    const text = read('invalid/many-errors.yml');
    let caught: unknown;
    try {
      parseLab(text, 'many-errors.yml');
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(LabValidationError);
    const err = caught as LabValidationError;
    expect(err.diagnostics).toEqual(checkLab(text, 'many-errors.yml').diagnostics);
    expect(err.message).toBe('10 problems in many-errors.yml');
    expect(err.exitCode).toBe(1);
    expect(err.details[0]).toBe(
      'many-errors.yml:1:7 name: lab name "Many_Errors" must start with a letter and use only a-z, 0-9 and single hyphens (not at the end) (hint: e.g. name: two-vpcs)',
    );
  });
});

describe('one node, one address: the same explicit address on two interfaces (issue 10, defect 3)', () => {
  // Two networks may share a subnet (separate VPCs); a node attached to both must still not hold one address twice.
  const lab = (nodes: string[]) =>
    [
      'name: twin-subnets',
      'networks:',
      '  vpc-a: { subnet: 10.0.1.0/24 }',
      '  vpc-b: { subnet: 10.0.1.0/24 }',
      '  wide: { subnet: 10.0.0.0/16 }',
      'nodes:',
      ...nodes,
      '',
    ].join('\n');

  it('is a located diagnostic at the second interface, naming the first', () => {
    const text = lab([
      '  web:',
      '    interfaces:',
      '      - { network: vpc-a, ip: 10.0.1.10 }',
      '      - { network: vpc-b, ip: 10.0.1.10 }',
    ]);
    const { lab: parsed, diagnostics } = checkLab(text, 'twin.yml');
    expect(parsed).toBeUndefined();
    expectDiagnostics('twin.yml', diagnostics, [
      {
        line: 10,
        col: 31,
        path: 'nodes.web.interfaces[1].ip',
        message: 'address 10.0.1.10 of node web is already on its interface eth1 (vpc-a)',
        hint: 'give each interface of web its own address',
      },
    ]);
  });

  it('is found across overlapping subnets too, and names the interface by its given name', () => {
    const text = lab([
      '  web:',
      '    interfaces:',
      '      - { network: wide, ip: 10.0.1.10, name: up }',
      '      - { network: vpc-b, ip: 10.0.1.10 }',
    ]);
    expectDiagnostics('twin.yml', checkLab(text, 'twin.yml').diagnostics, [
      {
        line: 10,
        path: 'nodes.web.interfaces[1].ip',
        message: 'address 10.0.1.10 of node web is already on its interface up (wide)',
      },
    ]);
  });

  it('keeps accepting two networks with one subnet: the same address on different nodes, or other addresses', () => {
    const text = lab([
      '  web:',
      '    interfaces:',
      '      - { network: vpc-a, ip: 10.0.1.10 }',
      '      - { network: vpc-b, ip: 10.0.1.11 }',
      '  db:',
      '    interfaces: [{ network: vpc-b, ip: 10.0.1.10 }]',
      '  app:',
      // an allocated address is the compiler's to choose, never a validation error
      '    interfaces: [{ network: vpc-a, ip: 10.0.1.20 }, vpc-b]',
    ]);
    const { lab: parsed, diagnostics } = checkLab(text, 'twin.yml');
    expect(diagnostics.map(formatDiagnostic)).toEqual([]);
    expect(parsed!.nodes.map((n) => n.interfaces.map((i) => i.ip))).toEqual([
      ['10.0.1.10', '10.0.1.11'],
      ['10.0.1.10'],
      ['10.0.1.20', undefined],
    ]);
  });

  it('reports a repeat on one network once, as the address already used', () => {
    const text = lab([
      '  web:',
      '    interfaces:',
      '      - { network: vpc-a, ip: 10.0.1.10 }',
      '      - { network: vpc-a, ip: 10.0.1.10 }',
    ]);
    expectDiagnostics('twin.yml', checkLab(text, 'twin.yml').diagnostics, [
      {
        line: 10,
        path: 'nodes.web.interfaces[1].ip',
        message: 'address 10.0.1.10 on vpc-a is already used by node web',
      },
    ]);
  });
});

describe('valid lab files', () => {
  const valid = readdirSync(join(fixtures, 'valid')).filter((f) => f.endsWith('.yml'));

  it('the repository lab.yml has no diagnostics', () => {
    const { lab, diagnostics } = checkLab(readFileSync(join(root, 'lab.yml'), 'utf8'), 'lab.yml');
    expect(diagnostics).toEqual([]);
    expect(lab?.name).toBe('two-vpcs');
    expect(lab?.nodes.map((n) => n.name)).toEqual(['web', 'db', 'client']);
  });

  it('there are valid fixtures', () => {
    expect(valid.length).toBeGreaterThanOrEqual(3);
  });

  for (const file of valid) {
    it(`${file} has no diagnostics`, () => {
      const { lab, diagnostics } = checkLab(read(`valid/${file}`), file);
      expect(diagnostics.map(formatDiagnostic)).toEqual([]);
      expect(lab).toBeDefined();
    });
  }

  it('accepts image references with a registry port, a tag or a digest', () => {
    const images = [
      'labctl/node',
      'debian:bookworm',
      'localhost:5000/labctl/node:dev',
      'ghcr.io/acme/app:1.2.3',
      `registry.example.com:443/team/app@sha256:${'a'.repeat(64)}`,
    ];
    const text = `name: img\nnodes:\n${images.map((im, i) => `  n${i}: { image: "${im}" }`).join('\n')}\n`;
    const { lab, diagnostics } = checkLab(text, 'img.yml');
    expect(diagnostics.map(formatDiagnostic)).toEqual([]);
    expect(lab!.nodes.map((n) => n.image)).toEqual(images);
    for (const bad of ['UPPER/case', 'nginx:', 'a:b:c', 'host:port/x']) {
      const r = checkLab(`name: img\nnodes:\n  n: { image: "${bad}" }\n`, 'img.yml');
      expect(r.diagnostics.map((d) => `${d.path}: ${d.message}`)).toEqual([
        `nodes.n.image: image "${bad}" is not a valid image reference`,
      ]);
    }
  });

  it('normalizes what it accepts: shorthand interfaces, MACs, CIDRs, cmd and defaults', () => {
    const text = [
      'name: norm',
      'networks:',
      '  lan: { subnet: 10.1.0.0/16 }',
      'routers:',
      '  r: { links: [lan], routes: [{ prefix: 10.9.0.0/16, via: 10.1.0.254 }] }',
      'nodes:',
      '  a:',
      '    interfaces: [lan, { network: lan, mac: "0A-00-00-00-00-AA", name: data }]',
      '    cmd: sleep infinity',
      '    env: { N: 1, B: true }',
      '    listen: [udp/53]',
      'policies:',
      '  - allow: { from: lan, to: a, proto: tcp, port: 8000-8080 }',
      '  - deny: { from: 10.2.0.0/16, to: a }',
      '',
    ].join('\n');
    const { lab, diagnostics } = checkLab(text, 'norm.yml');
    expect(diagnostics).toEqual([]);
    expect(lab!.defaults).toEqual({ image: 'labctl/node', mtu: 1500 });
    expect(lab!.networks).toEqual([
      { name: 'lan', subnet: { base: 0x0a010000, prefix: 16 }, cidr: '10.1.0.0/16', mtu: 1500 },
    ]);
    const a = lab!.nodes[0]!;
    expect(a.interfaces).toEqual([
      { name: 'eth1', network: 'lan' },
      { name: 'data', network: 'lan', mac: '0a:00:00:00:00:aa' },
    ]);
    expect(a.cmd).toEqual(['/bin/sh', '-c', 'sleep infinity']);
    expect(a.env).toEqual({ N: '1', B: 'true' });
    expect(a.image).toBe('labctl/node');
    expect(a.listen).toEqual([{ proto: 'udp', port: 53 }]);
    expect(lab!.policies).toEqual([
      { action: 'allow', from: 'lan', to: 'a', proto: 'tcp', port: { min: 8000, max: 8080 } },
      { action: 'deny', from: '10.2.0.0/16', to: 'a', proto: 'any' },
    ]);
    expect(lab!.ovn).toEqual({
      encap: { type: 'geneve', ip: '127.0.0.1' },
      datapath: 'auto',
      bridge: 'br-int',
    });
  });
});

/** Sources under src/ and checks/ whose compiled .js in dist/ is missing or older than the source. */
function staleDist(): string[] {
  const stale: string[] = [];
  const walk = (dir: string) => {
    if (!existsSync(join(root, dir))) return;
    for (const e of readdirSync(join(root, dir), { withFileTypes: true })) {
      const rel = join(dir, e.name);
      if (e.isDirectory()) walk(rel);
      else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) {
        const out = join(root, 'dist', rel.replace(/\.ts$/, '.js'));
        if (!existsSync(out) || statSync(out).mtimeMs < statSync(join(root, rel)).mtimeMs) stale.push(rel);
      }
    }
  };
  walk('src');
  walk('checks');
  return stale;
}

describe('labctl validate (built CLI)', () => {
  const main = join(root, 'dist', 'src', 'cli', 'main.js');
  const bad = 'test/fixtures/invalid/many-errors.yml';
  const run = (args: string[]) => execa('node', [main, ...args], { cwd: root, reject: false });
  let text: Awaited<ReturnType<typeof run>>;
  let json: Awaited<ReturnType<typeof run>>;
  let good: Awaited<ReturnType<typeof run>>;
  let goodJson: Awaited<ReturnType<typeof run>>;

  beforeAll(async () => {
    // Build the CLI unless dist already holds every current source. Type checking is `npm run typecheck`'s job
    // (--noCheck only emits, faster); type errors elsewhere in the tree (work in progress) must not stop the
    // build, so tsc's exit code is not checked, but the entry point must exist afterwards.
    if (staleDist().length) {
      const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
      await execa('node', [tsc, '-p', 'tsconfig.json', '--noCheck'], { cwd: root, reject: false });
    }
    expect(existsSync(main), `${main} was not built`).toBe(true);
    [text, json, good, goodJson] = await Promise.all([
      run(['validate', '-f', bad]),
      run(['validate', '--json', '-f', bad]),
      run(['validate', '-f', 'lab.yml']),
      run(['validate', '--json', '-f', 'lab.yml']),
    ]);
  }, 120_000);

  it('exits 1 and prints file:line:col path: message for each problem, then a fix: line', () => {
    expect(text.exitCode).toBe(1);
    expect(text.stdout).toBe('');
    const lines = text.stderr.split('\n');
    expect(lines[0]).toBe(`error: 10 problems in ${bad}`);
    expect(lines).toContain(
      `  ${bad}:10:31 nodes.web.interfaces[0].ip: 10.0.9.10 is outside the subnet 10.0.1.0/24 (hint: use an address in 10.0.1.0/24)`,
    );
    expect(lines).toContain(`  ${bad}:21:3 ovn.remte: unknown key "remte" (hint: did you mean remote?)`);
    const problems = lines.filter((l) => /^ {2}\S+:\d+:\d+ \S+: /.test(l));
    expect(problems).toHaveLength(10);
    expect(lines.filter((l) => l.startsWith('fix: '))).toEqual([
      `fix: edit ${bad}:1 and run labctl validate again`,
    ]);
  });

  it('with --json prints only JSON on stdout, with every diagnostic', () => {
    expect(json.exitCode).toBe(1);
    expect(json.stderr).toBe('');
    const body = JSON.parse(json.stdout) as {
      ok: boolean;
      kind: string;
      fix: string;
      diagnostics: Diagnostic[];
    };
    expect(body.ok).toBe(false);
    expect(body.kind).toBe('invalid-lab');
    expect(body.fix).toContain(`${bad}:1`);
    expect(body.diagnostics).toEqual(checkLab(read('invalid/many-errors.yml'), bad).diagnostics);
  });

  it('exits 0 on a valid lab', () => {
    expect(good.exitCode).toBe(0);
    expect(good.stdout).toContain('lab two-vpcs is valid (3 nodes, 2 networks, 1 routers)');
    expect(goodJson.exitCode).toBe(0);
    expect(JSON.parse(goodJson.stdout)).toMatchObject({ ok: true, lab: 'two-vpcs', diagnostics: [] });
  });
});
