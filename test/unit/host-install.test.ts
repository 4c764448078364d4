/** labctl host install: which packages are missing, and which systems are apt-based — pure parts only. */
import { describe, expect, it } from 'vitest';
import { HOST_PACKAGES } from '../../src/host/constants.js';
import { installedFromDpkgQuery, missingPackages, osFamily } from '../../src/host/install.js';

describe('host install', () => {
  it('reads dpkg-query output: only "ii" counts as installed', () => {
    const out = ['docker.io\tii ', 'ovn-host\trc ', 'ethtool:amd64\tii ', 'tcpdump\tun ', ''].join('\n');
    const installed = installedFromDpkgQuery(out);
    expect([...installed].sort()).toEqual(['docker.io', 'ethtool']);
    expect(missingPackages(['docker.io', 'ovn-host', 'ethtool', 'tcpdump', 'conntrack'], installed)).toEqual([
      'ovn-host',
      'tcpdump',
      'conntrack',
    ]);
  });

  it('installs the packages the brief names, nothing when all are there', () => {
    expect([...HOST_PACKAGES]).toEqual(
      expect.arrayContaining([
        'docker.io',
        'openvswitch-switch',
        'ovn-central',
        'ovn-host',
        'debootstrap',
        'conntrack',
      ]),
    );
    expect(missingPackages(HOST_PACKAGES, new Set(HOST_PACKAGES))).toEqual([]);
  });

  it('recognizes Debian and Ubuntu (and derivatives) from /etc/os-release', () => {
    expect(osFamily('PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\n')).toEqual(['debian']);
    expect(osFamily('ID=ubuntu\nID_LIKE=debian\n')).toEqual(['ubuntu', 'debian']);
    expect(osFamily('ID=linuxmint\nID_LIKE="ubuntu debian"\n')).toEqual(['linuxmint', 'ubuntu', 'debian']);
    expect(osFamily('ID="fedora"\n')).toEqual(['fedora']);
  });
});
