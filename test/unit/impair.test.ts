/**
 * Link impairments as pure logic: the lab file's values (parsed to ms, %, bit/s; located errors with hints), the
 * diff's impair changes on (plan, observed) fixtures, the relay's params file, and the doctor's probe budget.
 */
import { describe, expect, it } from 'vitest';
import type { Change, ChangeSet, ImpairChange } from '../../src/apply/changes.js';
import { diffLab } from '../../src/apply/diff.js';
import { formatParams, parseParams } from '../../src/drivers/relay.js';
import { describeImpair, parseImpair } from '../../src/lab/impair.js';
import { checkLab, parseLab } from '../../src/lab/load.js';
import { compilePlan } from '../../src/plan/compile.js';
import { ovsPortOf } from '../../src/plan/types.js';
import { attemptsFor, impairBudget } from '../../src/probe/impair-budget.js';
import { planTargets } from '../../src/probe/targets.js';
import { convergedObserved } from '../helpers/observed.js';

const lab = (aIface: string) => `
name: il
networks:
  net: { subnet: 10.62.1.0/24 }
nodes:
  a: { interfaces: [${aIface}] }
  b: { interfaces: [{ network: net, ip: 10.62.1.20 }] }
`;
const PLAIN = lab('{ network: net, ip: 10.62.1.10 }');
const withImpair = (spec: string) => lab(`{ network: net, ip: 10.62.1.10, impair: ${spec} }`);
const planOf = (text: string) => compilePlan(parseLab(text));
const impairs = (s: ChangeSet) => s.changes.filter((c): c is ImpairChange => c.kind === 'impair');
const lines = (s: ChangeSet) => s.changes.map((c: Change) => `${c.op} ${c.summary}`);

describe('impair values', () => {
  it('parses durations, percentages and tc-style rates to ms, % and bit/s', () => {
    expect(
      parseImpair({ delay: '50ms', jitter: '5ms', loss: '1%', rate: '10mbit', direction: 'both' }),
    ).toEqual({
      impair: { delayMs: 50, jitterMs: 5, lossPct: 1, rateBps: 10_000_000, direction: 'both' },
      issues: [],
    });
    expect(parseImpair({ delay: '1.5s', rate: '512kbit' }).impair).toMatchObject({
      delayMs: 1500,
      rateBps: 512_000,
      direction: 'egress',
    });
    expect(parseImpair({ delay: '500us' }).impair?.delayMs).toBe(0.5);
    expect(parseImpair({ delay: 20, loss: 0.5 }).impair).toMatchObject({ delayMs: 20, lossPct: 0.5 });
  });

  it('refuses what it cannot read or bound, naming the key', () => {
    const issue = (spec: Parameters<typeof parseImpair>[0]) => parseImpair(spec).issues[0];
    expect(issue({ delay: '50' })).toMatchObject({ key: 'delay', message: 'delay "50" is not a duration' });
    expect(issue({ delay: '11s' })?.key).toBe('delay');
    expect(issue({ jitter: '5ms' })).toMatchObject({ key: 'jitter', message: 'jitter needs a delay' });
    expect(issue({ delay: '5ms', jitter: '10ms' })?.message).toMatch(
      /jitter 10 ms is larger than the delay 5 ms/,
    );
    expect(issue({ loss: '101%' })?.message).toBe('loss 101% is more than 100%');
    expect(issue({ loss: '5' })?.key).toBe('loss');
    expect(issue({ rate: '10mbps' })?.hint).toMatch(/10mbit/);
    expect(issue({ rate: '1kbit' })?.message).toMatch(/out of range/);
    expect(issue({ delay: '5ms', direction: 'ingress' })?.key).toBe('direction');
    expect(issue({ delay: '0ms' })?.message).toBe('impair sets no delay, loss or rate');
  });

  it('the lab file reports located errors under interfaces[].impair', () => {
    const r = checkLab(withImpair('{ delay: 50ms, jitter: 80ms, loss: 2pc }'));
    expect(r.lab).toBeUndefined();
    const d = r.diagnostics.map((x) => ({ path: x.path, message: x.message, line: x.line }));
    expect(d).toEqual([
      {
        path: 'nodes.a.interfaces[0].impair.jitter',
        message: expect.stringMatching(/larger than the delay/),
        line: 6,
      },
      { path: 'nodes.a.interfaces[0].impair.loss', message: 'loss "2pc" is not a percentage', line: 6 },
    ]);
    expect(checkLab(withImpair('{ delay: 50ms, dealy: 5ms }')).diagnostics[0]?.hint).toMatch(
      /did you mean delay/,
    );
  });

  it('compiles to plan data with the relay twin names (≤ 15 bytes, derived from the host end)', () => {
    const i = planOf(withImpair('{ delay: 50ms, loss: 1% }')).nodes[0]!.interfaces[0]!;
    expect(i.impair).toMatchObject({ delayMs: 50, lossPct: 1, direction: 'egress' });
    expect(i.impair!.relayVeth).toBe(`lw${i.hostVeth.slice(2)}`);
    expect(i.impair!.bridgeVeth).toBe(`lb${i.hostVeth.slice(2)}`);
    expect(i.impair!.relayVeth.length).toBe(15);
    expect(ovsPortOf(i)).toBe(i.impair!.bridgeVeth);
    expect(describeImpair(i.impair)).toBe('delay 50ms, loss 1%, egress');
  });

  it('the params file round-trips', () => {
    const p = {
      delayMs: 50,
      jitterMs: 5,
      lossPct: 0.5,
      rateBps: 10_000_000,
      direction: 'both' as const,
      limit: 1000,
    };
    expect(parseParams(formatParams(p))).toEqual(p);
    expect(parseParams('delay_ms=5\n')).toBeUndefined();
  });
});

