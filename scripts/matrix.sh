#!/usr/bin/env bash
# The platform matrix: run the README's two commands inside a Debian container of another release, on this machine.
#
#   sudo bash scripts/matrix.sh [--prepare] debian13 [debian12 …]
#
# For each platform: debootstrap a minimal root filesystem from Debian's own archive (no container registry; the
# tarball is cached in .cache/matrix/, ignored by git), import it as a Docker image, add Node and npm (docker
# build), then run it as a container with every capability this host grants, its own dockerd (storage on a volume,
# so overlay2 works nested; its own cgroup namespace), its own OVS and OVN (its own /run, /etc/openvswitch and
# network namespace: nothing of the host's), and inside, on a copy of the project made with `git archive HEAD`
# (no host node_modules: npm ci runs inside):
#   apt-get update; bash scripts/lab.sh (labctl host install/start, image build, up, doctor); labctl down;
#   bash scripts/test.sh (the whole suite, CI=true)
# --prepare only builds the images (run it outside the integration lock); --setup-only runs scripts/setup.sh
# (host install, host start, image build) and prints the versions, without a lab or tests. The full run is
# CPU-heavy:
#   /work/wt/itest bash scripts/matrix.sh debian13
#
# Not `docker run --privileged`: it asks runc for every capability, and where the host's own bounding set lacks one
# (this project's machines have no CAP_SYS_RESOURCE) runc fails with "unable to apply caps". Instead: --cap-add ALL
# minus what the host lacks, seccomp/apparmor unconfined, /dev/net/tun, a private cgroup namespace; the container's
# PID 1 mounts its own sysfs and cgroup hierarchies read-write (the nested dockerd's cgroups live below the
# container's) and makes /proc/sys/net (per network namespace) writable — the rest of /proc/sys stays read-only, and
# container=docker tells package scripts not to apply their sysctl defaults (procps runs `sysctl --system`
# otherwise, which would set global knobs such as vm.max_map_count on the host's kernel). The kernel is still the
# host's: the nested OVS is forced to the userspace datapath
# (LABCTL_DATAPATH=netdev, its own br-int in the container's netns), and the host's OVS bridges, chassis keys and
# SB chassis are compared before and after.
# Ends with a summary per platform; exit 0 only when every platform's lab.sh and test.sh passed.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
CACHE="$ROOT/.cache/matrix"
prepare_only=0
setup_only=0
platforms=()
for a in "$@"; do
  case "$a" in
    --prepare) prepare_only=1 ;;
    --setup-only) setup_only=1 ;;
    debian12 | debian13) platforms+=("$a") ;;
    *)
      echo "error: unknown platform or option: $a" >&2
      echo "fix: bash scripts/matrix.sh [--prepare|--setup-only] debian13 [debian12]" >&2
      exit 2
      ;;
  esac
done
[ ${#platforms[@]} -gt 0 ] || platforms=(debian13)
if [ "$(id -u)" != 0 ]; then
  echo "error: the matrix needs root (debootstrap, containers with all capabilities)" >&2
  echo "fix: sudo bash scripts/matrix.sh ${platforms[*]}" >&2
  exit 2
fi
for t in debootstrap docker git tar; do
  command -v "$t" >/dev/null || {
    echo "error: $t is not installed" >&2
    echo "fix: apt-get install -y debootstrap docker.io git tar   (or: labctl host install)" >&2
    exit 2
  }
done
timeout 10 docker info >/dev/null 2>&1 || {
  echo "error: dockerd does not answer" >&2
  echo "fix: node dist/labctl.mjs host start" >&2
  exit 2
}
mkdir -p "$CACHE"

suite_of() { case "$1" in debian12) echo bookworm ;; debian13) echo trixie ;; esac }

# Node for the tests: vitest 4 needs Node ≥ 20.19. Debian 13 ships 20.19 (nodejs + npm from the release itself);
# Debian 12 ships 18, so that image gets this host's node and npm instead (the summary prints the version).
dockerfile_for() {
  local plat=$1
  case "$plat" in
    debian13)
      cat <<'EOF'
