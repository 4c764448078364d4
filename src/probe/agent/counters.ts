import { readFileSync } from 'node:fs';
import type { Ctx } from './node.js';

/**
 * SNMP counters of a netns, named like nstat names them: "TcpInCsumErrors", "UdpInCsumErrors", "TcpExtListenDrops",
 * and from snmp6 (one "Name value" a line, already prefixed) "Udp6InCsumErrors", "Icmp6InEchoReplies". TCP has one
 * MIB for both families: TcpInCsumErrors counts IPv6 segments too.
 */
export function readCounters(ctx: Ctx): Record<string, number> {
  const out: Record<string, number> = {};
  const dir = ctx.local ? '/proc/net' : `/proc/${ctx.pid}/net`;
  try {
    for (const line of readFileSync(`${dir}/snmp6`, 'utf8').split('\n')) {
      const m = /^(\w+)\s+(\d+)$/.exec(line.trim());
      if (m) out[m[1]!] = Number(m[2]);
    }
  } catch {
    // no IPv6 in this kernel
  }
  for (const file of [`${dir}/snmp`, `${dir}/netstat`]) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    const lines = text.split('\n');
    for (let i = 0; i + 1 < lines.length; i += 2) {
      const head = lines[i]!.split(/\s+/);
      const vals = lines[i + 1]!.split(/\s+/);
      if (vals[0] !== head[0]) break;
      const group = head[0]!.replace(/:$/, '');
      for (let k = 1; k < head.length && k < vals.length; k++) {
        const v = Number(vals[k]);
        if (head[k] && Number.isFinite(v)) out[`${group}${head[k]}`] = v;
      }
    }
  }
  return out;
}
