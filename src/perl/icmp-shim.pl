# Local probe agent launcher, run inside a node's network namespace (src/probe/launch.ts):
#   perl icmp-shim.pl COMMAND...
# Opens a datagram ICMP ("ping") socket without close-on-exec, binds it to the doctor's identifier
# (LABCTL_ICMP_ID) when that is free (else the kernel picks one on the first send), exports its descriptor as
# LABCTL_ICMP_FD (its ICMPv6 twin: LABCTL_ICMP6_FD) and execs COMMAND. When the socket cannot be opened COMMAND still starts (the agent then uses
# ping) and LABCTL_ICMP_ERROR says why.
use strict;
use warnings;
no warnings 'once';
$^F = 1 << 30;
die "icmp-shim.pl: no command\n" unless @ARGV;
our $keep;
if (socket(my $s, 2, 2, 1)) {
  bind($s, pack('S n x12', 2, $ENV{LABCTL_ICMP_ID} // 0));
  $ENV{LABCTL_ICMP_FD} = fileno($s);
  $keep = $s;
} else {
  $ENV{LABCTL_ICMP_ERROR} = "$!";
}
# the IPv6 twin: socket(AF_INET6, SOCK_DGRAM, IPPROTO_ICMPV6), sockaddr_in6 of :: with the identifier as its port
our $keep6;
if (socket(my $s6, 10, 2, 58)) {
  bind($s6, pack('S n N a16 N', 10, $ENV{LABCTL_ICMP_ID} // 0, 0, "\0" x 16, 0));
  $ENV{LABCTL_ICMP6_FD} = fileno($s6);
  $keep6 = $s6;
} else {
  $ENV{LABCTL_ICMP6_ERROR} = "$!";
}
exec { $ARGV[0] } @ARGV;
die "icmp-shim.pl: exec $ARGV[0]: $!\n";
