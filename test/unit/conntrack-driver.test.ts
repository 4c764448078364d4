import { describe, expect, it } from 'vitest';
import { parseConntrack } from '../../src/drivers/conntrack.js';

// lines as OVS 3.1's `ovs-appctl dpctl/dump-conntrack` prints them (lib/ct-dpif.c)
const dump = [
  'tcp,orig=(src=10.0.2.2,dst=10.0.1.10,sport=40000,dport=80),reply=(src=10.0.1.10,dst=10.0.2.2,sport=80,dport=40000),zone=3,protoinfo=(state=ESTABLISHED)',
  'tcp,orig=(src=fd00:b::2,dst=fd00:a::10,sport=40001,dport=80),reply=(src=fd00:a::10,dst=fd00:b::2,sport=80,dport=40001),zone=4,protoinfo=(state=ESTABLISHED)',
  'icmpv6,orig=(src=fd00:b::2,dst=fd00:a::10,id=7,type=128,code=0),reply=(src=fd00:a::10,dst=fd00:b::2,id=7,type=129,code=0),zone=4',
].join('\n');

describe('datapath conntrack dump', () => {
  it('gives each entry the original tuple flush-conntrack takes, in its address family', () => {
    const [v4, v6, icmp6] = parseConntrack(dump);
    expect(v4!.origTuple).toBe(
      'ct_nw_src=10.0.2.2,ct_nw_dst=10.0.1.10,ct_nw_proto=6,ct_tp_src=40000,ct_tp_dst=80',
    );
    expect(v6!.origTuple).toBe(
      'ct_ipv6_src=fd00:b::2,ct_ipv6_dst=fd00:a::10,ct_nw_proto=6,ct_tp_src=40001,ct_tp_dst=80',
    );
    expect(v6!.zone).toBe(4);
    expect(icmp6!.origTuple).toBe(
      'ct_ipv6_src=fd00:b::2,ct_ipv6_dst=fd00:a::10,ct_nw_proto=58,icmp_id=7,icmp_type=128,icmp_code=0',
    );
  });
});
