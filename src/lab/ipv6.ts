/**
 * IPv6 arithmetic on 128-bit bigints. Parsing is delegated to ipaddr.js; every address labctl keeps, compares or
 * writes (plan, OVN rows, `ip` commands) is in the canonical compressed form of RFC 5952 (normalize6), so the
 * same address always reads the same — in diffs, in OVN rows and in what `ip -6 addr` prints.
 */
import ipaddr from 'ipaddr.js';

/** An IPv6 subnet. Plain JSON (the lab is saved with the running state): the base is text, arithmetic is bigint. */
export interface Cidr6 {
  /** network address, RFC 5952 form */
  base: string;
  prefix: number;
}

/** The network address as a number. */
export function base6(c: Cidr6): bigint {
  return ip6ToBig(c.base);
}

const ALL = (1n << 128n) - 1n;

/** A plain IPv6 address: no zone (%eth0), no prefix, not an IPv4 dotted quad. */
export function isIPv6Address(text: string): boolean {
  return !text.includes('%') && !text.includes('/') && ipaddr.IPv6.isValid(text);
}

/** The RFC 5952 form of an IPv6 address (lower case, longest zero run as ::); undefined when it is not one. */
export function normalize6(text: string): string | undefined {
  if (!isIPv6Address(text)) return undefined;
  return ipaddr.IPv6.parse(text).toRFC5952String();
}

export function ip6ToBig(text: string): bigint {
  let n = 0n;
  for (const part of ipaddr.IPv6.parse(text).parts) n = (n << 16n) | BigInt(part);
  return n;
}

export function bigToIp6(n: bigint): string {
  const parts: number[] = [];
  for (let i = 7; i >= 0; i--) parts.push(Number((n >> BigInt(i * 16)) & 0xffffn));
  return new ipaddr.IPv6(parts).toRFC5952String();
}

export function mask6(prefix: number): bigint {
  return prefix === 0 ? 0n : (ALL << BigInt(128 - prefix)) & ALL;
}

export type Cidr6Parse = { ok: true; cidr: Cidr6; hostBitsSet: boolean } | { ok: false; reason: string };

export function parseCidr6(text: string): Cidr6Parse {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(text.trim());
  if (!m) return { ok: false, reason: isIPv6Address(text) ? 'missing prefix length' : 'not an IPv6 CIDR' };
  const [, addr, p] = m;
  if (ipaddr.IPv4.isValidFourPartDecimal(addr!)) return { ok: false, reason: `${addr} is an IPv4 address` };
  if (!isIPv6Address(addr!)) return { ok: false, reason: `${addr} is not an IPv6 address` };
  const prefix = Number(p);
  if (prefix > 128) return { ok: false, reason: `prefix length /${prefix} is above 128` };
  const ip = ip6ToBig(addr!);
  const base = ip & mask6(prefix);
  return { ok: true, cidr: { base: bigToIp6(base), prefix }, hostBitsSet: base !== ip };
}

export function formatCidr6(c: Cidr6): string {
  return `${c.base}/${c.prefix}`;
}

export function size6(c: Cidr6): bigint {
  return 1n << BigInt(128 - c.prefix);
}

export function contains6(c: Cidr6, ip: bigint): boolean {
  return (ip & mask6(c.prefix)) === base6(c);
}

export function overlaps6(a: Cidr6, b: Cidr6): boolean {
  const m = mask6(Math.min(a.prefix, b.prefix));
  return (base6(a) & m) === (base6(b) & m);
}

/** First host address: ::1 of the subnet (the subnet-router anycast address ::0 is never a host's). */
export function firstHost6(c: Cidr6): bigint {
  return base6(c) + 1n;
}

/** A usable host address of the subnet: inside it and not its subnet-router anycast address (the base). */
export function isHostAddress6(c: Cidr6, ip: bigint): boolean {
  return contains6(c, ip) && ip !== base6(c);
}

/** fe80::/10: the kernel's own link-local addresses, which labctl never plans and never reports as drift. */
export function isLinkLocal6(text: string): boolean {
  return isIPv6Address(text) && ipaddr.IPv6.parse(text).range() === 'linkLocal';
}
