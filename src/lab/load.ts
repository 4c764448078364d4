/**
 * Load a lab file: YAML with source positions → schema → semantic checks. Every problem is reported at once as a
 * Diagnostic with file:line:col, the path (nodes.web.interfaces[0].ip), what is wrong and a hint. Nothing here
 * touches the host.
 *
 * Two parsers, one answer. A lab file that is valid is read by js-yaml (YAML 1.2, core schema — the same scalar
 * resolution as `yaml`'s default), which is ~5× faster than `yaml` building a Document with source positions (a
 * 2000-node lab: ~0.12 s against ~0.6 s of CPU when cold). Positions are only needed to report problems, so when
 * js-yaml refuses the text, or the schema or the semantic checks find anything, the text is read again with
 * `yaml` and every diagnostic comes from that pass. The fast pass is also skipped for what the two could read
 * differently: %YAML/%TAG directives (yaml switches schema) and aliases (js-yaml rejects them here: yaml limits
 * alias expansion).
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  boolCoreTag,
  defineScalarTag,
  load as loadFast,
  type MappingTagDefinition,
  mapTag,
  NOT_RESOLVED,
  nullCoreTag,
  type ScalarTagDefinition,
  Schema,
  seqTag,
  strTag,
} from 'js-yaml';
import {
  type Document,
  isMap,
  isPair,
  isScalar,
  isSeq,
  LineCounter,
  type Node,
  parseDocument,
  visit,
} from 'yaml';
import type { z } from 'zod';
import { LabctlError } from '../errors.js';
import { type Diagnostic, LabValidationError } from './errors.js';
import { knownKeysAt } from './known-keys.js';
import { labSchema } from './schema.js';
import type { Lab } from './types.js';
import { type PathSeg, suggest, validateLab } from './validate.js';

// The error type and diagnostics live in errors.ts (light to import); importers of load.ts keep finding them here.
export { type Diagnostic, formatDiagnostic, LabValidationError } from './errors.js';

export function formatPath(path: PathSeg[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out ? `.${seg}` : seg;
  }
  return out || '(top)';
}

/** Read and validate a lab file; throws LabValidationError with every problem, or an environment error. */
export function loadLabFile(file: string): Lab {
  const path = resolve(file);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new LabctlError('usage', `cannot read lab file ${file}${code ? ` (${code})` : ''}`, {
      hint:
        code === 'ENOENT'
          ? 'pass the lab file with -f FILE, or run labctl in the directory that holds lab.yml'
          : undefined,
    });
  }
  const lab = parseLab(text, file);
  lab.file = path;
  return lab;
}

/** Validate lab text; `file` is only used in diagnostics. */
export function parseLab(text: string, file = 'lab.yml'): Lab {
  const result = checkLab(text, file);
  if (!result.lab) throw new LabValidationError(result.diagnostics);
  return result.lab;
}

export function checkLab(text: string, file = 'lab.yml'): { lab?: Lab; diagnostics: Diagnostic[] } {
  const lab = fastLab(text);
  if (lab) return { lab, diagnostics: [] };
  return checkLabWithPositions(text, file);
}

/**
 * js-yaml's core schema with the numbers resolved exactly as `yaml`'s core schema does: the same patterns, tried
 * in the same order (int before float), and a number even when it overflows (1e400 is Infinity, which the schema
 * then refuses, where js-yaml would keep the text as a string). Explicit tags on numbers, booleans and nulls
 * (!!int 12) are left to `yaml`: NOT_RESOLVED makes js-yaml fail, and the slow pass reads the file.
 */
