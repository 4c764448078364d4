/**
 * Sticky addresses: compilePlan with the running lab's allocations as its prior (PriorAddresses). A running node
 * keeps the address labctl allocated to it whatever is added, removed or reordered; explicit addresses win.
 */
import { describe, expect, it } from 'vitest';
import { priorFromNb } from '../../src/apply/observe.js';
import { priorFromPlan } from '../../src/apply/running-plan.js';
import { parseLab } from '../../src/lab/load.js';
import { compilePlan } from '../../src/plan/compile.js';
import type { Plan } from '../../src/plan/types.js';
import { nbOf } from '../helpers/observed.js';

const LAB = `
name: st
networks:
  blue: { subnet: 10.61.1.0/24 }
  red: { subnet: 10.61.2.0/24 }
nodes:
  b1: { interfaces: [{ network: blue, ip: 10.61.1.10 }] }
  b2: { interfaces: [blue] }
  b3: { interfaces: [blue] }
`;
const compile = (text: string, running?: Plan) =>
  compilePlan(parseLab(text), running ? { prior: priorFromPlan(running) } : {});
const addr = (p: Plan, node: string) => p.nodes.find((n) => n.name === node)?.interfaces[0]?.ip;
const allocated = (p: Plan, node: string) => p.nodes.find((n) => n.name === node)?.interfaces[0]?.allocated;

describe('sticky addresses', () => {
  const base = compile(LAB);

  it('without a running lab, addresses are allocated in file order (the plan is a function of the file)', () => {
    expect([addr(base, 'b2'), addr(base, 'b3')]).toEqual(['10.61.1.1', '10.61.1.2']);
    expect([allocated(base, 'b1'), allocated(base, 'b2')]).toEqual([undefined, '10.61.1.1']);
    expect(compile(LAB, compilePlan(parseLab(LAB)))).toEqual(base);
  });

  it('the allocation is written to the NB port and read back from it as the prior', () => {
    const port = base.switches[0]!.ports.find((p) => p.node === 'b2')!;
    expect(port.externalIds['labctl-alloc']).toBe('10.61.1.1');
    expect(base.switches[0]!.ports.find((p) => p.node === 'b1')!.externalIds['labctl-alloc']).toBeUndefined();
    expect([...priorFromNb(nbOf(base))]).toEqual([...priorFromPlan(base)]);
  });

  it('inserting, removing and reordering nodes renumbers no running node', () => {
    const inserted = compile(LAB.replace('  b2:', '  b0: { interfaces: [blue] }\n  b2:'), base);
    expect([addr(inserted, 'b2'), addr(inserted, 'b3'), addr(inserted, 'b0')]).toEqual([
      '10.61.1.1',
      '10.61.1.2',
      '10.61.1.3',
    ]);
    const removed = compile(LAB.replace('  b2: { interfaces: [blue] }\n', ''), base);
    expect(addr(removed, 'b3')).toBe('10.61.1.2');
    // the address b2 freed goes to the next new interface
    const refilled = compile(
      `${LAB.replace('  b2: { interfaces: [blue] }\n', '')}  b4: { interfaces: [blue] }\n`,
      removed,
    );
    expect(addr(refilled, 'b4')).toBe('10.61.1.1');
    const reordered = compile(
      LAB.replace(
        '  b2: { interfaces: [blue] }\n  b3: { interfaces: [blue] }',
        '  b3: { interfaces: [blue] }\n  b2: { interfaces: [blue] }',
      ),
      base,
    );
    expect([addr(reordered, 'b2'), addr(reordered, 'b3')]).toEqual(['10.61.1.1', '10.61.1.2']);
  });

  it('an explicit address wins over an allocation; the node that had it is allocated anew', () => {
    const p = compile(
      LAB.replace(
        'b3: { interfaces: [blue] }',
        'b3: { interfaces: [blue] }\n  b9: { interfaces: [{ network: blue, ip: 10.61.1.1 }] }',
      ),
      base,
    );
    expect(addr(p, 'b9')).toBe('10.61.1.1');
    expect(addr(p, 'b2')).toBe('10.61.1.3');
    expect(addr(p, 'b3')).toBe('10.61.1.2');
  });

  it('an ip: override keeps the allocation reserved; dropping it puts the allocated address back', () => {
    const pinned = compile(
      LAB.replace('b2: { interfaces: [blue] }', 'b2: { interfaces: [{ network: blue, ip: 10.61.1.99 }] }'),
      base,
    );
    expect(addr(pinned, 'b2')).toBe('10.61.1.99');
    expect(allocated(pinned, 'b2')).toBe('10.61.1.1');
    const added = compile(
      `${LAB.replace('b2: { interfaces: [blue] }', 'b2: { interfaces: [{ network: blue, ip: 10.61.1.99 }] }')}  b4: { interfaces: [blue] }\n`,
      pinned,
    );
    expect(addr(added, 'b4')).toBe('10.61.1.3');
    expect(addr(compile(LAB, pinned), 'b2')).toBe('10.61.1.1');
  });

  it('an allocation that no longer fits (other network, subnet changed) is dropped', () => {
    const moved = compile(LAB.replace('b2: { interfaces: [blue] }', 'b2: { interfaces: [red] }'), base);
    expect(addr(moved, 'b2')).toBe('10.61.2.1');
    const resized = compile(
      LAB.replace('10.61.1.0/24', '10.61.3.0/24').replace('ip: 10.61.1.10', 'ip: 10.61.3.10'),
      base,
    );
    expect([addr(resized, 'b2'), addr(resized, 'b3')]).toEqual(['10.61.3.1', '10.61.3.2']);
  });
});

describe('one node on two networks with the same subnet', () => {
  it('never gets the same address twice; the skipped address stays free for the next node', () => {
    const p = compilePlan(
      parseLab(`
name: twin
networks:
  vpc-a: { subnet: 10.0.1.0/24 }
  vpc-b: { subnet: 10.0.1.0/24 }
routers:
  ra: { links: [vpc-a] }
  rb: { links: [vpc-b] }
nodes:
  web: { interfaces: [{ network: vpc-a, ip: 10.0.1.2 }, vpc-b] }
  db: { interfaces: [vpc-b] }
`),
    );
    const ips = (n: string) => p.nodes.find((x) => x.name === n)!.interfaces.map((i) => i.ip);
    expect(ips('web')).toEqual(['10.0.1.2', '10.0.1.3']);
    expect(ips('db')).toEqual(['10.0.1.2']);
  });
});
