/**
 * checkLab reads a valid lab with js-yaml (fast) and everything else with `yaml` and source positions
 * (checkLabWithPositions). The two must agree: the same Lab for every valid file, the same diagnostics for every
 * invalid one, and YAML that either parser could read differently must give what `yaml` gives.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { checkLab, checkLabWithPositions, fastLab } from '../../src/lab/load.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const fixtures = join(root, 'test', 'fixtures');

function ymlFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? ymlFiles(join(dir, e.name)) : e.name.endsWith('.yml') ? [join(dir, e.name)] : [],
  );
}

const validFiles = [
  join(root, 'lab.yml'),
  ...ymlFiles(join(root, 'examples')),
  ...ymlFiles(join(fixtures, 'valid')),
  ...ymlFiles(join(fixtures, 'integration')),
  ...ymlFiles(join(fixtures, 'dataplane')),
];

describe('checkLab: the fast read agrees with the read with positions', () => {
  it.each(validFiles.map((f) => [f.slice(root.length + 1), f]))('valid: %s', (_, file) => {
    const text = readFileSync(file, 'utf8');
    const slow = checkLabWithPositions(text, file);
    expect(slow.diagnostics).toEqual([]);
    const fast = fastLab(text);
    expect(fast, 'the fast read takes every valid lab file').toBeDefined();
    if (fast) fast.file = slow.lab?.file;
    expect(fast).toEqual(slow.lab);
    expect(checkLab(text, file)).toEqual(slow);
  });

  it.each(ymlFiles(join(fixtures, 'invalid')).map((f) => [f.slice(root.length + 1), f]))(
    'invalid: %s',
    (_, file) => {
      const text = readFileSync(file, 'utf8');
      const slow = checkLabWithPositions(text, file);
      expect(slow.diagnostics.length).toBeGreaterThan(0);
      expect(checkLab(text, file)).toEqual(slow);
    },
  );

  const lab = (node: string) => `name: edge-cases
networks:
  net: { subnet: 10.0.0.0/24, mtu: 1500 }
nodes:
${node}
`;

  // Scalars and styles where two YAML 1.2 parsers could differ: each must give what `yaml` gives.
  const cases: Record<string, string> = {
    'core-schema numbers in env': `  a:
    interfaces: [net]
    env: { DEC: 010, HEX: 0x1F, OCT: 0o17, EXP: 1e3, FRAC: .5, NEG: -12, PLUS: +7, BIN: 0b101, SIGNED_HEX: -0x1F, UNDERSCORE: 1_000, FLOAT: 1.50 }`,
    'booleans and YAML 1.1 words': `  a:
    interfaces: [net]
    env: { T: true, F: False, Y: yes, N: no, ON: on, TILDE_STR: "~" }`,
    'quoted scalars': `  a:
    interfaces: [net]
    env: { S: 'it''s', D: "tab\\tand \\u00e9 and \\x41", E: "" }
    cmd: "echo \\"hi\\""`,
    'block scalars': `  a:
    interfaces: [net]
    cmd: |
      line one
        indented
      line three
  b:
    interfaces: [net]
    cmd: >-
      folded
      text

      new paragraph
  c:
    interfaces: [net]
    cmd: |+
      keep trailing

`,
    'multi-line plain and flow scalars': `  a:
    interfaces: [net]
    cmd: sh -c
      "sleep 1;
      echo done"
    env: {
      A: one
        two,
      B: "x
        y" }`,
    'comments and explicit keys': `  a:   # a node
    ? interfaces
    : [net]   # attach
    listen: [ tcp/80 , "udp/53" ]
    cmd: [sh, -c, "echo #not a comment"]`,
    'document markers': `--- # the lab
name: markers
networks: { net: { subnet: 10.0.0.0/24 } }
nodes: { a: { interfaces: [net] } }
...
`,
    'hash without a space is part of a plain scalar': `  a:
    interfaces: [net]
    cmd: echo a#b`,
  };
  it.each(Object.entries(cases))('%s', (_, node) => {
    const text = node.startsWith('---') ? node : lab(node);
    const slow = checkLabWithPositions(text);
    expect(slow.diagnostics).toEqual([]);
    expect(fastLab(text), 'read by the fast path').toBeDefined();
    expect(checkLab(text)).toEqual(slow);
  });

  it('reads numbers as yaml does, also when they overflow', () => {
    // yaml reads 1e400 as Infinity (which the schema refuses); js-yaml's own core schema would keep the text
    const text = lab(`  a:
    interfaces: [net]
    env: { BIG: 1e400 }`);
    const slow = checkLabWithPositions(text);
    expect(slow.diagnostics.length).toBeGreaterThan(0);
    expect(checkLab(text)).toEqual(slow);
  });

  it('leaves a null key to yaml (it reads it as "", js-yaml as "null")', () => {
    const text = `name: null-key
networks:
  net: { subnet: 10.0.0.0/24 }
routers:
  : { links: [net] }
nodes:
  a: { interfaces: [net] }
`;
    expect(fastLab(text)).toBeUndefined();
    const slow = checkLabWithPositions(text);
    expect(slow.diagnostics[0]?.path).toBe('routers.');
    expect(checkLab(text)).toEqual(slow);
  });

  it('leaves aliases, directives and duplicate keys to yaml', () => {
    const aliases = `name: aliased
networks:
  net: { subnet: 10.0.0.0/24 }
nodes:
  a: &n { interfaces: [net] }
  b: *n
`;
    const slow = checkLabWithPositions(aliases);
    expect(slow.lab?.nodes.map((n) => n.name)).toEqual(['a', 'b']);
    expect(fastLab(aliases)).toBeUndefined();
    expect(checkLab(aliases)).toEqual(slow);

    const yaml11 = `%YAML 1.1
---
name: old-yaml
networks:
  net: { subnet: 10.0.0.0/24 }
nodes:
  a: { interfaces: [net], env: { Y: yes } }
`;
    expect(fastLab(yaml11)).toBeUndefined();
    expect(checkLab(yaml11)).toEqual(checkLabWithPositions(yaml11));

    const dup = `name: dup
networks:
  net: { subnet: 10.0.0.0/24 }
nodes:
  a: { interfaces: [net] }
  a: { interfaces: [net] }
`;
    expect(fastLab(dup)).toBeUndefined();
    const d = checkLab(dup);
    expect(d).toEqual(checkLabWithPositions(dup));
    expect(d.diagnostics[0]?.message).toBe('duplicate key "a"');
  });

  it('reports an alias without its anchor at the alias, as a diagnostic (not a crash)', () => {
    const text = `name: x
networks:
  net: &n { subnet: 10.0.0.0/24 }
nodes:
  a: { interfaces: [net] }
  b: *nope
`;
    expect(fastLab(text)).toBeUndefined();
    const d = checkLab(text);
    expect(d.lab).toBeUndefined();
    expect(d.diagnostics).toHaveLength(1);
    expect(d.diagnostics[0]).toMatchObject({ line: 6, col: 6, path: '(yaml)' });
    expect(d.diagnostics[0]?.message).toContain('nope');
  });
});
