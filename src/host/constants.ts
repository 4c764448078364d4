/** Paths, names and defaults of the embedded control plane (platform.md, docs/host.md). */

export const OVS_CTL = '/usr/share/openvswitch/scripts/ovs-ctl';
export const OVN_CTL = '/usr/share/ovn/scripts/ovn-ctl';
export const OVS_DB_FILE = '/etc/openvswitch/conf.db';
export const OVS_SYSTEM_ID_FILE = '/etc/openvswitch/system-id.conf';
/** ovs-vswitchd --pidfile's default: the daemon's pid (its monitor is the parent) */
export const VSWITCHD_PIDFILE = '/var/run/openvswitch/ovs-vswitchd.pid';

/** The southbound DB of the embedded central, as ovn-controller's ovn-remote names it. */
export const LOCAL_SB_REMOTE = 'unix:/var/run/ovn/ovnsb_db.sock';
export const LOCAL_NB_REMOTE = 'unix:/var/run/ovn/ovnnb_db.sock';

export const DEFAULT_BRIDGE = 'br-int';
export const DEFAULT_ENCAP_TYPE = 'geneve';
export const DEFAULT_ENCAP_IP = '127.0.0.1';

export const DOCKERD_LOG = '/var/log/labctl/dockerd.log';
export const DOCKER_PIDFILE = '/var/run/docker.pid';
export const SYSTEMD_MARKER = '/run/systemd/system';

/** Each probe's own bound (the tools' --timeout is one second less, so the tool reports before we kill it). */
export const PROBE_TIMEOUT_MS = 5000;
export const TOOL_TIMEOUT_S = 4;

/** The chassis keys on the Open_vSwitch row that make this host an OVN chassis. */
export const CHASSIS_KEYS = [
  'system-id',
  'ovn-remote',
  'ovn-encap-type',
  'ovn-encap-ip',
  'ovn-bridge-datapath-type',
] as const;
export type ChassisKey = (typeof CHASSIS_KEYS)[number];

/** Programs labctl runs (required) and programs some features use (optional). */
export const REQUIRED_TOOLS = [
  'ip',
  'ethtool',
  'nsenter',
  'ping',
  'ovs-vsctl',
  'ovs-appctl',
  'ovn-nbctl',
  'ovn-sbctl',
  'ovn-appctl',
] as const;
export const OPTIONAL_TOOLS = ['conntrack', 'tcpdump', 'debootstrap'] as const;

/**
 * The Docker engine `labctl host install` installs where the host has none (Debian's and Ubuntu's own package).
 * Any working Docker is accepted as it is: see DOCKER_ENGINE_PACKAGES.
 */
export const DOCKER_PACKAGE = 'docker.io';

/**
 * Packages that provide a Docker engine: the distribution's (docker.io), Docker's own repository (docker-ce, with
 * containerd.io, which conflicts with docker.io's containerd), Microsoft's/Fedora's moby-engine, and the old
 * docker-engine. When dpkg lists any of them, or a dockerd answers, host install leaves Docker alone.
 */
export const DOCKER_ENGINE_PACKAGES = ['docker.io', 'docker-ce', 'moby-engine', 'docker-engine'] as const;

/** Debian/Ubuntu packages `labctl host install` makes sure of (DOCKER_PACKAGE only where no Docker is present). */
export const HOST_PACKAGES = [
  DOCKER_PACKAGE,
  'openvswitch-switch',
  'ovn-central',
  'ovn-host',
  'ethtool',
  'iproute2',
  'iputils-ping',
  'conntrack',
  'tcpdump',
  'debootstrap',
  'util-linux',
  // the impairment relay (src/perl/relay.pl) needs Time::HiRes, which is in perl (libperl), not perl-base
  'perl',
] as const;

/** unix:/run/… and unix:/var/run/… name the same socket (/var/run is a symlink to /run). */
export function normalizeRemote(remote: string): string {
  return remote
    .split(',')
    .map((r) => r.trim().replace(/^unix:\/run\//, 'unix:/var/run/'))
    .join(',');
}

/** True when the southbound remote is this host's embedded central (so NB, SB and ovn-northd run here). */
export function isEmbeddedRemote(remote: string | undefined): boolean {
  return remote === undefined || normalizeRemote(remote) === LOCAL_SB_REMOTE;
}
