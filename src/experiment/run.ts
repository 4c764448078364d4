/**
 * Run a scenario (docs/experiments.md): start a flow agent in every node that sends or serves a flow, start the
 * echo listeners and the flows, run the steps in order, stop the flows, let the last echoes drain, and report
 * what each flow saw. Node targets follow their node: after every step a flow to a node is pointed at the node's
 * address in the (possibly changed) running plan.
 */
import { isIPv4 } from '../lab/ipv4.js';
import type { Lab, LabFlow, LabScenario } from '../lab/types.js';
import type { LabRuntime } from '../ops/context.js';
import { nodePid } from '../ops/context.js';
import type { PlanNode } from '../plan/types.js';
import { type AgentEvent, type FlowAgent, startFlowAgent } from './agents.js';
import {
  analyzeFlow,
  type ExpectResult,
  type FlowRecord,
  type FlowReport,
  judge,
  type StepTiming,
} from './analyze.js';
import { describeStep, type RunStep, refreshState, runStep } from './steps.js';

/** After the flows stop, how long their last echoes may take to come back. */
const DRAIN_MS = 1000;
/** How long a tcp flow's connection may take before the first step starts anyway. */
const CONNECT_WAIT_MS = 3000;

export interface StepReport {
  step: string;
  start_ms: number;
  end_ms: number;
  ok: boolean;
  detail: string;
}

export interface ScenarioReport {
  scenario: string;
  lab: string;
  ok: boolean;
  /** the scenario could not run as written: a step failed or a flow could not run */
  error: string | null;
  started_at: string;
  duration_ms: number;
  flows: FlowReport[];
  steps: StepReport[];
  expect: ExpectResult[];
  notes: string[];
}

export interface RunHooks {
  /** a step starts (index, description) */
  onStep?: (i: number, what: string) => void;
  onPhase?: (what: string) => void;
}

const now = () => performance.timeOrigin + performance.now();

/** The address a flow to `to` uses now: an address as is; a node's address on a network the sender shares. */
export function targetAddress(nodes: PlanNode[], from: string, to: string): string | undefined {
  if (isIPv4(to)) return to;
  const dst = nodes.find((n) => n.name === to);
  if (!dst) return undefined;
  const src = nodes.find((n) => n.name === from);
  // scenario flows are IPv4 (docs/ipv6.md): an IPv6-only interface has no address for them
  const v4 = dst.interfaces.filter((i) => i.ip !== undefined);
  const shared = v4.find((i) => src?.interfaces.some((s) => s.network === i.network));
  return (shared ?? v4[0])?.ip;
}

/** Nodes that serve a tcp/udp flow's echo listener: its node, the node holding its address, or every other node. */
export function listenerNodes(nodes: PlanNode[], flow: LabFlow): string[] {
  if (flow.proto === 'icmp') return [];
  if (!isIPv4(flow.to)) return [flow.to];
  const holder = nodes.find((n) => n.interfaces.some((i) => i.ip === flow.to));
  if (holder) return [holder.name];
  // a VIP, a NAT address or an address a step will move: any node may end up behind it
  return nodes.filter((n) => n.name !== flow.from).map((n) => n.name);
}

