/** scenarios: the experiments `labctl run` measures (docs/experiments.md): flows, steps, expectations. */
import { parseImpair } from '../impair.js';
import { isIPv4 } from '../ipv4.js';
import { normalize6 } from '../ipv6.js';
import type { LabFlow, LabNode, LabScenario, LabScenarioExpect, LabStep, TcpOutcome } from '../types.js';
import type { PathSeg, ValidateContext } from './context.js';
import { didYouMean, nameIssue } from './suggest.js';

const MAX_NAME = 40;
const STEP_KINDS = ['wait', 'up', 'readdress', 'link', 'conntrack-flush', 'exec', 'impair'];

/** "2s", "500ms", "1.5s" or a number of seconds → ms. */
export function durationMs(d: string | number): number {
  if (typeof d === 'number') return Math.round(d * 1000);
  const m = /^(\d+(?:\.\d+)?)(ms|s)$/.exec(d);
  if (!m) return Number.NaN;
  return Math.round(Number(m[1]) * (m[2] === 's' ? 1000 : 1));
}

/** Longest wait a step may ask for (the scenario's own time bound). */
const MAX_WAIT_MS = 3_600_000;

export function validateScenarios(ctx: ValidateContext, nodes: LabNode[]): LabScenario[] {
  const { doc, add, nodeNames } = ctx;
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const out: LabScenario[] = [];
  for (const [name, sc] of Object.entries(doc.scenarios)) {
    const base: PathSeg[] = ['scenarios', name];
    const problem = nameIssue(name, MAX_NAME);
    if (problem) add(base, `scenario name "${name}" ${problem}`, 'e.g. scenarios: { flap: … }', true);
    const nodeRef = (path: PathSeg[], node: string, what: string): LabNode | undefined => {
      const n = byName.get(node);
      if (!n && !(node in doc.nodes))
        add(path, `${what} unknown node "${node}"`, didYouMean(node, nodeNames, 'nodes'));
      return n;
    };
    const ifaceRef = (path: PathSeg[], node: string, iface: string) => {
      const n = nodeRef([...path, 'node'], node, 'step on');
      if (n && !n.interfaces.some((i) => i.name === iface))
        add(
          [...path, 'iface'],
          `node ${node} has no interface ${iface}`,
          `its interfaces: ${n.interfaces.map((i) => i.name).join(', ') || 'none'}`,
        );
    };

    const flows: LabFlow[] = [];
    const seen = new Set<string>();
    sc.flows.forEach((f, i) => {
      const p: PathSeg[] = [...base, 'flows', i];
      const fp = nameIssue(f.name, MAX_NAME);
      if (fp) add([...p, 'name'], `flow name "${f.name}" ${fp}`, 'e.g. name: ping');
      if (seen.has(f.name))
        add(
          [...p, 'name'],
          `flow name "${f.name}" is used twice in scenario ${name}`,
          'give each flow its own name',
        );
      seen.add(f.name);
      const from = nodeRef([...p, 'from'], f.from, 'flow from');
      if (from && from.interfaces.length === 0)
        add([...p, 'from'], `node ${f.from} has no interfaces to send from`, 'attach it to a network');
      if (!(f.to in doc.nodes) && !isIPv4(f.to))
        add(
          [...p, 'to'],
          `flow to "${f.to}": not a node or an IPv4 address`,
          didYouMean(f.to, nodeNames, 'nodes'),
        );
      if (f.from === f.to) add([...p, 'to'], `flow from ${f.from} to itself`, 'send to another node');
      if (f.proto === 'icmp' && f.port !== undefined)
        add([...p, 'port'], 'icmp has no port', 'remove port, or use proto tcp or udp');
      if (f.proto !== 'icmp' && f.port === undefined)
        add(
          p,
          `a ${f.proto} flow needs a port (labctl's echo listener serves it)`,
          'add port: 7000 (for example)',
        );
      flows.push({ name: f.name, from: f.from, to: f.to, proto: f.proto, port: f.port, rate: f.rate });
    });

    const steps: LabStep[] = [];
    sc.steps.forEach((s, i) => {
      const p: PathSeg[] = [...base, 'steps', i];
      const keys = Object.keys(s).filter((k) => s[k as keyof typeof s] !== undefined);
      if (keys.length !== 1) {
        add(
          p,
          keys.length ? `a step is one action; this one has ${keys.join(' and ')}` : 'an empty step',
          `one of ${STEP_KINDS.join(', ')} per step (list them as separate steps)`,
        );
        return;
      }
      if (s.wait !== undefined) {
        const ms = durationMs(s.wait);
        if (!(ms > 0 && ms <= MAX_WAIT_MS))
          add([...p, 'wait'], `wait ${s.wait}: must be above 0 and at most 1 hour`, 'e.g. wait: 2s');
        steps.push({ kind: 'wait', ms });
      } else if (s.up !== undefined) {
        steps.push({ kind: 'up', file: s.up });
      } else if (s.readdress) {
        const r = s.readdress;
        ifaceRef([...p, 'readdress'], r.node, r.iface);
        if (!isIPv4(r.ip) && normalize6(r.ip) === undefined)
          add([...p, 'readdress', 'ip'], `"${r.ip}" is not an IPv4 or IPv6 address`, 'e.g. ip: 10.0.1.40');
        steps.push({ kind: 'readdress', node: r.node, iface: r.iface, ip: normalize6(r.ip) ?? r.ip });
      } else if (s.link) {
        const l = s.link;
        ifaceRef([...p, 'link'], l.node, l.iface);
        steps.push({ kind: 'link', node: l.node, iface: l.iface, state: l.state });
      } else if (s['conntrack-flush']) {
        const c = s['conntrack-flush'];
        if (c.node !== undefined) nodeRef([...p, 'conntrack-flush', 'node'], c.node, 'conntrack-flush of');
        if (c.address !== undefined && !isIPv4(c.address))
          add(
            [...p, 'conntrack-flush', 'address'],
            `"${c.address}" is not an IPv4 address`,
            'e.g. address: 10.0.1.10',
          );
        if (c.node !== undefined && c.address !== undefined)
          add([...p, 'conntrack-flush'], 'give node or address, not both', 'two steps flush both');
        steps.push({ kind: 'conntrack-flush', node: c.node, address: c.address });
      } else if (s.exec) {
        nodeRef([...p, 'exec', 'node'], s.exec.node, 'exec in');
        steps.push({ kind: 'exec', node: s.exec.node, cmd: s.exec.cmd });
      } else if (s.impair) {
        const { node, iface, clear, ...spec } = s.impair;
        const ip: PathSeg[] = [...p, 'impair'];
        ifaceRef(ip, node, iface);
        const given = Object.values(spec).some((v) => v !== undefined);
        if (clear && given)
          add(
            ip,
            'impair: clear takes no delay, jitter, loss, rate or direction',
            'two steps, or drop clear',
          );
        else if (!clear && !given)
          add(
            ip,
            'impair: sets nothing',
            'give delay, jitter, loss or rate (they replace the interface’s), or clear: true',
          );
        if (clear) {
          steps.push({ kind: 'impair', node, iface });
          return;
        }
        const r = parseImpair(spec);
        for (const issue of r.issues) add(issue.key ? [...ip, issue.key] : ip, issue.message, issue.hint);
        steps.push({ kind: 'impair', node, iface, ...(r.impair ? { impair: r.impair } : {}) });
      }
    });

    const expect: LabScenarioExpect[] = [];
    sc.expect.forEach((e, i) => {
      const p: PathSeg[] = [...base, 'expect', i];
      const f = flows.find((x) => x.name === e.flow);
      if (!f)
        add(
          [...p, 'flow'],
          `expect names unknown flow "${e.flow}"`,
          didYouMean(
            e.flow,
            flows.map((x) => x.name),
            'flows',
          ),
        );
      else if (e.tcp !== undefined && f.proto !== 'tcp')
        add(
          [...p, 'tcp'],
          `flow ${e.flow} is ${f.proto}: only a tcp flow has a session outcome`,
          'use max_lost or max_gap_ms',
        );
      if (
        e.max_lost === undefined &&
        e.max_loss_pct === undefined &&
        e.max_gap_ms === undefined &&
        e.tcp === undefined
      )
        add(p, `expect on flow ${e.flow} sets no threshold`, 'add max_lost, max_loss_pct, max_gap_ms or tcp');
      const tcp: TcpOutcome[] | undefined =
        e.tcp === undefined ? undefined : Array.isArray(e.tcp) ? e.tcp : [e.tcp];
      expect.push({
        flow: e.flow,
        maxLost: e.max_lost,
        maxLossPct: e.max_loss_pct,
        maxGapMs: e.max_gap_ms,
        tcp,
      });
    });
    out.push({ name, flows, steps, expect });
  }
  return out;
}
