#!/usr/bin/env bash
# The hand-wiring baseline: what people type to put N containers on one OVN logical switch, one command at a
# time, per node (platform.md "Wiring a container into OVN"). It is a bash script on purpose: it IS the manual
# procedure the bench compares labctl with.
#
#   hand-wire.sh up   TAG N     create:  1 logical switch, N containers, N veth pairs, N OVS ports, N LSPs,
#                               then wait for the chassis (ovn-nbctl --wait=hv sync, bounded to 60 s)
#   hand-wire.sh down TAG N     remove them again, one command at a time
#   hand-wire.sh clean TAG      remove whatever is left of TAG, found by its names and labels (quiet, idempotent)
#
# Names, all derived from TAG (4 hex digits) so nothing of anyone else's is touched:
#   containers labctl-bench-hw-TAG-I (label labctl-bench=TAG), host veths bhTAGhI / peers bpTAGhI,
#   OVS Interface external_ids:labctl-bench=TAG, NB switch bench-hw-TAG (external_ids:labctl-bench=TAG),
#   ports bench-hw-TAG-I. Addresses 10.204.0.0/24 (only inside those containers' own namespaces).
set -euo pipefail

cmd=${1:?usage: hand-wire.sh up|down|clean TAG [N]}
tag=${2:?TAG}
n=${3:-0}
image=${IMAGE:-labctl/node}
bridge=${BRIDGE:-br-int}
[[ $tag =~ ^[0-9a-f]{4}$ ]] || { echo "hand-wire.sh: TAG must be 4 hex digits" >&2; exit 2; }
[[ $n =~ ^[0-9]+$ && $n -le 250 ]] || { echo "hand-wire.sh: N must be 0..250" >&2; exit 2; }

ls="bench-hw-$tag"
cname() { echo "labctl-bench-hw-$tag-$1"; }
hv() { echo "bh${tag}h$1"; }
pv() { echo "bp${tag}h$1"; }
lsp() { echo "bench-hw-$tag-$1"; }
mac() { printf '0a:b4:%s:%s:00:%02x' "${tag:0:2}" "${tag:2:2}" "$1"; }
ip4() { echo "10.204.0.$(( $1 + 1 ))"; }

case $cmd in
up)
  ovn-nbctl --timeout=20 ls-add "$ls" -- set Logical_Switch "$ls" external_ids:labctl-bench="$tag"
  for ((i = 1; i <= n; i++)); do
    c=$(cname $i); h=$(hv $i); p=$(pv $i); m=$(mac $i); a=$(ip4 $i); l=$(lsp $i)
    docker run -d --name "$c" --hostname "n$i" --label labctl-bench="$tag" --network none \
      --cap-add NET_ADMIN --cap-add NET_RAW --init \
      --sysctl net.ipv6.conf.all.disable_ipv6=1 --sysctl net.ipv6.conf.default.disable_ipv6=1 "$image" >/dev/null
    pid=$(docker inspect -f '{{.State.Pid}}' "$c")
    ip link add "$h" type veth peer name "$p"
    ip link set "$p" netns "$pid"
    nsenter -t "$pid" -n ip link set "$p" name eth1
    nsenter -t "$pid" -n ip link set eth1 address "$m"
    nsenter -t "$pid" -n ip addr add "$a/24" dev eth1
    nsenter -t "$pid" -n ip link set eth1 up
    nsenter -t "$pid" -n ethtool -K eth1 tx off >/dev/null
    ip link set "$h" up
    ovs-vsctl --timeout=20 add-port "$bridge" "$h" -- set Interface "$h" external_ids:iface-id="$l" external_ids:labctl-bench="$tag"
    ovn-nbctl --timeout=20 lsp-add "$ls" "$l" -- lsp-set-addresses "$l" "$m $a"
  done
  ovn-nbctl --timeout=60 --wait=hv sync
  ;;
down)
  for ((i = 1; i <= n; i++)); do
    ovs-vsctl --timeout=20 --if-exists del-port "$bridge" "$(hv $i)"
    docker rm -f "$(cname $i)" >/dev/null
  done
  ovn-nbctl --timeout=20 --if-exists ls-del "$ls"
  ;;
clean)
  set +e
  ids=$(docker ps -aq --filter "label=labctl-bench=$tag")
  [[ -n $ids ]] && docker rm -f $ids >/dev/null 2>&1
  for port in $(ovs-vsctl --timeout=20 --bare --columns=name find Interface "external_ids:labctl-bench=$tag"); do
    ovs-vsctl --timeout=20 --if-exists del-port "$port"
  done
  for dev in $(ip -o link show | awk -F': ' '{print $2}' | cut -d@ -f1 | grep -E "^b[hp]${tag}h[0-9]+$"); do
    ip link del "$dev" 2>/dev/null
  done
  ovn-nbctl --timeout=20 --if-exists ls-del "$ls"
  exit 0
  ;;
*)
  echo "hand-wire.sh: unknown command $cmd (up|down|clean)" >&2; exit 2 ;;
esac
