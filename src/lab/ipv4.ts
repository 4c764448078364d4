/** IPv4 arithmetic on 32-bit unsigned integers. Parsing is delegated to ipaddr.js (strict dotted quads). */
import ipaddr from 'ipaddr.js';

export interface Cidr {
  /** network address as uint32 */
  base: number;
  prefix: number;
}

export function isIPv4(text: string): boolean {
  return ipaddr.IPv4.isValidFourPartDecimal(text);
}

export function isIPv6(text: string): boolean {
  return ipaddr.IPv6.isValid(text);
}

export function ipToInt(text: string): number {
  const bytes = ipaddr.IPv4.parse(text).octets;
  return ((bytes[0]! << 24) | (bytes[1]! << 16) | (bytes[2]! << 8) | bytes[3]!) >>> 0;
}

export function intToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

export function maskOf(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

export type CidrParse = { ok: true; cidr: Cidr; hostBitsSet: boolean } | { ok: false; reason: string };

export function parseCidr(text: string): CidrParse {
  const m = /^([^/]+)\/(\d{1,2})$/.exec(text.trim());
  if (!m) return { ok: false, reason: isIPv4(text) ? 'missing prefix length' : 'not an IPv4 CIDR' };
  const [, addr, p] = m;
  if (isIPv6(addr!)) return { ok: false, reason: `${addr} is an IPv6 address (IPv6 goes in subnet6 / ip6)` };
  if (!isIPv4(addr!)) return { ok: false, reason: `${addr} is not an IPv4 address` };
  const prefix = Number(p);
  if (prefix > 32) return { ok: false, reason: `prefix length /${prefix} is above 32` };
  const ip = ipToInt(addr!);
  const base = (ip & maskOf(prefix)) >>> 0;
  return { ok: true, cidr: { base, prefix }, hostBitsSet: base !== ip };
}

export function formatCidr(c: Cidr): string {
  return `${intToIp(c.base)}/${c.prefix}`;
}

export function size(c: Cidr): number {
  return 2 ** (32 - c.prefix);
}

export function broadcast(c: Cidr): number {
  return (c.base + size(c) - 1) >>> 0;
}

export function contains(c: Cidr, ip: number): boolean {
  return (ip & maskOf(c.prefix)) >>> 0 === c.base;
}

export function overlaps(a: Cidr, b: Cidr): boolean {
  const p = Math.min(a.prefix, b.prefix);
  return (a.base & maskOf(p)) >>> 0 === (b.base & maskOf(p)) >>> 0;
}

/** First usable host address (.1 in a /24). */
export function firstHost(c: Cidr): number {
  return c.prefix >= 31 ? c.base : c.base + 1;
}

export function isHostAddress(c: Cidr, ip: number): boolean {
  if (!contains(c, ip)) return false;
  if (c.prefix >= 31) return true;
  return ip !== c.base && ip !== broadcast(c);
}
