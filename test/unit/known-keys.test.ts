/**
 * The keys load.ts offers in "did you mean" hints come from the zod schema (src/lab/known-keys.ts), not from a
 * hand-kept table: every mapping of the lab file gets its keys, and a key added to the schema is known at once.
 */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { knownKeysAt } from '../../src/lab/known-keys.js';
import { checkLab } from '../../src/lab/load.js';

describe('knownKeysAt: the keys of each mapping, read from the schema', () => {
  it('gives the keys of the top level and of each section entry', () => {
    expect(knownKeysAt([])).toEqual(
      expect.arrayContaining(['name', 'defaults', 'networks', 'nodes', 'policies', 'expect', 'ovn']),
    );
    expect(knownKeysAt(['nodes', 'web'])).toEqual(
      expect.arrayContaining(['image', 'build', 'cmd', 'env', 'interfaces', 'listen']),
    );
    expect(knownKeysAt(['networks', 'vpc-a']).sort()).toEqual([
      'dhcp',
      'gateway',
      'mtu',
      'ra',
      'subnet',
      'subnet6',
    ]);
    expect(knownKeysAt(['routers', 'edge', 'nat', 0]).sort()).toEqual(['external', 'internal', 'type']);
    expect(knownKeysAt(['ovn'])).toContain('datapath');
  });

  it('looks through unions: the interface mapping beside its string shorthand, deny or allow in a policy', () => {
    expect(knownKeysAt(['nodes', 'web', 'interfaces', 1]).sort()).toEqual([
      'impair',
      'ip',
      'ip6',
      'mac',
      'mtu',
      'name',
      'network',
    ]);
    expect(knownKeysAt(['nodes', 'web', 'interfaces', 1, 'impair']).sort()).toEqual([
      'delay',
      'direction',
      'jitter',
      'loss',
      'rate',
    ]);
    expect(knownKeysAt(['policies', 0]).sort()).toEqual(['allow', 'deny']);
    expect(knownKeysAt(['policies', 0, 'deny']).sort()).toEqual(['from', 'port', 'proto', 'to']);
  });

  it('covers mappings a hand-kept table had missed: routes, encap, build', () => {
    expect(knownKeysAt(['routers', 'edge', 'routes', 0]).sort()).toEqual(['prefix', 'via']);
    expect(knownKeysAt(['ovn', 'encap']).sort()).toEqual(['ip', 'type']);
    expect(knownKeysAt(['nodes', 'web', 'build']).sort()).toEqual(['context', 'dockerfile']);
  });

  it('is empty where no mapping is expected or the path leaves the schema', () => {
    expect(knownKeysAt(['name'])).toEqual([]);
    expect(knownKeysAt(['groups', 'zone'])).toEqual([]);
    expect(knownKeysAt(['nodes', 'web', 'no-such-key'])).toEqual([]);
  });

  it('follows a key added to a schema, with nothing else to update', () => {
    const schema = z.strictObject({
      nodes: z
        .record(z.string(), z.strictObject({ image: z.string(), cpus: z.int().optional() }))
        .default({}),
    });
    expect(knownKeysAt(['nodes', 'web'], schema)).toEqual(['image', 'cpus']);
  });
});

describe('unknown keys still get their hint', () => {
  const lab = (extra: string[]) =>
    [
      'name: keys',
      'networks:',
      '  lan: { subnet: 10.0.1.0/24 }',
      'routers:',
      '  edge:',
      '    links: [lan]',
      ...extra,
      'nodes:',
      '  web:',
      '    imgae: labctl/node',
      '    interfaces: [lan]',
      '',
    ].join('\n');

  it('did you mean the closest key, at the key itself', () => {
    const { diagnostics } = checkLab(lab([]), 'keys.yml');
    expect(diagnostics).toEqual([
      {
        file: 'keys.yml',
        line: 9,
        col: 5,
        path: 'nodes.web.imgae',
        message: 'unknown key "imgae"',
        hint: 'did you mean image?',
      },
    ]);
  });

  it('in a mapping the old table did not know (a static route): a suggestion, or the keys allowed there', () => {
    const { diagnostics } = checkLab(
      lab([
        '    routes: [{ prefix: 10.9.0.0/16, vai: 10.0.1.254 }, { prefix: 10.8.0.0/16, via: 10.0.1.254, metric: 5 }]',
      ]),
      'keys.yml',
    );
    expect(diagnostics.map((d) => [d.line, d.path, d.message, d.hint])).toEqual([
      [7, 'routers.edge.routes[0].via', 'missing required key "via"', 'add via: …'],
      [7, 'routers.edge.routes[0].vai', 'unknown key "vai"', 'did you mean via?'],
      [7, 'routers.edge.routes[1].metric', 'unknown key "metric"', 'allowed here: prefix, via'],
      [10, 'nodes.web.imgae', 'unknown key "imgae"', 'did you mean image?'],
    ]);
  });
});
