/**
 * Parse the `--format=json --data=json` output of ovs-vsctl / ovn-nbctl / ovn-sbctl `find` and `list` into plain
 * rows. OVSDB encodes sets as ["set", [...]], maps as ["map", [[k, v], ...]] and row references as ["uuid", "..."].
 * Several commands in one invocation print one JSON document per line.
 */

export type OvsdbValue = string | number | boolean | OvsdbValue[] | Record<string, string>;
export type Row = Record<string, OvsdbValue>;

function decode(v: unknown): OvsdbValue {
  if (!Array.isArray(v)) return v as string | number | boolean;
  const [tag, body] = v as [string, unknown];
  if (tag === 'uuid' || tag === 'named-uuid') return body as string;
  if (tag === 'set') return (body as unknown[]).map(decode);
  if (tag === 'map') {
    const out: Record<string, string> = {};
    for (const [k, val] of body as [unknown, unknown][]) out[String(decode(k))] = String(decode(val));
    return out;
  }
  return v.map(decode);
}

export function parseTable(json: string): Row[] {
  const doc = JSON.parse(json) as { headings: string[]; data: unknown[][] };
  return doc.data.map((cells) => {
    const row: Row = {};
    doc.headings.forEach((h, i) => {
      row[h] = decode(cells[i]);
    });
    return row;
  });
}

/** One table per non-empty output line (ovs-vsctl/ovn-nbctl print one JSON document per command). */
export function parseTables(output: string): Row[][] {
  return output
    .split('\n')
    .filter((l) => l.trim().startsWith('{'))
    .map(parseTable);
}

export function str(row: Row, col: string): string {
  const v = row[col];
  if (Array.isArray(v)) return v.length ? String(v[0]) : '';
  return v === undefined ? '' : String(v);
}

export function num(row: Row, col: string): number | undefined {
  const v = row[col];
  if (Array.isArray(v)) return v.length ? Number(v[0]) : undefined;
  return typeof v === 'number' ? v : v === undefined ? undefined : Number(v);
}

export function list(row: Row, col: string): string[] {
  const v = row[col];
  if (Array.isArray(v)) return v.map(String);
  return v === undefined || v === '' ? [] : [String(v)];
}

export function map(row: Row, col: string): Record<string, string> {
  const v = row[col];
  if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, string>;
  return {};
}

export function bool(row: Row, col: string): boolean | undefined {
  const v = row[col];
  if (Array.isArray(v)) return v.length ? Boolean(v[0]) : undefined;
  return typeof v === 'boolean' ? v : undefined;
}

/** Quote a value for the ovs-vsctl/ovn-nbctl `set`/`create` column syntax (argv, not a shell: only OVSDB quoting). */
export function q(value: string): string {
  return JSON.stringify(value);
}

/** external_ids:{k=v,...} style arguments for `create`/`set`. */
export function extIds(ids: Record<string, string>, column = 'external_ids'): string[] {
  return Object.entries(ids).map(([k, v]) => `${column}:${q(k)}=${q(v)}`);
}
