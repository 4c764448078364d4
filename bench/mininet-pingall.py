#!/usr/bin/python3
"""Mininet reference for the bench: N hosts on one Open vSwitch bridge (userspace datapath, standalone fail mode,
no controller), then Mininet's own pingAll (ICMP only, every ordered pair, one ping each, one at a time).

Why not `mn --topo single,N --test pingall`: /usr/bin/mn calls mininet.clean.cleanup() -- the same as `mn -c`,
which deletes EVERY Open vSwitch bridge on the host, br-int included -- on Ctrl-C and on any exception. This
script uses Mininet's Python API instead and on any exit stops only the network it built (Mininet.stop()).

usage: mininet-pingall.py N SWITCH PREFIX PIDFILE
  SWITCH   bridge name, must not exist yet (the caller checks); PREFIX host name prefix (hosts PREFIX1..PREFIXN)
  PIDFILE  the pids of the host and switch shells are written there, so the caller can end exactly those if this script dies
Prints one JSON line: {"n", "buildS", "pingallS", "stopS", "lossPct", "pings"}.
"""
import json
import signal
import sys
import time

from mininet.log import setLogLevel
from mininet.net import Mininet
from mininet.node import OVSBridge
from mininet.topo import Topo


class Single(Topo):
    def build(self, n=2, switch='s1', prefix='h'):
        s = self.addSwitch(switch, dpid='%016x' % 0xbe7c, datapath='user')
        for i in range(1, n + 1):
            self.addLink(self.addHost('%s%d' % (prefix, i)), s)


def interrupted(signum, _frame):
    raise KeyboardInterrupt('signal %d' % signum)


def main():
    n, switch, prefix, pidfile = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    if not 2 <= n <= 250:
        raise SystemExit('N must be 2..250')
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, interrupted)
    setLogLevel('warning')
    out = {'n': n}
    t0 = time.monotonic()
    net = Mininet(topo=None, switch=OVSBridge, controller=None, build=False, cleanup=False, waitConnected=False)
    try:
        net.buildFromTopo(Single(n=n, switch=switch, prefix=prefix))
        with open(pidfile, 'w') as f:
            f.write('\n'.join(str(node.pid) for node in net.hosts + net.switches) + '\n')
        net.start()
        t1 = time.monotonic()
        loss = net.pingAll(timeout='1')
        t2 = time.monotonic()
        out.update(buildS=t1 - t0, pingallS=t2 - t1, lossPct=loss, pings=n * (n - 1))
    finally:
        t3 = time.monotonic()
        net.stop()
        out['stopS'] = time.monotonic() - t3
    print(json.dumps(out), flush=True)


if __name__ == '__main__':
    main()