export async function runScenario(
  rt: LabRuntime,
  lab: Pick<Lab, 'file'>,
  scenario: Omit<LabScenario, 'steps'> & { steps: RunStep[] },
  hooks: RunHooks = {},
): Promise<ScenarioReport> {
  const startedAt = new Date().toISOString();
  const notes: string[] = [];
  const records: FlowRecord[] = scenario.flows.map((f) => ({
    name: f.name,
    proto: f.proto,
    from: f.from,
    to: f.to,
    port: f.port,
    rate: f.rate,
    tx: [],
    rx: [],
    tcpEvents: [],
  }));
  const agents = new Map<string, FlowAgent>();
  const waitMs = scenario.steps.reduce((a, s) => a + (s.kind === 'wait' ? s.ms : 60_000), 0);
  const lifetimeMs = Math.min(waitMs + 600_000, 86_400_000);

  const onEvent = (agent: FlowAgent, e: AgentEvent) => {
    if (e.ev === 'batch') {
      const r = records[e.id];
      if (!r) return;
      for (const x of e.tx) r.tx.push(x);
      for (const x of e.rx) r.rx.push(x);
    } else if (e.ev === 'tcp') records[e.id]?.tcpEvents.push({ state: e.state, code: e.code, t: e.t });
    else if (e.ev === 'stopped') {
      const r = records[e.id];
      if (r) r.stopT = e.t;
    } else if (e.ev === 'flow-error') {
      const r = records[e.id];
      if (r) r.error = e.detail;
    } else if (e.ev === 'listen-error')
      notes.push(
        e.code === 'EADDRINUSE'
          ? `${agent.node}: ${e.proto}/${e.port} is already served there (the node's own software answers the flow; it must echo)`
          : `${agent.node}: cannot listen on ${e.proto}/${e.port}: ${e.code}`,
      );
  };

  /** The agent of a node, started (again, if its container was recreated) when needed; one start at a time per node. */
  const starting = new Map<string, Promise<FlowAgent>>();
  const agentOf = (node: string): Promise<FlowAgent> => {
    const pending = starting.get(node);
    if (pending) return pending;
    const p = (async () => {
      const pid = await nodePid(rt, node);
      const a = agents.get(node);
      if (a && !a.exited && a.netnsPid === pid) return a;
      if (a) void a.stop(500);
      const fresh = await startFlowAgent(node, pid, onEvent, lifetimeMs);
      agents.set(node, fresh);
      return fresh;
    })().finally(() => starting.delete(node));
    starting.set(node, p);
    return p;
  };

  /** Echo listeners for every tcp/udp flow, in the nodes that may serve it (after an up step: again). */
  const ensureListeners = async () => {
    const wanted = new Map<string, Set<string>>();
    for (const f of scenario.flows)
      for (const n of listenerNodes(rt.state.plan.nodes, f)) {
        const set = wanted.get(n) ?? new Set<string>();
        set.add(`${f.proto}/${f.port}`);
        wanted.set(n, set);
      }
    await Promise.all(
      [...wanted].map(async ([node, set]) => {
        let agent: FlowAgent;
        try {
          agent = await agentOf(node);
        } catch (err) {
          notes.push(`${node}: no echo listener (${(err as Error).message})`);
          return;
        }
        await Promise.all(
          [...set].map(async (key) => {
            const [proto, port] = key.split('/') as ['tcp' | 'udp', string];
            agent.send({ op: 'listen', proto, port: Number(port) });
            await agent.waitFor(
              (e) =>
                (e.ev === 'listening' || e.ev === 'listen-error') &&
                e.proto === proto &&
                e.port === Number(port),
              5000,
            );
          }),
        );
      }),
    );
  };

  const retarget = () => {
    scenario.flows.forEach((f, id) => {
      if (isIPv4(f.to) || f.proto === 'tcp') return; // a tcp session stays on the connection it opened
      const ip = targetAddress(rt.state.plan.nodes, f.from, f.to);
      const a = agents.get(f.from);
      if (ip && a) a.send({ op: 'target', id, ip });
    });
  };

  const steps: StepReport[] = [];
  const timings: StepTiming[] = [];
  let error: string | null = null;
  let t0 = now();
  try {
    hooks.onPhase?.('start flow agents and echo listeners');
    await ensureListeners();
    const senders = new Map<number, FlowAgent>();
    await Promise.all(
      scenario.flows.map(async (f, id) => {
        try {
          senders.set(id, await agentOf(f.from));
        } catch (err) {
          records[id]!.error = (err as Error).message;
        }
      }),
    );
    t0 = now();
    scenario.flows.forEach((f, id) => {
      const a = senders.get(id);
      const rec = records[id]!;
      if (!a) return;
      const ip = targetAddress(rt.state.plan.nodes, f.from, f.to);
      if (!ip) {
        rec.error = `node ${f.to} has no address`;
        return;
      }
      if (f.proto === 'icmp' && a.hello?.icmp !== 'socket') {
        rec.error = `no ICMP socket in ${f.from}: ${a.hello?.icmp ?? 'agent not started'}`;
        return;
      }
      rec.startT = now();
      a.send({ op: 'flow', id, proto: f.proto, ip, port: f.port, rate: f.rate });
    });
    // tcp sessions: the first step waits (a little) for them to be open
    await Promise.all(
      scenario.flows.map((f, id) =>
        f.proto === 'tcp' && senders.get(id)
          ? senders.get(id)!.waitFor((e) => e.ev === 'tcp' && e.id === id, CONNECT_WAIT_MS)
          : undefined,
      ),
    );
    for (const [i, s] of scenario.steps.entries()) {
      const what = describeStep(s);
      hooks.onStep?.(i, what);
      const start = now();
      let ok = true;
      let detail = '';
      try {
        detail = await runStep(s, { rt, labFile: lab.file });
      } catch (err) {
        ok = false;
        detail = (err as Error).message;
        refreshState(rt);
      }
      const end = now();
      steps.push({ step: what, start_ms: r1(start - t0), end_ms: r1(end - t0), ok, detail });
      timings.push({ startT: start, endT: end, wait: s.kind === 'wait' });
      if (!ok) {
        error = `step ${i + 1} (${what}) failed: ${detail}`;
        break;
      }
      retarget();
      if (s.kind === 'up') await ensureListeners();
    }
  } finally {
    hooks.onPhase?.('stop flows and collect');
    scenario.flows.forEach((f, id) => {
      agents.get(f.from)?.send({ op: 'stop', id });
    });
    await new Promise((res) => setTimeout(res, DRAIN_MS));
    await Promise.all([...agents.values()].map((a) => a.stop()));
  }
  for (const [id, r] of records.entries()) {
    if (r.startT !== undefined && r.stopT === undefined && !r.error)
      r.error = `the agent in ${r.from} stopped before the flow ended${agents.get(r.from)?.errorText ? `: ${agents.get(r.from)!.errorText}` : ''}`;
    void id;
  }
  const flows = records.map((r) => analyzeFlow(r, timings, t0));
  const expect = judge(scenario.expect, flows);
  const flowError = flows.find((f) => f.error);
  if (!error && flowError) error = `flow ${flowError.name} could not run: ${flowError.error}`;
  return {
    scenario: scenario.name,
    lab: rt.state.plan.lab,
    ok: !error && expect.every((e) => e.ok),
    error,
    started_at: startedAt,
    duration_ms: r1(now() - t0),
    flows,
    steps,
    expect,
    notes,
  };
}

const r1 = (x: number) => Math.round(x * 10) / 10;
