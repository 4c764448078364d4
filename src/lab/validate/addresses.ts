/** Address checks shared by networks, routers and nodes. */
import { broadcast, type Cidr, contains, firstHost, intToIp, ipToInt, isIPv4, isIPv6 } from '../ipv4.js';
import { base6, bigToIp6, type Cidr6, contains6, firstHost6, ip6ToBig, normalize6 } from '../ipv6.js';
import type { AddIssue, PathSeg } from './context.js';

/**
 * Who holds each address of each network, so a second holder is reported naming the first. Keyed by the address as
 * a number (IPv4) or in RFC 5952 form (IPv6); `show` writes a key the way the error message names it.
 */
class Holders<K extends number | string> {
  private readonly byNetwork = new Map<string, Map<K, string>>();

  constructor(
    private readonly add: AddIssue,
    private readonly show: (ip: K) => string,
  ) {}

  take(network: string, ip: K, who: string, path: PathSeg[]): void {
    let held = this.byNetwork.get(network);
    if (!held) {
      held = new Map();
      this.byNetwork.set(network, held);
    }
    const holder = held.get(ip);
    if (holder) {
      this.add(
        path,
        `${this.show(ip)} on ${network} is already used by ${holder}`,
        'give each one its own address',
      );
      return;
    }
    held.set(ip, who);
  }

  count(network: string): number {
    return this.byNetwork.get(network)?.size ?? 0;
  }
}

/** IPv4 holders, keyed by the address as a number. */
export class AddressBook extends Holders<number> {
  constructor(add: AddIssue) {
    super(add, (ip) => `address ${intToIp(ip)}`);
  }
}

/** The address as a number when `text` is a usable host address of `subnet`; otherwise reports why and undefined. */
export function checkHostIp(
  text: string,
  subnet: Cidr,
  cidrText: string,
  path: PathSeg[],
  add: AddIssue,
): number | undefined {
  if (isIPv6(text)) {
    add(
      path,
      `${text} is an IPv6 address on the IPv4 subnet ${cidrText}`,
      `use an IPv4 address in ${cidrText}`,
    );
    return undefined;
  }
  if (!isIPv4(text)) {
    add(path, `"${text}" is not an IPv4 address`, `e.g. ${intToIp(firstHost(subnet) + 9)}`);
    return undefined;
  }
  const ip = ipToInt(text);
  if (!contains(subnet, ip)) {
    add(path, `${text} is outside the subnet ${cidrText}`, `use an address in ${cidrText}`);
    return undefined;
  }
  if (ip === subnet.base) {
    add(
      path,
      `${text} is the network address of ${cidrText}`,
      `use a host address, e.g. ${intToIp(firstHost(subnet) + 9)}`,
    );
    return undefined;
  }
  if (ip === broadcast(subnet)) {
    add(
      path,
      `${text} is the broadcast address of ${cidrText}`,
      `use a host address, e.g. ${intToIp(firstHost(subnet) + 9)}`,
    );
    return undefined;
  }
  return ip;
}

/** The IPv6 twin of AddressBook, keyed by the RFC 5952 form. */
export class AddressBook6 extends Holders<string> {
  constructor(add: AddIssue) {
    super(add, (ip) => `IPv6 address ${ip}`);
  }
}

/**
 * The IPv6 twin of checkHostIp: the address in RFC 5952 form when `text` is a usable host address of `subnet`;
 * otherwise reports why and undefined.
 */
export function checkHostIp6(
  text: string,
  subnet: Cidr6,
  cidrText: string,
  path: PathSeg[],
  add: AddIssue,
): string | undefined {
  const example = bigToIp6(firstHost6(subnet) + 9n);
  if (isIPv4(text)) {
    add(path, `${text} is an IPv4 address, not an IPv6 one`, `ip6 takes an IPv6 address in ${cidrText}`);
    return undefined;
  }
  const norm = normalize6(text);
  if (norm === undefined) {
    add(path, `"${text}" is not an IPv6 address`, `e.g. "${example}"`);
    return undefined;
  }
  const ip = ip6ToBig(norm);
  if (!contains6(subnet, ip)) {
    add(path, `${norm} is outside the subnet6 ${cidrText}`, `use an address in ${cidrText}`);
    return undefined;
  }
  if (ip === base6(subnet)) {
    add(
      path,
      `${norm} is the subnet-router anycast address of ${cidrText}`,
      `use a host address, e.g. "${example}"`,
    );
    return undefined;
  }
  return norm;
}
