/**
 * Capture packets on a node's interface with tcpdump running in the container's netns (nothing needed in the
 * image). Bounded: by packet count and by duration. Writes a pcap file, or prints a live one-line summary.
 */
import { execa } from 'execa';
import { envError, usageError } from '../errors.js';
import { which } from '../exec.js';
import type { LabRuntime } from './context.js';
import { findInterface, nodePid } from './context.js';

export interface CaptureOptions {
  filter: string[];
  write?: string;
  count: number;
  seconds: number;
}

export async function capture(
  rt: LabRuntime,
  node: string,
  iface: string,
  opts: CaptureOptions,
): Promise<number> {
  findInterface(rt.state, node, iface);
  if (!which('tcpdump'))
    throw envError(
      'tcpdump is not installed on this host',
      'labctl host install   (or apt-get install tcpdump)',
    );
  if (!Number.isInteger(opts.count) || opts.count < 1)
    throw usageError('--count must be a positive whole number', '--count 100');
  if (!(opts.seconds > 0)) throw usageError('--seconds must be positive', '--seconds 10');
  const pid = await nodePid(rt, node);
  const args = ['-t', String(pid), '-n', 'tcpdump', '-i', iface, '-n', '-c', String(opts.count)];
  args.push(...(opts.write ? ['-U', '-w', opts.write] : ['-l']));
  args.push(...opts.filter);
  const r = await execa('nsenter', args, {
    stdio: ['ignore', 'inherit', 'inherit'],
    reject: false,
    timeout: opts.seconds * 1000,
    killSignal: 'SIGINT',
  });
  // tcpdump ended by the duration bound is a normal end of a capture.
  return r.timedOut ? 0 : (r.exitCode ?? 1);
}
