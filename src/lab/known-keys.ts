/**
 * The keys a mapping of the lab file accepts at a given path, read from the zod schema itself, so the "did you
 * mean" hint for an unknown key follows the schema: adding a key to schema.ts is enough.
 */
import { z } from 'zod';
import { labSchema } from './schema.js';
import type { PathSeg } from './validate.js';

/** The keys of every mapping a value at `path` could be; [] where no mapping is expected. */
export function knownKeysAt(path: PathSeg[], root: z.ZodType = labSchema): string[] {
  let candidates = alternatives(root);
  for (const seg of path) candidates = candidates.flatMap((s) => alternatives(child(s, seg)));
  const keys = new Set<string>();
  for (const s of candidates) if (s instanceof z.ZodObject) for (const k of Object.keys(s.shape)) keys.add(k);
  return [...keys];
}

/** What a value may be, looking through optional/default wrappers and fanning out over union branches. */
function alternatives(schema: z.ZodType | undefined): z.ZodType[] {
  let s = schema;
  while (
    s instanceof z.ZodOptional ||
    s instanceof z.ZodNullable ||
    s instanceof z.ZodDefault ||
    s instanceof z.ZodPrefault
  )
    s = s.unwrap() as z.ZodType;
  if (s instanceof z.ZodPipe) return alternatives(s.in as z.ZodType);
  if (s instanceof z.ZodUnion) return (s.options as z.ZodType[]).flatMap(alternatives);
  return s ? [s] : [];
}

/** The schema of the value under `seg`: a mapping's key, any key of a record, an item of a list. */
function child(schema: z.ZodType, seg: PathSeg): z.ZodType | undefined {
  if (schema instanceof z.ZodObject && typeof seg === 'string')
    return Object.hasOwn(schema.shape, seg) ? (schema.shape[seg] as z.ZodType) : undefined;
  if (schema instanceof z.ZodRecord) return schema.valueType as z.ZodType;
  if (schema instanceof z.ZodArray && typeof seg === 'number') return schema.element as z.ZodType;
  return undefined;
}