FROM labctl-matrix/base:debian13
RUN apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
      nodejs npm ca-certificates procps kmod git && rm -rf /var/lib/apt/lists/*
COPY daemon.json /etc/docker/daemon.json
COPY ca/ /usr/local/share/ca-certificates/
RUN update-ca-certificates >/dev/null
ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
EOF
      ;;
    debian12)
      cat <<'EOF'
FROM labctl-matrix/base:debian12
RUN apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
      ca-certificates procps kmod git && rm -rf /var/lib/apt/lists/*
COPY node /usr/bin/node
COPY npm /usr/lib/node_modules/npm
RUN ln -sf ../lib/node_modules/npm/bin/npm-cli.js /usr/bin/npm && ln -sf ../lib/node_modules/npm/bin/npx-cli.js /usr/bin/npx
COPY daemon.json /etc/docker/daemon.json
COPY ca/ /usr/local/share/ca-certificates/
RUN update-ca-certificates >/dev/null
ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
EOF
      ;;
  esac
}

build_image() {
  local plat=$1 suite tarball
  suite=$(suite_of "$plat")
  tarball="$CACHE/$plat-minbase.tar"
  if [ ! -s "$tarball" ]; then
    echo "== $plat: debootstrap --variant=minbase $suite (cached in $tarball)"
    local dir
    dir=$(mktemp -d /var/tmp/labctl-matrix-rootfs.XXXXXX)
    if ! debootstrap --variant=minbase "$suite" "$dir" http://deb.debian.org/debian >"$CACHE/$plat-debootstrap.log" 2>&1; then
      tail -5 "$CACHE/$plat-debootstrap.log" >&2
      rm -rf "$dir"
      echo "error: debootstrap $suite failed (log: $CACHE/$plat-debootstrap.log)" >&2
      echo "fix: check that deb.debian.org is reachable (apt-get update), then run the matrix again" >&2
      return 2
    fi
    tar -C "$dir" --numeric-owner -cf "$tarball.tmp" .
    mv "$tarball.tmp" "$tarball"
    rm -rf "$dir"
  fi
  local stamp
  stamp=$(stat -c %Y "$tarball")
  if [ "$(docker image inspect -f '{{index .Config.Labels "labctl.matrix.rootfs"}}' "labctl-matrix/base:$plat" 2>/dev/null)" != "$stamp" ]; then
    echo "== $plat: docker import $tarball"
    docker import -c 'CMD ["bash"]' -c "LABEL labctl.matrix.rootfs=$stamp" "$tarball" "labctl-matrix/base:$plat" >/dev/null
  fi
  local ctx
  ctx=$(mktemp -d /var/tmp/labctl-matrix-ctx.XXXXXX)
  dockerfile_for "$plat" >"$ctx/Dockerfile"
  # the nested dockerd: overlay2 on the /var/lib/docker volume; bridge addresses away from the host's docker0
  # (the container's eth0 is on it), so the nested image builds reach Debian's archive
  cat >"$ctx/daemon.json" <<'EOF'
{ "storage-driver": "overlay2", "bip": "192.168.240.1/24",
  "default-address-pools": [{ "base": "192.168.241.0/24", "size": 28 }] }
EOF
  # the host's locally added CA certificates (e.g. a TLS-inspecting proxy's), so npm reaches the registry from
  # inside as it does here; Node reads the system bundle through NODE_EXTRA_CA_CERTS
  mkdir -p "$ctx/ca"
  find /usr/local/share/ca-certificates -maxdepth 2 -name '*.crt' -exec cp {} "$ctx/ca/" \; 2>/dev/null || true
  if [ "$plat" = debian12 ]; then
    cp "$(readlink -f "$(command -v node)")" "$ctx/node"
    cp -a "$(dirname "$(readlink -f "$(command -v npm)")")/.." "$ctx/npm"
  fi
  echo "== $plat: docker build labctl-matrix/$plat"
  if ! docker build -q -t "labctl-matrix/$plat" "$ctx" >"$CACHE/$plat-build.log" 2>&1; then
    tail -5 "$CACHE/$plat-build.log" >&2
    rm -rf "$ctx"
    echo "error: docker build of labctl-matrix/$plat failed (log: $CACHE/$plat-build.log)" >&2
    return 2
  fi
  rm -rf "$ctx"
}

# --cap-drop for every capability this host's bounding set lacks (runc cannot grant what it does not hold)
missing_caps() {
  local bnd i
  bnd=$((16#$(awk '/^CapBnd/ {print $2}' /proc/self/status)))
  local names=(CHOWN DAC_OVERRIDE DAC_READ_SEARCH FOWNER FSETID KILL SETGID SETUID SETPCAP LINUX_IMMUTABLE
    NET_BIND_SERVICE NET_BROADCAST NET_ADMIN NET_RAW IPC_LOCK IPC_OWNER SYS_MODULE SYS_RAWIO SYS_CHROOT SYS_PTRACE
    SYS_PACCT SYS_ADMIN SYS_BOOT SYS_NICE SYS_RESOURCE SYS_TIME SYS_TTY_CONFIG MKNOD LEASE AUDIT_WRITE
    AUDIT_CONTROL SETFCAP MAC_OVERRIDE MAC_ADMIN SYSLOG WAKE_ALARM BLOCK_SUSPEND AUDIT_READ PERFMON BPF
    CHECKPOINT_RESTORE)
  for i in "${!names[@]}"; do
    (((bnd >> i) & 1)) || printf -- '--cap-drop=%s\n' "${names[$i]}"
  done
}

# The container's PID 1: its own sysfs (its network namespace's devices) and cgroup hierarchies, read-write, and
# /proc/sys/net writable (per network namespace; the rest of /proc/sys stays read-only: it is the host's), then
# wait. On stop, the nested daemons are ended and the cgroups they left are removed (deepest first).
INIT='
umount /sys/fs/cgroup/* 2>/dev/null; umount /sys/fs/cgroup 2>/dev/null; umount /sys
mount -t sysfs sysfs /sys
mount -t tmpfs cgroup /sys/fs/cgroup
for c in $(awk "NR>1 && \$4==1 {print \$1}" /proc/cgroups); do
  mkdir -p /sys/fs/cgroup/$c && mount -t cgroup -o $c cgroup /sys/fs/cgroup/$c
done
mkdir -p /sys/fs/cgroup/systemd && mount -t cgroup -o none,name=systemd cgroup /sys/fs/cgroup/systemd
mount --bind /proc/sys/net /proc/sys/net && mount -o remount,bind,rw /proc/sys/net
cleanup() {
  [ -s /var/run/docker.pid ] && kill "$(cat /var/run/docker.pid)"; sleep 5
  find /sys/fs/cgroup/*/ -mindepth 1 -depth -type d -exec rmdir {} + 2>/dev/null
  exit 0
}
trap cleanup TERM INT
touch /run/matrix-ready
sleep infinity & wait
'

