/**
 * A DNS query from inside a node (docs/dhcp-dns.md): busybox nslookup run through nsenter into every namespace
 * of the container (its resolver, its image's busybox), one record type per query (OVN leaves a query for a type the
 * name has no address of unanswered, which would stall nslookup's A+AAAA default), bounded in time.
 */
import { run } from '../exec.js';

const TIMEOUT_MS = 5_000;

export interface DnsAnswer {
  /** the addresses answered, in order; [] when the name was not found or nothing answered */
  addresses: string[];
  /** what the client saw, for evidence: the answer, "not found", or the timeout */
  seen: string;
}

/** Parse busybox nslookup: the addresses after the "Name:" line (the first "Address:" is the server's). */
export function parseNslookup(output: string): DnsAnswer {
  const addresses: string[] = [];
  let inAnswer = false;
  for (const line of output.split('\n')) {
    if (/^Name:\s/.test(line)) inAnswer = true;
    const m = /^Address(?: \d+)?:\s*(\S+)/.exec(line);
    if (inAnswer && m && !m[1]!.includes('#')) addresses.push(m[1]!);
  }
  const problem = /can't find [^\n]*|timed out|connection refused|no servers could be reached/i.exec(output);
  return {
    addresses,
    seen: addresses.length
      ? addresses.join(' ')
      : (problem?.[0] ?? (output.trim().split('\n').pop() || 'no output')),
  };
}

/** An A (IPv4) or AAAA (IPv6) query for `name` from inside the node running as `pid`, to `server` (or its resolv.conf's). */
export async function lookup(
  pid: number,
  name: string,
  type: 'a' | 'aaaa',
  server?: string,
): Promise<DnsAnswer> {
  if (!/^[a-z0-9.-]+$/i.test(name)) throw new Error(`not a DNS name: ${name}`);
  const args = ['-t', String(pid), '-a', '--', 'busybox', 'nslookup', `-type=${type}`, name];
  if (server) args.push(server);
  const r = await run('nsenter', args, { timeoutMs: TIMEOUT_MS, reject: false });
  if (r.timedOut) return { addresses: [], seen: `no answer within ${TIMEOUT_MS / 1000} s` };
  return parseNslookup(`${r.stdout}\n${r.stderr}`);
}
