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
my ($AF_INET, $STREAM, $DGRAM, $SOL, $REUSE) = split /,/, ($ENV{LABCTL_SOCKCONST} // '');
unless (defined $REUSE) {
  require Socket;
  ($AF_INET, $STREAM, $DGRAM, $SOL, $REUSE) =
    (Socket::AF_INET(), Socket::SOCK_STREAM(), Socket::SOCK_DGRAM(), Socket::SOL_SOCKET(), Socket::SO_REUSEADDR());
}
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
my ($node, $pid, $icmp, $nt, $nu, $ls) = split /\|/, $step, 6;
die "broker.pl: bad step '$step' (NODE|PID|ICMP|TCP|UDP|LISTENERS)\n" unless defined $nu && $pid =~ /^\d+$/;
my @out = ($node, $pid);
if ($icmp) {
  my $s;
  if (socket($s, $AF_INET, $DGRAM, 1)) {
    bind($s, pack('S n a4 x8', $AF_INET, $ICMP_ID, "\0\0\0\0"));
    push @KEEP, $s;
    push @out, 'i:' . fileno($s);
  } else { push @out, 'i!' . errname() }
}
for my $l (split /,/, ($ls // '')) {
  my ($p, $want, $tries) = $l =~ m{^(tcp|udp)/(\d+)\+(\d+)$} or next;
  my ($ok, $err);
  for my $k (0 .. $tries) {
    my $port = $want + $k;
    last if $port > 65535;
    my $s;
    unless (socket($s, $AF_INET, $p eq 'tcp' ? $STREAM : $DGRAM, 0)) { $err = errname(); last }
    setsockopt($s, $SOL, $REUSE, pack('i', 1)) if $p eq 'tcp';
    if (bind($s, pack('S n a4 x8', $AF_INET, $port, "\0\0\0\0")) && ($p ne 'tcp' || listen($s, 1024))) {
      push @KEEP, $s;
      push @out, "l$p/$want:$port\@" . fileno($s);
      $ok = 1;
      last;
    }
    $err = errname();
    close $s;
    last unless $err eq 'EADDRINUSE';
  }
  push @out, "l$p/$want!" . ($err // 'EINVAL') unless $ok;
}
for my $spec (['t', $STREAM, $nt], ['u', $DGRAM, $nu]) {
  my ($tag, $type, $n) = @$spec;
  my (@fds, $err);
  for (1 .. ($n || 0)) {
    my $s;
    if (socket($s, $AF_INET, $type, 0)) { push @KEEP, $s; push @fds, fileno($s) }
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
