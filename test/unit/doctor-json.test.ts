/** The doctor's JSON report is written a result at a time, byte for byte what JSON.stringify(doc, null, 2) gives. */
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { writeJson } from '../../checks/report.js';

async function written(doc: object, slice?: number): Promise<string> {
  const out = new PassThrough({ highWaterMark: 16 });
  const parts: Buffer[] = [];
  out.on('data', (b: Buffer) => parts.push(b));
  await writeJson(doc, out, slice);
  out.end();
  await new Promise((r) => out.once('end', r));
  return Buffer.concat(parts).toString('utf8');
}

describe('writeJson', () => {
  const result = (i: number) => ({
    id: 'dataplane.tcp',
    layer: 'dataplane',
    subject: `n${i}→n${i + 1} tcp`,
    status: i % 7 ? 'pass' : 'fail',
    ...(i % 7 ? {} : { cause: 'acl-drop', fix: 'ovn-nbctl acl-del "sw" \n "x"' }),
    evidence: `the doctor's token came back in ${i}.5 ms — "quoted" \\ and\nnewline`,
    data: { nodes: [`n${i}`], ms: i / 3, big: { outcome: 'pass' }, empty: [], none: {}, u: undefined },
  });

  it('equals JSON.stringify(doc, null, 2) + newline, a result at a time and in slices', async () => {
    const doc = {
      lab: 'two-vpcs',
      ok: false,
      checks: Array.from({ length: 300 }, (_, i) => result(i)),
      summary: { total: 300, passed: 257, failed: 43, warned: 0, following: 0, skipped: 0 },
      durationMs: 512,
      fixes: [{ id: 'x', subject: 'y', changed: undefined, error: 'no safe automatic fix' }],
      before: undefined,
    };
    const want = `${JSON.stringify(doc, null, 2)}\n`;
    expect(await written(doc)).toBe(want);
    expect(await written(doc, 1)).toBe(want);
    expect(await written(doc, 7)).toBe(want);
  });

  it('handles empty arrays and objects the same way', async () => {
    for (const doc of [
      {},
      { checks: [] },
      { a: [], b: {}, c: [1, [2, []]], d: null },
      { checks: [undefined, () => 1, Number.NaN, { toJSON: () => 'x' }] },
      { a: { toJSON: () => [1, 2] }, f: () => 1 },
    ])
      for (const slice of [1, 2, 64])
        expect(await written(doc, slice)).toBe(`${JSON.stringify(doc, null, 2)}\n`);
  });
});
