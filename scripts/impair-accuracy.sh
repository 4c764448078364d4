#!/bin/bash
# Measure the impairment relay's accuracy on this host (docs/impairments.md "Accuracy"): a two-node lab imp-meas,
# `ping` and a TCP bulk transfer from node a to node b inside their network namespaces, for several impairments on
# a.eth1. Needs root, the daemons, python3 and a built dist/labctl.mjs. On a shared machine run it under the
# integration-test lock: flock /tmp/labctl-itest.lock bash scripts/impair-accuracy.sh
set -u
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'node dist/labctl.mjs down --lab imp-meas >/dev/null 2>&1; rm -rf "$tmp"' EXIT
cat > "$tmp/lab.yml" <<'Y'
name: imp-meas
networks:
  net: { subnet: 10.72.1.0/24 }
nodes:
  a: { interfaces: [{ network: net, ip: 10.72.1.10 }] }
  b: { interfaces: [{ network: net, ip: 10.72.1.20 }] }
Y
cat > "$tmp/tp.py" <<'P'
import socket, sys, time
if sys.argv[1] == 's':
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('0.0.0.0', 5001)); s.listen(1)
    c, _ = s.accept(); n = 0; t0 = time.time()
    while True:
        b = c.recv(65536)
        if not b: break
        n += len(b)
    dt = time.time() - t0
    print(f"tcp goodput: {n} bytes in {dt:.2f}s = {n * 8 / dt / 1e6:.2f} Mbit/s")
else:
    s = socket.create_connection(('10.72.1.20', 5001)); d = b'x' * 65536
    for _ in range(int(sys.argv[2]) * 16): s.sendall(d)
    s.close()
P
node dist/labctl.mjs down --lab imp-meas >/dev/null 2>&1
node dist/labctl.mjs up -f "$tmp/lab.yml" >/dev/null || exit 1
PA=$(docker inspect -f '{{.State.Pid}}' labctl.imp-meas.a)
PB=$(docker inspect -f '{{.State.Pid}}' labctl.imp-meas.b)
pingstat() { timeout 60 nsenter -t "$PA" -n ping -n -q -c "$1" -i "$2" -W 2 10.72.1.20 | tail -2 | tr '\n' ' '; echo; }
tput() { # MiB to send
  (timeout 60 nsenter -t "$PB" -n python3 "$tmp/tp.py" s > "$tmp/srv.out" 2>&1 &)
  sleep 1.5
  timeout 60 nsenter -t "$PA" -n python3 "$tmp/tp.py" c "$1"
  sleep 1
  cat "$tmp/srv.out"
}
nsenter -t "$PA" -n ping -c 2 -q 10.72.1.20 >/dev/null
echo "== plain (no relay)"; pingstat 200 0.01; tput 16
for spec in "--delay 0.001ms" "--delay 10ms" "--delay 100ms" "--delay 50ms --jitter 10ms" "--loss 1%" "--loss 10%" \
  "--rate 10mbit" "--rate 100mbit"; do
  # shellcheck disable=SC2086
  node dist/labctl.mjs impair a eth1 $spec --lab imp-meas >/dev/null || { echo "impair $spec failed"; continue; }
  echo "== $spec"
  case "$spec" in
    *loss*) pingstat 2000 0.002 ;;
    *10mbit*) pingstat 50 0.02; tput 4 ;;
    *rate*) pingstat 50 0.02; tput 16 ;;
    *) pingstat 200 0.01 ;;
  esac
done
node dist/labctl.mjs impair a eth1 --delay 0.001ms --lab imp-meas >/dev/null
echo "== relay in the path, ~no shaping"; tput 64
