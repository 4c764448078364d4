/**
 * Scenarios: the lab file's scenarios section (shape and located errors) and the pure analysis of what a flow's
 * agent recorded (loss by sequence numbers, duplicates, reordering, gaps, recovery, tcp outcome, expectations), and
 * the timeline SVG's structure.
 */
import { describe, expect, it } from 'vitest';
import { analyzeFlow, type FlowRecord, judge } from '../../src/experiment/analyze.js';
import { renderTimeline } from '../../src/experiment/plot.js';
import { toJunit } from '../../src/experiment/report.js';
import { listenerNodes, type ScenarioReport, targetAddress } from '../../src/experiment/run.js';
import { checkLab, parseLab } from '../../src/lab/load.js';
import { compilePlan } from '../../src/plan/compile.js';

const BASE = `name: exp-unit
networks:
  lan: { subnet: 10.9.1.0/24 }
nodes:
  client: { interfaces: [lan] }
  server: { interfaces: [{ network: lan, ip: 10.9.1.20 }] }
`;

describe('scenarios in the lab file', () => {
  it('reads flows, steps and expectations', () => {
    const lab = parseLab(`${BASE}scenarios:
  flap:
    flows:
      - { name: ping, from: client, to: server, proto: icmp, rate: 20 }
      - { name: sess, from: client, to: 10.9.1.20, proto: tcp, port: 7000 }
    steps:
      - wait: 500ms
      - link: { node: server, iface: eth1, state: down }
      - wait: 2
      - readdress: { node: server, iface: eth1, ip: 10.9.1.40 }
      - conntrack-flush: { address: 10.9.1.20 }
      - exec: { node: client, cmd: ['true'] }
      - up: other.yml
    expect:
      - { flow: ping, max_lost: 2, max_gap_ms: 500 }
      - { flow: sess, tcp: [reset, stalled] }
`);
    const s = lab.scenarios![0]!;
    expect(s.name).toBe('flap');
    expect(s.flows.map((f) => [f.name, f.rate])).toEqual([
      ['ping', 20],
      ['sess', 10],
    ]);
    expect(s.steps).toEqual([
      { kind: 'wait', ms: 500 },
      { kind: 'link', node: 'server', iface: 'eth1', state: 'down' },
      { kind: 'wait', ms: 2000 },
      { kind: 'readdress', node: 'server', iface: 'eth1', ip: '10.9.1.40' },
      { kind: 'conntrack-flush', node: undefined, address: '10.9.1.20' },
      { kind: 'exec', node: 'client', cmd: ['true'] },
      { kind: 'up', file: 'other.yml' },
    ]);
    expect(s.expect[1]!.tcp).toEqual(['reset', 'stalled']);
  });

  it('reports every problem at its line with a hint', () => {
    const text = `${BASE}scenarios:
  flap:
    flows:
      - { name: ping, from: clint, to: server, proto: icmp }
      - { name: sess, from: client, to: server, proto: tcp }
    steps:
      - link: { node: server, iface: eth9, state: down }
      - wait: soon
      - { wait: 1s, link: { node: server, iface: eth1, state: up } }
    expect:
      - { flow: pong, max_lost: 1 }
      - { flow: ping, tcp: survived }
`;
    const { lab, diagnostics } = checkLab(text, 'lab.yml');
    expect(lab).toBeUndefined();
    const got = diagnostics.map((d) => `${d.line} ${d.path}: ${d.message}`);
    expect(got.some((g) => g.startsWith('14 ') && g.includes('wait'))).toBe(true);
    // the shape error comes first (the schema pass); fix it and the semantic ones are reported
    const second = checkLab(text.replace('wait: soon', 'wait: 1s'), 'lab.yml').diagnostics;
    const lines = second.map((d) => `${d.line} ${d.path}: ${d.message}`);
    expect(lines).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^10 scenarios\.flap\.flows\[0\]\.from: flow from unknown node "clint"/),
        expect.stringMatching(/^11 scenarios\.flap\.flows\[1\]: a tcp flow needs a port/),
        expect.stringMatching(
          /^13 scenarios\.flap\.steps\[0\]\.link\.iface: node server has no interface eth9/,
        ),
        expect.stringMatching(
          /^15 scenarios\.flap\.steps\[2\]: a step is one action; this one has wait and link/,
        ),
        expect.stringMatching(/^17 scenarios\.flap\.expect\[0\]\.flow: expect names unknown flow "pong"/),
        expect.stringMatching(/^18 scenarios\.flap\.expect\[1\]\.tcp: flow ping is icmp/),
      ]),
    );
    expect(second.find((d) => d.path.endsWith('flows[0].from'))?.hint).toContain('client');
  });

  it('impair steps: set (parsed like the lab file) or clear, with located errors', () => {
    const lab = parseLab(`${BASE}scenarios:
  lossy:
    flows: [{ name: ping, from: client, to: server, proto: icmp }]
    steps:
      - impair: { node: server, iface: eth1, delay: 50ms, loss: 10% }
      - impair: { node: server, iface: eth1, clear: true }
`);
    expect(lab.scenarios![0]!.steps).toEqual([
      {
        kind: 'impair',
        node: 'server',
        iface: 'eth1',
        impair: { delayMs: 50, jitterMs: 0, lossPct: 10, rateBps: 0, direction: 'egress' },
      },
      { kind: 'impair', node: 'server', iface: 'eth1' },
    ]);
    const { diagnostics } = checkLab(
      `${BASE}scenarios:
  lossy:
    flows: [{ name: ping, from: client, to: server, proto: icmp }]
    steps:
      - impair: { node: server, iface: eth1, delay: soon }
      - impair: { node: server, iface: eth1 }
      - impair: { node: server, iface: eth1, clear: true, loss: 1% }
      - impair: { node: server, iface: eth7, loss: 1% }
`,
      'lab.yml',
    );
    const got = diagnostics.map((d) => `${d.line} ${d.path}: ${d.message}`);
    expect(got).toEqual(
      expect.arrayContaining([
        expect.stringMatching(
          /^11 scenarios\.lossy\.steps\[0\]\.impair\.delay: delay "soon" is not a duration/,
        ),
        expect.stringMatching(/^12 scenarios\.lossy\.steps\[1\]\.impair: impair: sets nothing/),
        expect.stringMatching(/^13 scenarios\.lossy\.steps\[2\]\.impair: impair: clear takes no/),
        expect.stringMatching(
          /^14 scenarios\.lossy\.steps\[3\]\.impair\.iface: node server has no interface eth7/,
        ),
      ]),
    );
  });
});

