/** The agent's broker manifest and the conntrack dump: the two formats the data-plane layer parses itself. */
import { describe, expect, it } from 'vitest';
import { checkLab } from '../../src/lab/load.js';
import { compilePlan } from '../../src/plan/compile.js';
import {
  findStale,
  flushCommands,
  isDoctorProbe,
  parseConntrack,
  plannedAddresses,
} from '../../src/probe/conntrack.js';
import { parseManifest } from '../../src/probe/manifest.js';

describe('broker manifest', () => {
  it('parses sockets, ranges, listeners and errors per node', () => {
    const m = parseManifest(
      'web|123|i:5|ltcp/47000:47000@3|ludp/47000:47001@4|ltcp/80!EADDRINUSE|t:6-9,12|u:13-14 db|456|i!EPERM|t!EMFILE|e:something-odd',
    );
    expect(m).toEqual([
      {
        node: 'web',
        pid: 123,
        icmpFd: 5,
        tcp: [6, 7, 8, 9, 12],
        udp: [13, 14],
        tcp6: [],
        udp6: [],
        listeners: [
          { proto: 'tcp', want: 47000, port: 47000, fd: 3 },
          { proto: 'udp', want: 47000, port: 47001, fd: 4 },
          { proto: 'tcp', want: 80, code: 'EADDRINUSE' },
        ],
        errors: [],
      },
      {
        node: 'db',
        pid: 456,
        tcp: [],
        udp: [],
        tcp6: [],
        udp6: [],
        listeners: [],
        errors: ['icmp: EPERM', 'tcp: EMFILE', 'something-odd'],
      },
    ]);
    expect(parseManifest('')).toEqual([]);
  });

  it('parses the IPv6 fields: ICMPv6 socket, AF_INET6 client sockets, dual-stack listeners', () => {
    const m = parseManifest(
      'web|123|i:5|I:6|ltcp6/47000:47000@3|ludp6/47000:47000@4|ludp/53:53@7|t:8|u:9|T:10-11|U:12 db|456|I!EAFNOSUPPORT|T!EMFILE',
    );
    expect(m[0]).toEqual({
      node: 'web',
      pid: 123,
      icmpFd: 5,
      icmp6Fd: 6,
      tcp: [8],
      udp: [9],
      tcp6: [10, 11],
      udp6: [12],
      listeners: [
        { proto: 'tcp', want: 47000, port: 47000, fd: 3, v6: true },
        { proto: 'udp', want: 47000, port: 47000, fd: 4, v6: true },
        { proto: 'udp', want: 53, port: 53, fd: 7 },
      ],
      errors: [],
    });
    expect(m[1]!.errors).toEqual(['icmp6: EAFNOSUPPORT', 'tcp6: EMFILE']);
    expect(m[1]!.icmp6Fd).toBeUndefined();
  });
});

