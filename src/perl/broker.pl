# The probe broker's launcher step (src/probe/launch.ts, docs/probes.md), run inside one node's network namespace:
#   perl broker.pl STEP... -- FINAL-COMMAND...
# It opens that node's sockets with close-on-exec off, appends the node's entry to LABCTL_MANIFEST, and execs
# `nsenter -t PID -n perl broker.pl` into the next step's netns, or the final command after the last step.
# Both grammars — STEP (what the client asks for) and the manifest entry (what this step opened) — are defined in
# src/probe/manifest.ts; test/unit/probe-perl.test.ts runs this script and parses its output with that module.
# Bounded: one pass per step, at most `tries` + 1 binds per listener.
use strict;
use warnings;
no warnings 'once';
$^F = 1 << 30;
our @KEEP;
# socket constants: Linux's generic values, passed in by the client; other ABIs load Socket (10 ms more per step)
my ($AF_INET, $STREAM, $DGRAM, $SOL, $REUSE, $AF_INET6, $SOL_IPV6, $V6ONLY) =
  split /,/, ($ENV{LABCTL_SOCKCONST} // '');
unless (defined $V6ONLY) {
  require Socket;
  ($AF_INET, $STREAM, $DGRAM, $SOL, $REUSE, $AF_INET6, $SOL_IPV6, $V6ONLY) =
    (Socket::AF_INET(), Socket::SOCK_STREAM(), Socket::SOCK_DGRAM(), Socket::SOL_SOCKET(), Socket::SO_REUSEADDR(),
     Socket::AF_INET6(), Socket::IPPROTO_IPV6(), Socket::IPV6_V6ONLY());
}
my $ICMPV6 = 58;    # IPPROTO_ICMPV6, a protocol number (the same on every ABI)
# sockaddr_in / sockaddr_in6 of the wildcard address
sub any4 { pack('S n a4 x8', $AF_INET, $_[0], "\0\0\0\0") }
sub any6 { pack('S n N a16 N', $AF_INET6, $_[0], 0, "\0" x 16, 0) }
# the doctor's ICMP identifier (its conntrack entries are then recognisable); 0 lets the kernel pick
my $ICMP_ID = $ENV{LABCTL_ICMP_ID} // 0;
sub errname { my $n = 0 + $!; for my $k (keys %!) { return $k if $!{$k} } return "E$n" }
my (@steps, @final);
my $i = 0;
while ($i < @ARGV && $ARGV[$i] ne '--') { push @steps, $ARGV[$i++] }
@final = @ARGV[$i + 1 .. $#ARGV];
die "broker.pl: no final command (usage: broker.pl STEP... -- COMMAND...)\n" unless @final;
die "broker.pl: no step\n" unless @steps;
my $step = shift @steps;
my ($node, $pid, $icmp, $nt, $nu, $ls, $icmp6, $nt6, $nu6, $dual) = split /\|/, $step, -1;
die "broker.pl: bad step '$step' (NODE|PID|ICMP|TCP|UDP|LISTENERS[|ICMP6|TCP6|UDP6|DUAL])\n"
  unless defined $nu && $pid =~ /^\d+$/;
my @out = ($node, $pid);
# datagram ICMP sockets (IPv4: protocol 1, IPv6: IPPROTO_ICMPV6), bound to the doctor's identifier when it is free
for my $spec (['i', $icmp, $AF_INET, 1, \&any4], ['I', $icmp6, $AF_INET6, $ICMPV6, \&any6]) {
  my ($tag, $want, $af, $proto, $any) = @$spec;
  next unless $want;
  my $s;
  if (socket($s, $af, $DGRAM, $proto)) {
    bind($s, $any->($ICMP_ID));
    push @KEEP, $s;
    push @out, "$tag:" . fileno($s);
  } else { push @out, "$tag!" . errname() }
}
for my $l (split /,/, ($ls // '')) {
  my ($p, $want, $tries) = $l =~ m{^(tcp|udp)/(\d+)\+(\d+)$} or next;
  my ($ok, $err);
  for my $k (0 .. $tries) {
    my $port = $want + $k;
    last if $port > 65535;
    my $s;
    # dual-stack: one AF_INET6 socket on :: with IPV6_V6ONLY off answers both families on one port; a kernel
    # without IPv6 (EAFNOSUPPORT) gets the IPv4 socket of an IPv4-only node
    my $v6 = $dual && socket($s, $AF_INET6, $p eq 'tcp' ? $STREAM : $DGRAM, 0);
    if ($v6) { setsockopt($s, $SOL_IPV6, $V6ONLY, pack('i', 0)) }
    elsif (!socket($s, $AF_INET, $p eq 'tcp' ? $STREAM : $DGRAM, 0)) { $err = errname(); last }
    setsockopt($s, $SOL, $REUSE, pack('i', 1)) if $p eq 'tcp';
    if (bind($s, $v6 ? any6($port) : any4($port)) && ($p ne 'tcp' || listen($s, 1024))) {
      push @KEEP, $s;
      push @out, "l$p" . ($v6 ? '6' : '') . "/$want:$port\@" . fileno($s);
      $ok = 1;
      last;
    }
    $err = errname();
    close $s;
    last unless $err eq 'EADDRINUSE';
  }
  push @out, "l$p/$want!" . ($err // 'EINVAL') unless $ok;
}
for my $spec (['t', $STREAM, $nt, $AF_INET], ['u', $DGRAM, $nu, $AF_INET], ['T', $STREAM, $nt6, $AF_INET6],
  ['U', $DGRAM, $nu6, $AF_INET6]) {
  my ($tag, $type, $n, $af) = @$spec;
  my (@fds, $err);
  for (1 .. ($n || 0)) {
    my $s;
    if (socket($s, $af, $type, 0)) { push @KEEP, $s; push @fds, fileno($s) }
    else { $err = errname(); last }
  }
  # consecutive descriptors as ranges ("5-40,43"): thousands of sockets stay a short entry
  my @r;
  for my $fd (@fds) { if (@r && $r[-1][1] == $fd - 1) { $r[-1][1] = $fd } else { push @r, [$fd, $fd] } }
  push @out, "$tag:" . join(',', map { $_->[0] == $_->[1] ? $_->[0] : "$_->[0]-$_->[1]" } @r) if @fds;
  push @out, "$tag!$err" if $err;
}
$ENV{LABCTL_MANIFEST} = join(' ', grep { length } ($ENV{LABCTL_MANIFEST} // ''), join('|', @out));
if (@steps) {
  my $next = (split /\|/, $steps[0])[1];
  exec 'nsenter', '-t', $next, '-n', $^X, $0, @steps, '--', @final;
  die "broker.pl: exec nsenter -t $next: $!\n";
}
exec { $final[0] } @final;
die "broker.pl: exec $final[0]: $!\n";
