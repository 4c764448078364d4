/**
 * The impairment part of the diff (pure): each interface's relay wiring against what was observed — the relay's
 * pidfile (alive, and really the relay) and params, the twin pair lw…/lb…, and which of lv…/lb… OVS has.
 * docs/impairments.md describes the wiring; diff.ts calls this once per host.
 */
import { RELAY_LIMIT, type RelayParams, type RelayState } from '../drivers/relay.js';
import { describeImpair, type Impair, isImpaired, sameImpair } from '../lab/impair.js';
import { naming } from '../plan/compile.js';
import type { PlanInterface, PlanNode } from '../plan/types.js';
import type { ImpairChange } from './changes.js';
import type { ObservedHost } from './observe.js';

export function relayParams(i: Impair): RelayParams {
  return {
    delayMs: i.delayMs,
    jitterMs: i.jitterMs,
    lossPct: i.lossPct,
    rateBps: i.rateBps,
    direction: i.direction,
    limit: RELAY_LIMIT,
  };
}

export function impairOfParams(p: RelayParams): Impair {
  return {
    delayMs: p.delayMs,
    jitterMs: p.jitterMs,
    lossPct: p.lossPct,
    rateBps: p.rateBps,
    direction: p.direction,
  };
}

export interface ImpairDiff {
  changes: ImpairChange[];
  /** `node.iface` of interfaces whose wiring is (re)built: the wire change plugs their OVS port */
  wired: Set<string>;
  /** device and port names an unwire change removes (the generic unplug / veth-delete leave them alone) */
  covered: Set<string>;
}

/**
 * `replumbed`: `node.iface` of interfaces whose veth pair is being (re)created (a new or restarted container, a
 * broken pair): their relay lost its node-side device, so an impaired one is wired afresh.
 */
export function diffImpairs(
  lab: string,
  host: string,
  nodes: PlanNode[],
  seen: ObservedHost,
  replumbed: ReadonlySet<string>,
): ImpairDiff {
  const out: ImpairDiff = { changes: [], wired: new Set(), covered: new Set() };
  const relays = new Map((seen.relays ?? []).map((r) => [r.hostVeth, r]));
  const links = new Map((seen.relayLinks ?? []).map((l) => [l.name, l]));
  const ovs = new Set(seen.ovs.map((o) => o.name));
  const owned = new Set<string>();
  for (const node of nodes)
    for (const i of node.interfaces) {
      owned.add(i.hostVeth);
      const c = diffInterface(
        node,
        i,
        relays.get(i.hostVeth),
        links,
        ovs,
        replumbed.has(`${node.name}.${i.name}`),
      );
      if (!c) continue;
      c.host = host;
      out.changes.push(c);
      if (c.action === 'wire') out.wired.add(`${node.name}.${i.name}`);
      if (c.action === 'unwire') out.covered.add(c.relayVeth).add(c.bridgeVeth);
    }
  // Relays and twin pairs of this lab whose interface is gone (its node or interface was removed).
  const orphans = new Set<string>();
  for (const r of relays.values()) if (!owned.has(r.hostVeth)) orphans.add(r.hostVeth);
  for (const l of links.values())
    if (l.alias === `labctl:${lab}` && l.name.startsWith('lw') && !owned.has(`lv${l.name.slice(2)}`))
      orphans.add(`lv${l.name.slice(2)}`);
  for (const o of seen.ovs)
    if (o.name.startsWith('lb') && !owned.has(`lv${o.name.slice(2)}`)) orphans.add(`lv${o.name.slice(2)}`);
  for (const hostVeth of [...orphans].sort()) {
    const c: ImpairChange = {
      kind: 'impair',
      host,
      op: '-',
      action: 'unwire',
      hostVeth,
      relayVeth: naming.relayVeth(hostVeth),
      bridgeVeth: naming.bridgeVeth(hostVeth),
      summary: `stop the impairment relay of ${hostVeth} (its interface is gone)`,
    };
    out.changes.push(c);
    out.covered.add(c.relayVeth).add(c.bridgeVeth);
  }
  return out;
}

function diffInterface(
  node: PlanNode,
  i: PlanInterface,
  relay: RelayState | undefined,
  links: ReadonlyMap<string, unknown>,
  ovs: ReadonlySet<string>,
  replumbed: boolean,
): ImpairChange | undefined {
  const at = `${node.name}.${i.name}`;
  const relayVeth = naming.relayVeth(i.hostVeth);
  const bridgeVeth = naming.bridgeVeth(i.hostVeth);
  const base = {
    kind: 'impair' as const,
    host: '',
    node: node.name,
    iface: i.name,
    hostVeth: i.hostVeth,
    relayVeth,
    bridgeVeth,
  };
  const anything = !!relay || links.has(relayVeth) || links.has(bridgeVeth) || ovs.has(bridgeVeth);
  if (!i.impair || !isImpaired(i.impair)) {
    if (!anything) return undefined;
    return {
      ...base,
      op: '-',
      action: 'unwire',
      summary: `clear impairment of ${at} (stop its relay, ${i.hostVeth} back on the bridge)`,
    };
  }
  const want = i.impair;
  const what = describeImpair(want);
  const missing: string[] = [];
  if (replumbed) missing.push('its link is new');
  else {
    if (!relay?.pid) missing.push(relay?.pidfile ? 'the relay is not running' : 'no relay');
    if (!links.has(relayVeth) || !links.has(bridgeVeth))
      missing.push(`no twin pair ${relayVeth}/${bridgeVeth}`);
    if (!ovs.has(bridgeVeth)) missing.push(`${bridgeVeth} is not on the bridge`);
    if (ovs.has(i.hostVeth)) missing.push(`${i.hostVeth} is still on the bridge`);
  }
  if (missing.length) {
    const fresh = replumbed || !anything;
    return {
      ...base,
      op: fresh ? '+' : '~',
      action: 'wire',
      impair: {
        delayMs: want.delayMs,
        jitterMs: want.jitterMs,
        lossPct: want.lossPct,
        rateBps: want.rateBps,
        direction: want.direction,
      },
      summary: `impair ${at}: ${what} (relay ${i.hostVeth} ⇄ ${relayVeth}, ${bridgeVeth} on the bridge)${fresh ? '' : ` (${missing.join('; ')})`}`,
    };
  }
  const have = relay?.params ? impairOfParams(relay.params) : undefined;
  if (!have || !sameImpair(have, want) || relay?.params?.limit !== RELAY_LIMIT)
    return {
      ...base,
      op: '~',
      action: 'set',
      impair: {
        delayMs: want.delayMs,
        jitterMs: want.jitterMs,
        lossPct: want.lossPct,
        rateBps: want.rateBps,
        direction: want.direction,
      },
      summary: `impair ${at}: ${what} (was ${have ? describeImpair(have) : 'unreadable'})`,
    };
  return undefined;
}
