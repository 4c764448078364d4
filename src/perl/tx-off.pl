# `ethtool -K DEV tx off` for many devices in one process (src/drivers/links.ts disableTxOffloads):
#   perl tx-off.pl DEV...
# Issues the SIOCETHTOOL ETHTOOL_STXCSUM request per device, which clears every tx checksum feature as ethtool's
# "tx" does (verified equal with `ethtool -k`). Linux UAPI values, the same on every architecture: SIOCETHTOOL
# 0x8946, ETHTOOL_STXCSUM 0x17; struct ifreq is the name[16] then the pointer to struct ethtool_value { cmd, data }.
use strict;
use warnings;
socket(my $s, 2, 2, 0) or die "socket: $!\n";
for my $dev (@ARGV) {
  my $ev = pack('LL', 0x17, 0);
  my $ifr = pack('Z16 P x16', $dev, $ev);
  ioctl($s, 0x8946, $ifr) or die "ethtool -K $dev tx off: $!\n";
}