# What runs inside the container (as root, no systemd). Prints "MATRIX key=value" lines the summary collects.
INNER='
set -uo pipefail
cd /src
export DEBIAN_FRONTEND=noninteractive LABCTL_DATAPATH=netdev
kv() { echo "MATRIX $1=$2"; }
json() { node -e "let s=\"\";process.stdin.on(\"data\",d=>s+=d).on(\"end\",()=>{try{const r=JSON.parse(s);console.log($1)}catch{console.log(\"?\")}})"; }
apt-get update -q >/dev/null
echo "== README: bash scripts/lab.sh"
if [ "${MATRIX_SETUP_ONLY:-0}" = 1 ]; then bash scripts/setup.sh; else bash scripts/lab.sh; fi
kv lab_exit "$?"
kv os "$(. /etc/os-release; echo "$PRETTY_NAME")"
kv node "$(node --version)"
kv docker "$(docker version -f "{{.Server.Version}} (API {{.Server.APIVersion}})" 2>/dev/null || echo none), storage $(docker info -f "{{.Driver}}, cgroup v{{.CgroupVersion}}" 2>/dev/null)"
kv docker_pkg "$(dpkg-query -W -f "\${Package} \${Version}" docker.io 2>/dev/null || echo none)"
kv ovs "$(ovs-vswitchd --version 2>/dev/null | head -1)"
kv ovn "$(ovn-controller --version 2>/dev/null | head -1)"
kv datapath "br-int $(ovs-vsctl --timeout=5 get Bridge br-int datapath_type 2>/dev/null), key $(ovs-vsctl --timeout=5 --if-exists get Open_vSwitch . external_ids:ovn-bridge-datapath-type 2>/dev/null)"
kv kernel_module "$(node dist/labctl.mjs host check --json 2>/dev/null | json r.kernelModule.detail)"
[ "${MATRIX_SETUP_ONLY:-0}" = 1 ] && exit 0
kv doctor "$(node dist/labctl.mjs doctor -f lab.yml --json 2>/dev/null | json "(r.ok?\"green\":\"red\")+\" (\"+r.summary.total+\" checks, \"+r.summary.failed+\" failed)\"")"
node dist/labctl.mjs down -f lab.yml >/dev/null 2>&1 || true
echo "== README: bash scripts/test.sh"
bash scripts/test.sh 2>&1 | tee /tmp/test.log
kv tests_exit "${PIPESTATUS[0]}"
kv tests "$(grep -E "^tests: " /tmp/test.log | tail -1 | sed "s/^tests: //")"
kv failed_files "$(grep -E "FAIL " /tmp/test.log | grep -oE "test/[^ ]+\.test\.ts" | sort -u | tr "\n" " ")"
'