const YAML_INT = /^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$/;
const YAML_FLOAT = /^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$/;
const YAML_FLOAT_SPECIAL = /^(?:[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN)$/;
const implicitOnly = <T>(tag: ScalarTagDefinition<T>): ScalarTagDefinition<T> => ({
  ...tag,
  resolve: (source, isExplicit, name) => (isExplicit ? NOT_RESOLVED : tag.resolve(source, false, name)),
});
/** Mappings as js-yaml builds them, except with a null key (`: x`, `~: x`): yaml makes it "", js-yaml "null". */
const mapTagNoNullKeys: MappingTagDefinition<Record<string, unknown>> = {
  ...mapTag,
  addPair: (map, key, value) =>
    key === null ? 'a null key is left to yaml' : mapTag.addPair(map, key, value),
};
const LAB_YAML_SCHEMA = new Schema([
  strTag,
  seqTag,
  mapTagNoNullKeys,
  implicitOnly(nullCoreTag),
  implicitOnly(boolCoreTag),
  defineScalarTag('tag:yaml.org,2002:int', {
    implicit: true,
    implicitFirstChars: ['-', '+', ...'0123456789'],
    resolve: (s, isExplicit) =>
      isExplicit || !YAML_INT.test(s)
        ? NOT_RESOLVED
        : s[1] === 'o'
          ? Number.parseInt(s.slice(2), 8)
          : s[1] === 'x'
            ? Number.parseInt(s.slice(2), 16)
            : Number.parseInt(s, 10),
    identify: (v) => Number.isInteger(v),
  }),
  defineScalarTag('tag:yaml.org,2002:float', {
    implicit: true,
    implicitFirstChars: ['-', '+', '.', ...'0123456789'],
    resolve: (s, isExplicit) =>
      isExplicit
        ? NOT_RESOLVED
        : YAML_FLOAT.test(s)
          ? Number.parseFloat(s)
          : YAML_FLOAT_SPECIAL.test(s)
            ? s.endsWith('an') || s.endsWith('AN')
              ? Number.NaN
              : s[0] === '-'
                ? Number.NEGATIVE_INFINITY
                : Number.POSITIVE_INFINITY
            : NOT_RESOLVED,
    identify: (v) => typeof v === 'number',
  }),
]);

/**
 * The lab, when the text is a valid lab file that js-yaml reads as `yaml` would; otherwise undefined (then
 * checkLabWithPositions decides). Exported for tests.
 */
export function fastLab(text: string): Lab | undefined {
  if (/^%/m.test(text)) return undefined;
  let data: unknown;
  try {
    // Duplicate keys are errors (json: false, the default); no aliases.
    data = loadFast(text, { schema: LAB_YAML_SCHEMA, maxAliases: 0 });
  } catch {
    return undefined;
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data)) return undefined;
  const parsed = labSchema.safeParse(data);
  if (!parsed.success) return undefined;
  const { lab, issues } = validateLab(parsed.data);
  return issues.length ? undefined : lab;
}

