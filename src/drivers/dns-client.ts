/**
 * A DNS query from inside a node (docs/dhcp-dns.md): busybox nslookup run through nsenter into every namespace
 * of the container (its resolver, its image's busybox), A records only (OVN leaves an AAAA query for a name
 * without IPv6 addresses unanswered, which would stall nslookup), bounded in time.
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
    if (inAnswer && m && !/#|:\d+$/.test(m[1]!)) addresses.push(m[1]!);
  }
  const problem = /can't find [^\n]*|timed out|connection refused|no servers could be reached/i.exec(output);
  return {
    addresses,
    seen: addresses.length
      ? addresses.join(' ')
      : (problem?.[0] ?? (output.trim().split('\n').pop() || 'no output')),
  };
}

/** A (IPv4) query for `name` from inside the node running as `pid`, to `server` (or its resolv.conf's). */
export async function lookupA(pid: number, name: string, server?: string): Promise<DnsAnswer> {
  if (!/^[a-z0-9.-]+$/i.test(name)) throw new Error(`not a DNS name: ${name}`);
  const args = ['-t', String(pid), '-a', '--', 'busybox', 'nslookup', '-type=a', name];
  if (server) args.push(server);
  const r = await run('nsenter', args, { timeoutMs: TIMEOUT_MS, reject: false });
  if (r.timedOut) return { addresses: [], seen: `no answer within ${TIMEOUT_MS / 1000} s` };
  return parseNslookup(`${r.stdout}\n${r.stderr}`);
}