/** a flow at 10/s from t=0 to 8 s whose packets sent in [2 s, 4 s) are lost */
function outage(): FlowRecord {
  const rec: FlowRecord = {
    name: 'ping',
    proto: 'icmp',
    from: 'a',
    to: 'b',
    rate: 10,
    startT: 1000,
    stopT: 1000 + 7900,
    tx: [],
    rx: [],
    tcpEvents: [],
  };
  for (let seq = 1; seq <= 80; seq++) {
    const t = 1000 + (seq - 1) * 100;
    rec.tx.push([seq, t]);
    if (t < 3000 || t >= 5000) rec.rx.push([seq, t, t + 1]);
  }
  return rec;
}

describe('analyzeFlow', () => {
  it('counts loss from sequence numbers, and the gap', () => {
    const f = analyzeFlow(
      outage(),
      [
        { startT: 3000, endT: 3010 },
        { startT: 5000, endT: 5005 },
      ],
      1000,
    );
    expect([f.sent, f.received, f.lost, f.duplicates, f.reordered]).toEqual([80, 60, 20, 0, 0]);
    expect(f.max_gap_ms).toBe(2100);
    expect(f.gaps).toEqual([{ start_ms: 1901, end_ms: 4001, ms: 2100, lost: 20 }]);
    // first delivery of a packet sent after each step's start, from the step's end
    expect(f.recovered_ms).toEqual([1991, 0]);
    expect(f.start_ms).toBe(0);
  });

  it('counts duplicates and reordering, never as delivered twice', () => {
    const rec = outage();
    rec.rx.push([10, 1900, 1905]); // a duplicate
    const [a, b] = [rec.rx[3]!, rec.rx[4]!];
    rec.rx[3] = [a[0], a[1], b[2] + 0.5]; // seq 4 arrives after seq 5
    const f = analyzeFlow(rec, [], 1000);
    expect([f.received, f.lost, f.duplicates, f.reordered]).toEqual([60, 20, 1, 1]);
  });

  it('a flow that delivers nothing has 100 % loss and a gap the length of the flow', () => {
    const rec = outage();
    rec.rx = [];
    const f = analyzeFlow(rec, [], 1000);
    expect([f.lost, f.loss_pct, f.max_gap_ms]).toEqual([80, 100, 7900]);
  });

  it('tcp: survived, reset, stalled', () => {
    const base = () => ({
      ...outage(),
      proto: 'tcp' as const,
      tcpEvents: [{ state: 'connected' as const, t: 1001 }],
    });
    const steps = [
      { startT: 3000, endT: 3010 },
      { startT: 3010, endT: 8000, wait: true },
    ];
    expect(analyzeFlow(base(), steps, 1000).tcp?.outcome).toBe('survived');
    const reset = base();
    reset.tcpEvents.push({ state: 'error', code: 'ECONNRESET', t: 4000 } as never);
    expect(analyzeFlow(reset, steps, 1000).tcp).toMatchObject({
      outcome: 'reset',
      error: 'ECONNRESET',
      error_ms: 3000,
    });
    const stalled = base();
    stalled.rx = stalled.rx.filter((p) => p[2] < 3000);
    expect(analyzeFlow(stalled, steps, 1000).tcp?.outcome).toBe('stalled');
    const never = base();
    never.tcpEvents = [];
    never.rx = [];
    expect(analyzeFlow(never, steps, 1000).tcp).toMatchObject({ outcome: 'stalled', connected: false });
  });

  it('judges expectations; a flow that could not run fails them all', () => {
    const f = analyzeFlow(outage(), [], 1000);
    const r = judge(
      [
        { flow: 'ping', maxLost: 20, maxGapMs: 500 },
        { flow: 'ping', maxLossPct: 30 },
      ],
      [f],
    );
    expect(r.map((e) => [e.check, e.ok])).toEqual([
      ['lost', true],
      ['max_gap_ms', false],
      ['loss_pct', true],
    ]);
    const broken = { ...f, error: 'no ICMP socket' };
    expect(judge([{ flow: 'ping', maxLost: 100 }], [broken])[0]!.ok).toBe(false);
  });
});