/** The full check with `yaml` and source positions: the one that reports problems. Exported for tests. */
export function checkLabWithPositions(
  text: string,
  file = 'lab.yml',
): { lab?: Lab; diagnostics: Diagnostic[] } {
  const lineCounter = new LineCounter();
  // Duplicate keys are found below with a Set per mapping: yaml's own uniqueKeys check compares every key with
  // every earlier one, which is quadratic in a 2000-node `nodes:` mapping.
  const doc = parseDocument(text, { lineCounter, uniqueKeys: false, prettyErrors: false, strict: true });
  const at = (offset: number) => lineCounter.linePos(offset);
  const diag = (offset: number, path: string, message: string, hint?: string): Diagnostic => {
    const { line, col } = at(offset);
    return { file, line, col, path, message, ...(hint ? { hint } : {}) };
  };

  const duplicates: Diagnostic[] = [];
  if (!doc.errors.length)
    visit(doc, {
      Map(_, map) {
        const seen = new Set<string>();
        for (const pair of map.items) {
          if (!isScalar(pair.key) || !pair.key.range) continue;
          const k = String(pair.key.value);
          if (seen.has(k)) {
            const raw = text.slice(pair.key.range[0], pair.key.range[1]).trim();
            const shown = raw.startsWith('"') || raw.startsWith("'") ? raw : `"${raw}"`;
            duplicates.push(
              diag(
                pair.key.range[0],
                '(yaml)',
                `duplicate key ${shown}`,
                'remove or rename one of the two keys',
              ),
            );
          }
          seen.add(k);
        }
      },
    });
  if (duplicates.length) return { diagnostics: sortDiagnostics(duplicates) };
  if (doc.errors.length) {
    return {
      diagnostics: doc.errors.map((e) => {
        const dup = e.code === 'DUPLICATE_KEY';
        // Indentation errors point at the start of the line; show where its content starts.
        let pos = e.pos[0];
        while (text[pos] === ' ') pos++;
        const msg = e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
        // The error points at the repeated key; name it.
        const key = dup ? /^(?:"[^"\n]*"|'[^'\n]*'|[^\s:,{}[\]]+)/.exec(text.slice(pos))?.[0] : undefined;
        return diag(
          pos,
          '(yaml)',
          dup
            ? `duplicate key${key ? ` ${key.startsWith('"') || key.startsWith("'") ? key : `"${key}"`}` : ''}`
            : `YAML syntax: ${msg}`,
          dup ? 'remove or rename one of the two keys' : 'fix the YAML syntax at this position',
        );
      }),
    };
  }
  if (
    doc.contents === null ||
    (isScalar(doc.contents) && (doc.contents.value === null || doc.contents.value === ''))
  ) {
    return {
      diagnostics: [
        diag(
          0,
          '(top)',
          'the lab file is empty',
          'start with name:, networks: and nodes: (see lab.yml in the labctl repository)',
        ),
      ],
    };
  }
  if (!isMap(doc.contents)) {
    return {
      diagnostics: [
        diag(
          doc.contents.range?.[0] ?? 0,
          '(top)',
          'the lab file must be a mapping (name:, networks:, nodes:, …)',
          'start with name: my-lab',
        ),
      ],
    };
  }

  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 1000 });
  } catch (err) {
    // An alias without an anchor before it (or an alias bomb): a diagnostic at that alias, not a crash.
    const message = (err as Error).message;
    let offset = 0;
    visit(doc, {
      Alias(_, a) {
        if (a.range && (offset === 0 || message.includes(`: ${a.source}`))) offset = a.range[0];
        if (message.includes(`: ${a.source}`)) return visit.BREAK;
      },
    });
    return {
      diagnostics: [
        diag(
          offset,
          '(yaml)',
          `YAML: ${message}`,
          'define the anchor (&name) before the alias (*name) that uses it',
        ),
      ],
    };
  }
  let parsed = labSchema.safeParse(data);
  const diagnostics: Diagnostic[] = [];
  if (!parsed.success) {
    diagnostics.push(
      ...parsed.error.issues.flatMap((issue) => zodIssueToDiagnostics(issue, doc, data, diag)),
    );
    // Unknown keys alone should not hide the semantic problems: drop them and check the rest too.
    if (parsed.error.issues.every((i) => i.code === 'unrecognized_keys')) {
      const pruned = structuredClone(data);
      for (const i of parsed.error.issues) {
        const parent = getAt(
          pruned,
          i.path.filter((p): p is string | number => typeof p !== 'symbol'),
        );
        for (const k of (i as { keys: string[] }).keys) delete (parent as Record<string, unknown>)[k];
      }
      parsed = labSchema.safeParse(pruned);
    }
  }
  if (parsed.success) {
    const { lab, issues } = validateLab(parsed.data);
    diagnostics.push(
      ...issues.map((i) =>
        diag(locate(doc, i.path, i.atKey ?? false), formatPath(i.path), i.message, i.hint),
      ),
    );
    if (!diagnostics.length) return { lab, diagnostics };
  }
  return { diagnostics: sortDiagnostics(diagnostics) };
}

function sortDiagnostics(d: Diagnostic[]): Diagnostic[] {
  return d.sort((a, b) => a.line - b.line || a.col - b.col);
}

type DiagFn = (offset: number, path: string, message: string, hint?: string) => Diagnostic;