run_platform() {
  local plat=$1 name="labctl-matrix-$1" log="$CACHE/$1-run.log"
  docker rm -f "$name" >/dev/null 2>&1 || true
  echo "== $plat: container $name (log: $log)"
  local drop=()
  mapfile -t drop < <(missing_caps)
  # its own /var/lib/docker and OVS database on anonymous volumes, removed with the container (--rm)
  docker run -d --rm --name "$name" --hostname "matrix-$plat" \
    --cap-add ALL "${drop[@]}" --security-opt seccomp=unconfined --security-opt apparmor=unconfined \
    --cgroupns private --device /dev/net/tun -e container=docker \
    -v /var/lib/docker -v /var/lib/openvswitch -e CI=true -e MATRIX_SETUP_ONLY="$setup_only" \
    "labctl-matrix/$plat" bash -c "$INIT" >/dev/null
  local i
  for i in $(seq 1 50); do
    docker exec "$name" test -e /run/matrix-ready 2>/dev/null && break
    sleep 0.2
  done
  # the project as committed: HEAD, without node_modules (npm ci inside)
  docker exec "$name" mkdir -p /src
  git -C "$ROOT" archive --format=tar HEAD | docker exec -i "$name" tar -x -C /src
  set +e
  timeout 100m docker exec "$name" bash -c "$INNER" 2>&1 | tee "$log" |
    grep --line-buffered -E '^(== |MATRIX |tests: |host ready|datapath |error: |fix: )'
  local rc=${PIPESTATUS[0]}
  set -e
  docker stop -t 20 "$name" >/dev/null 2>&1 || true
  docker rm -f "$name" >/dev/null 2>&1 || true
  return "$rc"
}

# What the nested run must not change on the host: its bridges with their datapath types, the chassis keys, and
# the chassis registered in its SB (ports of other labs come and go meanwhile: not compared).
host_state() {
  ovs-vsctl --timeout=10 --columns=name,datapath_type list Bridge 2>&1 | sort
  ovs-vsctl --timeout=10 get Open_vSwitch . external_ids 2>&1
  ovn-sbctl --timeout=10 --columns=name,hostname list Chassis 2>&1 | sort
}

for plat in "${platforms[@]}"; do build_image "$plat"; done
if [ "$prepare_only" = 1 ]; then
  echo "images ready: ${platforms[*]/#/labctl-matrix/}"
  exit 0
fi

before=$(host_state)
for plat in "${platforms[@]}"; do
  run_platform "$plat" || true
done
after=$(host_state)

status=0
echo
echo "== summary ($(date -u +%Y-%m-%dT%H:%MZ); host: $(. /etc/os-release && echo "$PRETTY_NAME"), kernel $(uname -r))"
for plat in "${platforms[@]}"; do
  log="$CACHE/$plat-run.log"
  get() { grep -E "^MATRIX $1=" "$log" 2>/dev/null | tail -1 | sed -E "s/^MATRIX $1=//" || true; }
  echo "$plat: $(get os); node $(get node)"
  echo "  docker: $(get docker) [$(get docker_pkg)]"
  echo "  ovs: $(get ovs); ovn: $(get ovn)"
  echo "  datapath: $(get datapath); $(get kernel_module)"
  echo "  lab.sh: exit $(get lab_exit); doctor $(get doctor)"
  echo "  test.sh: exit $(get tests_exit); tests: $(get tests)"
  f=$(get failed_files)
  [ -z "$f" ] || echo "  failed files: $f"
  [ "$(get lab_exit)" = 0 ] && { [ "$setup_only" = 1 ] || [ "$(get tests_exit)" = 0 ]; } || status=1
done
if [ "$before" = "$after" ]; then
  echo "host OVS/OVN: bridges, chassis keys and SB chassis unchanged"
else
  echo "host OVS/OVN CHANGED:"
  diff <(echo "$before") <(echo "$after") || true
  status=1
fi
exit "$status"
