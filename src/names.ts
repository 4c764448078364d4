/**
 * Every name that reaches a command goes through here first. Names in a lab file are restricted to a charset
 * that is safe in Docker container names, Linux interface names, OVSDB strings and shell-free argv alike.
 */
import { createHash } from 'node:crypto';

export const NAME_RE = /^[a-z][a-z0-9-]*$/;
/** Lab names are short: they prefix every derived name (containers, OVN rows). */
export const MAX_LAB_NAME = 24;
/** Node, network and router names. */
export const MAX_OBJECT_NAME = 32;
/** Interface names inside a container: Linux allows 15 bytes. */
export const IFNAME_RE = /^[a-z][a-z0-9_-]{0,14}$/;
export const MAX_IFNAME = 15;

export function isSafeName(name: string, max = MAX_OBJECT_NAME): boolean {
  return name.length <= max && NAME_RE.test(name) && !name.endsWith('-') && !name.includes('--');
}

/** Throw if a runtime value that is about to become a command argument is not what we generated. */
export function assertArg(value: string, what: string, re: RegExp = /^[A-Za-z0-9_.:/=,-]+$/): string {
  if (!re.test(value)) throw new Error(`refusing unsafe ${what} ${JSON.stringify(value)}`);
  return value;
}

/** A short stable digest (hex) of the given parts; used for host-side names and MACs. */
export function digest(parts: string[], hexChars: number): string {
  return createHash('sha256').update(parts.join('\0')).digest('hex').slice(0, hexChars);
}