describe('timeline and JUnit', () => {
  const flow = analyzeFlow(outage(), [{ startT: 3000, endT: 3010 }], 1000);
  const report: ScenarioReport = {
    scenario: 'flap',
    lab: 'exp-unit',
    ok: false,
    error: null,
    started_at: '2026-01-01T00:00:00.000Z',
    duration_ms: 8000,
    flows: [flow],
    steps: [
      { step: 'wait 2 s', start_ms: 0, end_ms: 2000, ok: true, detail: '' },
      { step: 'link b eth1 down', start_ms: 2000, end_ms: 2010, ok: true, detail: '' },
    ],
    expect: [{ flow: 'ping', check: 'lost', want: '≤ 2', got: '20', ok: false }],
    notes: [],
  };

  it('draws a row per flow, a tick per delivered packet, the gap and the steps that change something', () => {
    const svg = renderTimeline(report);
    expect(svg).toMatch(/^<svg /);
    expect(svg.match(/M[\d.]+ [\d.]+v18/g)).toHaveLength(60);
    expect(svg.match(/M[\d.]+ [\d.]+v5/g)).toHaveLength(20);
    expect(svg).toContain('2.10 s, 20 lost');
    expect(svg).toContain('2. link b eth1 down');
    expect(svg).not.toContain('1. wait');
  });

  it('JUnit: one case per expectation, failures marked', () => {
    const x = toJunit(report);
    expect(x).toContain('tests="1" failures="1"');
    expect(x).toContain('<failure message="got 20"/>');
  });
});

describe('flow targets', () => {
  const lab = parseLab(`name: exp-unit
networks:
  a: { subnet: 10.9.1.0/24 }
  b: { subnet: 10.9.2.0/24 }
nodes:
  client: { interfaces: [{ network: b, ip: 10.9.2.10 }] }
  server: { interfaces: [{ network: a, ip: 10.9.1.20 }, { network: b, ip: 10.9.2.20 }] }
  other: { interfaces: [{ network: a, ip: 10.9.1.30 }] }
`);
  const nodes = compilePlan(lab).nodes;
  const flow = { name: 'f', from: 'client', proto: 'udp' as const, port: 7000, rate: 10 };

  it('a node is reached on a network the sender shares, else on its first address', () => {
    expect(targetAddress(nodes, 'client', 'server')).toBe('10.9.2.20');
    expect(targetAddress(nodes, 'client', 'other')).toBe('10.9.1.30');
    expect(targetAddress(nodes, 'client', '10.9.9.9')).toBe('10.9.9.9');
    expect(targetAddress(nodes, 'client', 'nosuch')).toBeUndefined();
  });

  it('echo listeners: the target node, the holder of the address, or every node but the sender', () => {
    expect(listenerNodes(nodes, { ...flow, to: 'server' })).toEqual(['server']);
    expect(listenerNodes(nodes, { ...flow, to: '10.9.1.30' })).toEqual(['other']);
    expect(listenerNodes(nodes, { ...flow, to: '10.9.9.100' })).toEqual(['server', 'other']);
    expect(listenerNodes(nodes, { ...flow, proto: 'icmp', to: 'server' })).toEqual([]);
  });
});
