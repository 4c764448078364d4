/**
 * IPv6 address matching for the doctor's reasoning over the plan (targets, policy verdicts): parse to 128-bit
 * bigints with ipaddr.js, so two spellings of one address compare equal ("fd00:a::10" = "fd00:a:0:0::10").
 * Pure; the lab file's own IPv6 validation is not here.
 */
import ipaddr from 'ipaddr.js';

export interface Cidr6 {
  base: bigint;
  prefix: number;
}

/** Is `text` an IPv6 address (any spelling ipaddr.js accepts, no zone)? */
export const isV6 = (text: string | undefined): text is string =>
  !!text && text.includes(':') && ipaddr.IPv6.isValid(text);

/** The address as a 128-bit number (undefined: not IPv6). */
export function ip6ToBig(text: string): bigint | undefined {
  if (!isV6(text)) return undefined;
  let n = 0n;
  for (const part of ipaddr.IPv6.parse(text).parts) n = (n << 16n) | BigInt(part);
  return n;
}

const mask6 = (prefix: number): bigint =>
  prefix <= 0 ? 0n : ((1n << 128n) - 1n) ^ ((1n << BigInt(128 - Math.min(128, prefix))) - 1n);

/** "fd00:a::/64" or "fd00:a::10/64" (host bits ignored) or a bare address (/128). */
export function parseCidr6(text: string): Cidr6 | undefined {
  const [addr = '', p] = text.trim().split('/');
  const prefix = p === undefined ? 128 : Number(p);
  const n = ip6ToBig(addr);
  if (n === undefined || !Number.isInteger(prefix) || prefix < 0 || prefix > 128) return undefined;
  return { base: n & mask6(prefix), prefix };
}

export function contains6(c: Cidr6, ip: bigint): boolean {
  return (ip & mask6(c.prefix)) === c.base;
}

/** Are two texts the same IPv6 address? */
export function sameIp6(a: string | undefined, b: string | undefined): boolean {
  if (!a || !b) return false;
  if (a === b) return true;
  const x = ip6ToBig(a);
  return x !== undefined && x === ip6ToBig(b);
}