describe('conntrack', () => {
  const dump = [
    'tcp,orig=(src=10.0.2.2,dst=10.0.1.10,sport=42172,dport=80),reply=(src=10.0.1.10,dst=10.0.2.2,sport=80,dport=42172),zone=1,protoinfo=(state=TIME_WAIT)',
    'icmp,orig=(src=10.0.2.2,dst=10.0.1.99,id=49297,type=8,code=0),reply=(src=10.0.1.99,dst=10.0.2.2,id=49297,type=0,code=0),zone=6',
    'udp,orig=(src=10.0.1.77,dst=10.0.1.2,sport=47137,dport=5353),reply=(src=10.0.1.2,dst=10.0.1.77,sport=5353,dport=47137),zone=3',
    'udp,orig=(src=10.0.1.55,dst=10.0.1.2,sport=1,dport=2),reply=(src=10.0.1.2,dst=10.0.1.55,sport=2,dport=1),zone=42',
    'tcp,orig=(src=10.0.2.2,dst=192.0.2.1,sport=1,dport=2),reply=(src=192.0.2.1,dst=10.0.2.2,sport=2,dport=1),zone=6',
  ].join('\n');
  const { lab } = checkLab(
    `name: ct
networks:
  vpc-a: { subnet: 10.0.1.0/24 }
  vpc-b: { subnet: 10.0.2.0/24 }
routers:
  edge: { links: [vpc-a, vpc-b] }
nodes:
  web: { interfaces: [{ network: vpc-a, ip: 10.0.1.10 }] }
  db: { interfaces: [{ network: vpc-a, ip: 10.0.1.2 }] }
  client: { interfaces: [{ network: vpc-b, ip: 10.0.2.2 }] }
`,
    'ct.yml',
  );
  const plan = compilePlan(lab!);

  it('parses entries with their zone and state', () => {
    const e = parseConntrack(dump);
    expect(e).toHaveLength(5);
    expect(e[0]).toMatchObject({
      proto: 'tcp',
      zone: 1,
      orig: { src: '10.0.2.2', dst: '10.0.1.10', dport: 80 },
      state: 'TIME_WAIT',
    });
    expect(plannedAddresses(plan)).toContain('10.0.1.1');
  });

  it('finds unplanned lab addresses in the lab zones only, and flushes exactly those', () => {
    const stale = findStale(parseConntrack(dump), new Set([1, 3, 6]), plan);
    expect(stale.map((s) => s.address)).toEqual(['10.0.1.77', '10.0.1.99']); // .55 is in another zone, 192.0.2.1 outside the lab
    expect(flushCommands(stale[0]!)).toEqual([['dpctl/flush-conntrack', 'zone=3', 'ct_nw_src=10.0.1.77']]);
    expect(flushCommands(stale[1]!)).toEqual([['dpctl/flush-conntrack', 'zone=6', 'ct_nw_dst=10.0.1.99']]);
  });

  it("the doctor's own mesh probes (its ICMP identifier, its listener ports, untranslated) are not stale", () => {
    const own = parseConntrack(
      [
        'icmp,orig=(src=10.0.1.77,dst=10.0.2.2,id=47000,type=8,code=0),reply=(src=10.0.2.2,dst=10.0.1.77,id=47000,type=0,code=0),zone=6',
        'tcp,orig=(src=10.0.2.2,dst=10.0.1.77,sport=40001,dport=47000),reply=(src=10.0.1.77,dst=10.0.2.2,sport=47000,dport=40001),zone=6,protoinfo=(state=TIME_WAIT)',
        'udp,orig=(src=10.0.1.77,dst=10.0.2.2,sport=40002,dport=47009),reply=(src=10.0.2.2,dst=10.0.1.77,sport=47009,dport=40002),zone=6',
      ].join('\n'),
    );
    expect(own.map(isDoctorProbe)).toEqual([true, true, true]);
    expect(findStale(own, new Set([6]), plan)).toEqual([]);
    // the same with another identifier or port, or translated (a VIP), is someone else's and still counts
    const other = parseConntrack(
      [
        'icmp,orig=(src=10.0.1.77,dst=10.0.2.2,id=47001,type=8,code=0),reply=(src=10.0.2.2,dst=10.0.1.77,id=47001,type=0,code=0),zone=6',
        'tcp,orig=(src=10.0.2.2,dst=10.0.1.77,sport=40001,dport=47010),reply=(src=10.0.1.77,dst=10.0.2.2,sport=47010,dport=40001),zone=6',
        'icmp,orig=(src=10.0.2.2,dst=10.9.9.100,id=47000,type=8,code=0),reply=(src=10.0.1.66,dst=10.0.2.2,id=47000,type=0,code=0),zone=6',
      ].join('\n'),
    );
    expect(other.map(isDoctorProbe)).toEqual([false, false, false]);
    expect(findStale(other, new Set([6]), plan).map((x) => x.address)).toEqual(['10.0.1.66', '10.0.1.77']);
  });

  it('flushes an old VIP backend by the reply tuple: the original tuple names the VIP', () => {
    const vip = parseConntrack(
      'tcp,orig=(src=10.0.2.2,dst=10.9.9.100,sport=5,dport=80),reply=(src=10.0.1.77,dst=10.0.2.2,sport=80,dport=5),zone=8,protoinfo=(state=TIME_WAIT)',
    );
    const [stale] = findStale(vip, new Set([8]), plan);
    expect(stale?.address).toBe('10.0.1.77');
    expect(flushCommands(stale!)).toEqual([['dpctl/flush-conntrack', 'zone=8', '', 'ct_nw_src=10.0.1.77']]);
  });
});
