/**
 * Loaded into every labctl process the bench runs (`node --import dist/bench/preload.js dist/labctl.mjs …`).
 * It changes nothing labctl does; at exit it writes one JSON file (path in LABCTL_BENCH_OUT) with
 *  - maxRssKb: process.resourceUsage().maxRSS — the peak resident set of this node process itself
 *    (getrusage RUSAGE_SELF; the short-lived ip/ovs-vsctl/nsenter children are not counted);
 *  - cpu: user and system CPU time of the process;
 *  - events (only with LABCTL_BENCH_TRACE=1): every program labctl spawned (child_process.spawn, which execa
 *    uses) and every Docker API request (http.request, which dockerode uses), each with start and end in ms since
 *    the process started. bench/lib/trace.ts turns them into the phase breakdown of `up` and `down`.
 * Cost: one closure per spawn/request and an array push; the file is written once, after labctl is done.
 */
import cp from 'node:child_process';
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import { syncBuiltinESMExports } from 'node:module';

export interface TraceEvent {
  /** exec: a spawned program; http: a Docker API request */
  k: 'exec' | 'http';
  /** program and arguments (exec), or "METHOD /path" (http), cut to 240 characters */
  what: string;
  t0: number;
  t1: number;
  /** exit code (exec) or HTTP status */
  code?: number | null;
}

export interface ProcReport {
  maxRssKb: number;
  userCpuMs: number;
  systemCpuMs: number;
  /** ms since process start when the 'exit' event ran */
  exitAt: number;
  events: TraceEvent[];
}

const outFile = process.env.LABCTL_BENCH_OUT;
const tracing = process.env.LABCTL_BENCH_TRACE === '1';
const events: TraceEvent[] = [];
const cut = (s: string) => (s.length > 240 ? `${s.slice(0, 237)}...` : s);

if (outFile && tracing) {
  const spawn = cp.spawn;
  const patched = function (this: unknown, ...args: unknown[]) {
    const t0 = performance.now();
    const child = (spawn as (...a: unknown[]) => cp.ChildProcess).apply(this, args);
    const file = String(args[0]);
    const argv = Array.isArray(args[1]) ? (args[1] as unknown[]).map(String) : [];
    child.once('exit', (code) => {
      events.push({ k: 'exec', what: cut([file, ...argv].join(' ')), t0, t1: performance.now(), code });
    });
    return child;
  };
  (cp as { spawn: unknown }).spawn = patched;
  syncBuiltinESMExports();

  const request = http.request;
  (http as { request: unknown }).request = function (this: unknown, ...args: unknown[]) {
    const t0 = performance.now();
    const req = (request as (...a: unknown[]) => http.ClientRequest).apply(this, args);
    const o = args[0] as { method?: string; path?: string } | string;
    const what = typeof o === 'string' ? o : `${o.method ?? 'GET'} ${o.path ?? ''}`;
    let done = false;
    const finish = (code?: number) => {
      if (done) return;
      done = true;
      events.push({ k: 'http', what: cut(what), t0, t1: performance.now(), code: code ?? null });
    };
    req.once('response', (res) => {
      res.once('end', () => finish(res.statusCode));
      res.once('close', () => finish(res.statusCode));
    });
    req.once('error', () => finish());
    return req;
  };
}

if (outFile) {
  process.on('exit', () => {
    const ru = process.resourceUsage();
    const report: ProcReport = {
      maxRssKb: ru.maxRSS,
      userCpuMs: ru.userCPUTime / 1000,
      systemCpuMs: ru.systemCPUTime / 1000,
      exitAt: performance.now(),
      events,
    };
    try {
      writeFileSync(outFile, JSON.stringify(report));
    } catch {
      // the bench reports a missing file as "no measurement"; never change labctl's exit
    }
  });
}