function zodIssueToDiagnostics(
  issue: z.core.$ZodIssue,
  doc: Document,
  data: unknown,
  diag: DiagFn,
): Diagnostic[] {
  const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
  if (issue.code === 'unrecognized_keys') {
    const known = knownKeysAt(path);
    return issue.keys.map((key) => {
      const s = suggest(key, known);
      return diag(
        locate(doc, [...path, key], true),
        formatPath([...path, key]),
        `unknown key "${key}"`,
        s ? `did you mean ${s}?` : known.length ? `allowed here: ${known.join(', ')}` : 'remove it',
      );
    });
  }
  const value = getAt(data, path);
  const missing = value === undefined;
  const where = formatPath(path);
  let message: string;
  let hint: string | undefined;
  switch (issue.code) {
    case 'invalid_type':
      if (missing) {
        message = `missing required key "${path[path.length - 1]}"`;
        hint = `add ${path[path.length - 1]}: …`;
      } else {
        message = `expected ${TYPE_NAMES[issue.expected] ?? issue.expected}, got ${describe(value)}`;
      }
      break;
    case 'invalid_value':
      message = `${JSON.stringify(value)} is not one of ${issue.values.map((v) => String(v)).join(', ')}`;
      {
        const s = typeof value === 'string' ? suggest(value, issue.values.map(String)) : undefined;
        hint = s ? `did you mean ${s}?` : undefined;
      }
      break;
    case 'too_small':
    case 'too_big':
      message = `${describe(value)} is too ${issue.code === 'too_small' ? 'small' : 'big'} (${issue.code === 'too_small' ? 'minimum' : 'maximum'} ${String(issue.code === 'too_small' ? issue.minimum : issue.maximum)})`;
      break;
    case 'invalid_union': {
      // A mapping that clearly meant one branch (an interface or link mapping, a policy with one of deny/allow):
      // report that branch's own problems at their own paths instead of a generic "does not match".
      const branch = unionBranch(path, value);
      const sub = branch === undefined ? undefined : issue.errors[branch];
      if (sub?.length) {
        return sub.flatMap((i) =>
          zodIssueToDiagnostics(
            { ...i, path: [...issue.path, ...i.path] } as z.core.$ZodIssue,
            doc,
            data,
            diag,
          ),
        );
      }
      message = unionMessage(path, value);
      break;
    }
    default:
      message = issue.message;
  }
  // A missing key is reported at its parent mapping.
  const offset = missing ? locate(doc, path.slice(0, -1), false) : locate(doc, path, false);
  return [diag(offset, where, message, hint)];
}

/** Index of the union branch a mapping value was written for, if that is unambiguous. */
function unionBranch(path: PathSeg[], value: unknown): number | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const [a, , c] = path;
  // interfaces and router links: [string shorthand, mapping]
  if ((a === 'nodes' && c === 'interfaces') || (a === 'routers' && c === 'links')) return 1;
  if (a === 'policies' && path.length === 2) {
    const has = ['deny', 'allow'].filter((k) => k in value);
    return has.length === 1 ? (has[0] === 'deny' ? 0 : 1) : undefined;
  }
  return undefined;
}

function unionMessage(path: PathSeg[], value: unknown): string {
  const [a, , c] = path;
  if (a === 'nodes' && c === 'interfaces')
    return `interface must be a network name or {network, ip, mac, name, mtu}; got ${describe(value)}`;
  if (a === 'policies') return `policy must be {deny: {...}} or {allow: {...}}; got ${describe(value)}`;
  if (a === 'routers') return `router link must be a network name or {network, ip}; got ${describe(value)}`;
  return `unexpected ${describe(value)}`;
}

/** zod's type names, as the lab file's author knows them */
const TYPE_NAMES: Record<string, string> = {
  object: 'a mapping',
  record: 'a mapping',
  array: 'a list',
  string: 'a string',
  number: 'a number',
  int: 'an integer',
  boolean: 'true or false',
};

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return `"${v}"`;
  return `${typeof v} ${String(v)}`;
}

function getAt(data: unknown, path: PathSeg[]): unknown {
  let cur: unknown = data;
  for (const seg of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string | number, unknown>)[seg];
  }
  return cur;
}

/** Offset of the node at `path` (or of its key with atKey); the deepest existing ancestor when it is missing. */
export function locate(doc: Document, path: PathSeg[], atKey: boolean): number {
  let node: unknown = doc.contents;
  let offset = (doc.contents as Node | null)?.range?.[0] ?? 0;
  for (let i = 0; i < path.length; i++) {
    const seg = path[i]!;
    const last = i === path.length - 1;
    if (isMap(node)) {
      const pair = node.items.find(
        (p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(seg),
      );
      if (!pair) return offset;
      const keyNode = pair.key as Node;
      if (last && atKey) return keyNode.range?.[0] ?? offset;
      const valueNode = pair.value as Node | null;
      // No value, or an empty one (`key:` with nothing after it): point at the key.
      if (!valueNode || (valueNode.range && valueNode.range[0] === valueNode.range[1]))
        return keyNode.range?.[0] ?? offset;
      offset = valueNode.range?.[0] ?? keyNode.range?.[0] ?? offset;
      node = valueNode;
    } else if (isSeq(node) && typeof seg === 'number') {
      const item = node.items[seg] as Node | undefined;
      if (!item) return offset;
      offset = item.range?.[0] ?? offset;
      node = item;
    } else {
      return offset;
    }
  }
  return offset;
}
