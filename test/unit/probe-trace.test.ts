/**
 * ovn-trace output → verdict, stage, logical flow. OVN 23.03 (captured on this project's machine) and OVN 25.03
 * (captured in the Debian 13 matrix container: ACLs split into *_acl_eval and *_acl_action, drops without `drop;`).
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { aclDelCommand, microflow, parseTrace } from '../../src/probe/trace.js';

const dir = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'dataplane');
const trace = (name: string) => readFileSync(join(dir, `trace-${name}.txt`), 'utf8');

describe('parseTrace', () => {
  it('names the ACL stage, table, match and logical flow of a drop', () => {
    const v = parseTrace(trace('acl-drop'), 'dp-smoke.web.eth1');
    expect(v.verdict).toBe('drop');
    expect(v.step).toMatchObject({
      pipeline: 'egress',
      datapath: 'dp-smoke.vpc-a',
      table: 4,
      stage: 'ls_out_acl',
      priority: 3000,
      lflow: '593633f5',
      match: 'outport == "dp-smoke.web.eth1" && ip4.src == 10.0.2.2 && tcp.dst == 22',
    });
  });

  it('sees a reject, even though the generated RST is then delivered back', () => {
    const v = parseTrace(trace('reject'), 'dp-smoke.db.eth1');
    expect(v.verdict).toBe('reject');
    expect(v.step?.stage).toBe('ls_out_acl');
    expect(v.step?.priority).toBe(4001);
  });

  it('delivers through a router to the expected port, requests and replies', () => {
    expect(parseTrace(trace('delivered'), 'dp-smoke.web.eth1')).toMatchObject({ verdict: 'delivered' });
    expect(parseTrace(trace('delivered'), 'dp-smoke.db.eth1').verdict).toBe('elsewhere');
    expect(parseTrace(trace('reply'), 'dp-smoke.client.eth1').verdict).toBe('delivered');
    expect(parseTrace('', 'x').verdict).toBe('unknown');
  });
});

describe('parseTrace on OVN 25.03 (Debian 13)', () => {
  it('an ACL drop ends the trace silently in ls_out_acl_action: reported at the ls_out_acl_eval flow of the ACL', () => {
    const v = parseTrace(trace('ovn25-acl-drop'), 'p2');
    expect(v.verdict).toBe('drop');
    expect(v.step).toMatchObject({
      pipeline: 'egress',
      datapath: 'sw',
      table: 6,
      stage: 'ls_out_acl_eval',
      priority: 2000,
      lflow: '972881f8', // the flow whose stage-hint names the NB ACL
      match: '(outport == "p2" && tcp.dst == 47000)',
    });
    expect(v.actionStep).toMatchObject({ stage: 'ls_out_acl_action', lflow: 'ca384f16' });
    expect(v.outputs).toEqual([]);
  });

  it('a reply dropped by a to-lport ACL (--ct=est,rpl), a reject, and a delivery', () => {
    const reply = parseTrace(trace('ovn25-reply-drop'), 'p1');
    expect(reply.verdict).toBe('drop');
    expect(reply.step).toMatchObject({ stage: 'ls_out_acl_eval', match: '(outport == "p1" && tcp)' });
    const reject = parseTrace(trace('ovn25-reject'), 'p3');
    expect(reject.verdict).toBe('reject');
    expect(reject.step).toMatchObject({ stage: 'ls_out_acl_eval', priority: 5001, lflow: '94fb01fd' });
    expect(reject.actionStep?.stage).toBe('ls_out_acl_action');
    expect(parseTrace(trace('ovn25-delivered'), 'p3')).toMatchObject({
      verdict: 'delivered',
      outputs: ['p3'],
    });
    expect(parseTrace(trace('ovn25-delivered'), 'p1').verdict).toBe('elsewhere');
  });
});

describe('microflow and fix', () => {
  it('writes the microflow ovn-trace takes', () => {
    expect(
      microflow({
        inport: 'l.c.eth1',
        ethSrc: '0a:00:00:00:00:01',
        ethDst: '0a:00:00:00:00:02',
        ipSrc: '10.0.2.2',
        ipDst: '10.0.1.10',
        proto: 'tcp',
        dport: 80,
      }),
    ).toBe(
      'inport == "l.c.eth1" && eth.src == 0a:00:00:00:00:01 && eth.dst == 0a:00:00:00:00:02 && ip4.src == 10.0.2.2 && ip4.dst == 10.0.1.10 && ip.ttl == 64 && tcp.src == 49152 && tcp.dst == 80',
    );
    expect(
      microflow({
        inport: 'p',
        ethSrc: 'a',
        ethDst: 'b',
        ipSrc: '1.1.1.1',
        ipDst: '2.2.2.2',
        proto: 'icmp',
        icmpType: 0,
      }),
    ).toContain('icmp4.type == 0 && icmp4.code == 0');
  });

  it('deletes exactly the ACL, from its switch or port group', () => {
    const acl = {
      uuid: 'u',
      name: '',
      direction: 'to-lport',
      priority: 3000,
      match: 'outport == "a" && tcp',
      action: 'drop',
      externalIds: {},
    };
    expect(aclDelCommand({ ...acl, owner: { kind: 'switch', name: 'lab.vpc-a' } })).toBe(
      'ovn-nbctl acl-del lab.vpc-a to-lport 3000 "outport == \\"a\\" && tcp"',
    );
    expect(aclDelCommand({ ...acl, owner: { kind: 'port-group', name: 'pg1' } })).toBe(
      'ovn-nbctl --type=port-group acl-del pg1 to-lport 3000 "outport == \\"a\\" && tcp"',
    );
    expect(aclDelCommand(acl)).toBeUndefined();
  });
});
