/** MAC address helpers. Generated MACs are locally administered unicast (first octet x2/x6/xA/xE). */
export const MAC_RE = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

export function normalizeMac(text: string): string | undefined {
  const t = text.trim().toLowerCase().replace(/-/g, ':');
  return MAC_RE.test(t) ? t : undefined;
}

export function isMulticastMac(mac: string): boolean {
  return (Number.parseInt(mac.slice(0, 2), 16) & 1) === 1;
}

/** 0a:xx:xx:xx:xx:xx from 10 hex digits of a digest: locally administered (bit 1), unicast (bit 0 clear). */
export function macFromDigest(hex10: string): string {
  const pairs = hex10.match(/../g)!;
  return ['0a', ...pairs].join(':');
}