describe('diffLab: impairments', () => {
  const plain = planOf(PLAIN);
  const delayed = planOf(withImpair('{ delay: 100ms }'));

  it('a converged impaired lab has nothing to change', () => {
    expect(diffLab(delayed, convergedObserved(delayed)).changes).toEqual([]);
  });

  it('the first impairment of a running plain interface wires only its host side (no container, no plumb)', () => {
    const set = diffLab(delayed, convergedObserved(plain));
    expect(set.changes.map((c) => c.kind)).toEqual(['impair']);
    expect(impairs(set)[0]).toMatchObject({ op: '+', action: 'wire', node: 'a', iface: 'eth1' });
    expect(impairs(set)[0]!.impair).toMatchObject({ delayMs: 100 });
  });

  it('changed parameters are a set (no restart); clearing is an unwire and the host end is plugged back', () => {
    const faster = planOf(withImpair('{ delay: 20ms, loss: 30% }'));
    expect(lines(diffLab(faster, convergedObserved(delayed)))).toEqual([
      '~ impair a.eth1: delay 20ms, loss 30%, egress (was delay 100ms, egress)',
    ]);
    const cleared = diffLab(plain, convergedObserved(delayed));
    const a = plain.nodes[0]!.interfaces[0]!;
    expect(cleared.changes.map((c) => [c.kind, c.op])).toEqual([
      ['impair', '-'],
      ['ovs-port', '+'],
    ]);
    expect(cleared.changes[1]).toMatchObject({ action: 'plug', port: a.hostVeth });
    // the bridge end is removed by the unwire, not a second time by a generic unplug
    expect(cleared.changes.some((c) => c.kind === 'ovs-port' && c.action === 'unplug')).toBe(false);
  });

  it('a dead relay, a missing twin, or the host end back on the bridge is a rewire; a new container wires afresh', () => {
    const dead = convergedObserved(delayed);
    dead.hosts.local!.relays = dead.hosts.local!.relays!.map((r) => ({
      hostVeth: r.hostVeth,
      pidfile: true,
      params: r.params!,
    }));
    expect(lines(diffLab(delayed, dead))).toEqual([
      expect.stringMatching(/^~ impair a\.eth1: .*\(the relay is not running\)$/),
    ]);
    const twin = convergedObserved(delayed);
    twin.hosts.local!.relayLinks = [];
    expect(impairs(diffLab(delayed, twin))[0]).toMatchObject({ action: 'wire', op: '~' });
    const gone = convergedObserved(delayed);
    gone.hosts.local!.containers = gone.hosts.local!.containers.filter((c) => c.node !== 'a');
    const set = diffLab(delayed, gone);
    expect(set.changes.map((c) => `${c.kind}${'action' in c ? `:${c.action}` : ''}`)).toEqual([
      'container:create',
      'link-plumb',
      'impair:wire',
    ]);
  });

  it('a relay whose node is gone is stopped; its bridge port and twin pair go with it', () => {
    const noA = planOf(`
name: il
networks:
  net: { subnet: 10.62.1.0/24 }
nodes:
  b: { interfaces: [{ network: net, ip: 10.62.1.20 }] }
`);
    const set = diffLab(noA, convergedObserved(delayed));
    const stop = impairs(set);
    expect(stop).toHaveLength(1);
    expect(stop[0]).toMatchObject({
      op: '-',
      action: 'unwire',
      hostVeth: delayed.nodes[0]!.interfaces[0]!.hostVeth,
    });
    expect(stop[0]!.node).toBeUndefined();
    expect(set.changes.filter((c) => c.kind === 'ovs-port' && c.action === 'unplug')).toEqual([]);
  });
});

describe('doctor probes on impaired paths', () => {
  it('nothing impaired: one retry round, no extra time', () => {
    const p = planOf(PLAIN);
    expect(impairBudget(p, planTargets(p))).toEqual({ extraMs: 0, retryRounds: 1, blackholed: new Set() });
  });

  it('declared loss buys re-probe rounds, declared delay stretches the time limit', () => {
    const p = planOf(withImpair('{ delay: 50ms, loss: 5% }'));
    const b = impairBudget(p, planTargets(p));
    // tcp needs 2 round trips; a's egress is on every path of a (request out of a, or reply out of a)
    expect(b.extraMs).toBe(100);
    // one lossy traversal per exchange: tcp passes 0.95² per attempt → 4 attempts fail together < 1e-4
    expect(b.retryRounds).toBe(3);
    expect(b.blackholed.size).toBe(0);
    expect(attemptsFor(0.9025)).toBe(4);
    expect(attemptsFor(1)).toBe(1);
  });

  it('direction both doubles what a round trip crosses; 100 % loss is expected blocked', () => {
    const both = planOf(withImpair('{ delay: 50ms, direction: both }'));
    expect(impairBudget(both, planTargets(both)).extraMs).toBe(200);
    const hole = planOf(withImpair('{ loss: 100% }'));
    const targets = planTargets(hole);
    const b = impairBudget(hole, targets);
    const throughA = targets.filter((t) => !t.skip && (t.fwd?.node === 'a' || t.rev?.node === 'a'));
    expect(throughA.length).toBeGreaterThan(0);
    expect([...b.blackholed].sort()).toEqual(throughA.map((t) => t.key).sort());
  });
});
