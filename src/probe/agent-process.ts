/**
 * The host's end of one probe agent process (agent.ts): newline-delimited JSON requests over its stdin, answers
 * matched by id over its stdout, each request with its own time limit, and a stop that always ends the process.
 */
import type { ChildProcess } from 'node:child_process';
import type { Hello, ListenerState, ProbeResult, ProbeSpec, Request, Response } from './protocol.js';

export class AgentError extends Error {
  constructor(
    readonly node: string,
    message: string,
  ) {
    super(`probe agent for ${node}: ${message}`);
    this.name = 'AgentError';
  }
}

interface Pending {
  resolve: (r: Response) => void;
  reject: (e: Error) => void;
  /** performance.now() past which the request fails */
  deadline: number;
  op: string;
  timeoutMs: number;
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** One agent process. Requests are answered in any order; each has its own time limit. */
export class ProbeAgent {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private buf = '';
  private exited = false;
  private stderr = '';
  hello?: Hello;
  readonly exitedPromise: Promise<void>;

  constructor(
    /** a label for errors: the node (local) or "broker N" */
    readonly label: string,
    private readonly child: ChildProcess,
  ) {
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => this.onData(chunk));
    child.stderr!.on('data', (d: Buffer) => {
      if (this.stderr.length < 4096) this.stderr += String(d);
    });
    child.stdin!.on('error', () => {});
    this.exitedPromise = new Promise<void>((resolve) => {
      const done = (err?: Error) => {
        if (err && this.stderr.length < 4096) this.stderr += `${err.message}\n`;
        this.onExit();
        resolve();
      };
      // 'error': it could not be spawned (no 'close' may follow); 'close': it exited and its pipes are drained
      child.on('error', done);
      child.once('close', () => done());
    });
  }

  /** requests of this event-loop turn, written together */
  private out: string[] = [];
  private flush(): void {
    if (!this.out.length) return;
    const chunk = this.out.join('');
    this.out = [];
    if (!this.exited) this.child.stdin!.write(chunk);
  }

  private onData(chunk: string): void {
    this.buf += chunk;
    let nl = this.buf.indexOf('\n');
    while (nl >= 0) {
      const line = this.buf.slice(0, nl);
      this.buf = this.buf.slice(nl + 1);
      nl = this.buf.indexOf('\n');
      if (!line.trim()) continue;
      let msg: Response;
      try {
        msg = JSON.parse(line) as Response;
      } catch {
        continue;
      }
      const p = this.pending.get(msg.id);
      if (!p) continue;
      this.pending.delete(msg.id);
      p.resolve(msg);
    }
    if (!this.pending.size) this.disarm();
  }

  // One timer per agent for every pending request's time limit (at the earliest deadline), not one per request:
  // a 50-node mesh has thousands of requests in flight, and each timer (with its closure) lived as long as they.
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Number.POSITIVE_INFINITY;

  private arm(deadline: number): void {
    if (deadline >= this.timerAt) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = deadline;
    this.timer = setTimeout(() => this.expire(), Math.max(0, Math.ceil(deadline - performance.now())));
  }

  private disarm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
  }

  private expire(): void {
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
    const now = performance.now();
    let next = Number.POSITIVE_INFINITY;
    for (const [id, p] of this.pending) {
      if (p.deadline <= now) {
        this.pending.delete(id);
        p.reject(new AgentError(this.label, `no answer to ${p.op} within ${p.timeoutMs} ms`));
      } else if (p.deadline < next) next = p.deadline;
    }
    if (next < Number.POSITIVE_INFINITY) this.arm(next);
  }

  private onExit(): void {
    this.exited = true;
    const why = this.lastStderr.split('\n').slice(-2).join(' | ') || 'exited';
    for (const [id, p] of this.pending) {
      p.reject(new AgentError(this.label, why));
      this.pending.delete(id);
    }
    this.disarm();
  }

  get alive(): boolean {
    return !this.exited;
  }

  get lastStderr(): string {
    return this.stderr.trim();
  }

  /** Send one request; resolves with the agent's response (ok or not), rejects if the agent dies or is silent. */
  request(req: DistributiveOmit<Request, 'id'>, timeoutMs: number): Promise<Response> {
    if (this.exited)
      return Promise.reject(
        new AgentError(this.label, `not running${this.stderr ? `: ${this.lastStderr}` : ''}`),
      );
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const deadline = performance.now() + timeoutMs;
      this.pending.set(id, { resolve, reject, deadline, op: req.op, timeoutMs });
      this.arm(deadline);
      this.out.push(`${JSON.stringify({ ...req, id })}\n`);
      if (this.out.length === 1) setImmediate(() => this.flush());
    });
  }

  /** Run one probe (from `node`'s sockets in broker mode). Never rejects: an agent failure becomes outcome "error". */
  probe(spec: ProbeSpec, node?: string): Promise<ProbeResult> {
    // the agent may queue the probe behind others: allow for that, but not forever
    return this.request(
      node ? { op: 'probe', probe: spec, node } : { op: 'probe', probe: spec },
      spec.timeoutMs + 120_000,
    ).then(
      (r): ProbeResult =>
        r.ok && r.result ? r.result : { outcome: 'error', ms: 0, detail: r.ok ? 'empty answer' : r.error },
      (e: Error): ProbeResult => ({ outcome: 'error', ms: 0, detail: e.message }),
    );
  }

  /**
   * Local mode: start a TCP token-echo listener or UDP echo responder on port (or up to `tries` ports above it);
   * `dual`: one AF_INET6 socket on :: that answers IPv4 and IPv6.
   */
  async listen(proto: 'tcp' | 'udp', port: number, tries = 0, dual = false): Promise<ListenerState> {
    try {
      const r = await this.request(
        { op: 'listen', proto, port, tries, ...(dual ? { dual: true } : {}) },
        10_000,
      );
      return r.ok ? { proto, want: port, port: r.port } : { proto, want: port, code: r.code ?? r.error };
    } catch (e) {
      return { proto, want: port, code: (e as Error).message };
    }
  }

  async counters(node?: string): Promise<Record<string, number> | undefined> {
    try {
      const r = await this.request({ op: 'counters', ...(node ? { node } : {}) }, 10_000);
      return r.ok ? r.counters : undefined;
    } catch {
      return undefined;
    }
  }

  /** Ask the agent to stop; close its stdin; kill it if it is still there after graceMs. */
  async stop(graceMs = 2_000): Promise<void> {
    if (!this.exited) {
      this.request({ op: 'stop' }, graceMs).catch(() => {});
      this.flush();
      this.child.stdin!.end();
    }
    const killer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await this.exitedPromise;
    clearTimeout(killer);
  }
}
