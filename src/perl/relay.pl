# labctl impairment relay (src/drivers/relay.ts documents argv and behaviour; docs/impairments.md).
use strict; use warnings;
use Time::HiRes qw(time);
use POSIX qw(EAGAIN EWOULDBLOCK EINTR ENOBUFS);
my ($lab, $da, $db, $pfile, $pidfile) = @ARGV;
$0 = "labctl-relay $lab $da $db";
my %p = (delay_ms => 0, jitter_ms => 0, loss_pct => 0, rate_bps => 0, direction => 'egress', limit => 1000);
my $hup = 1; my $stop = 0;
$SIG{HUP} = sub { $hup = 1 }; $SIG{TERM} = sub { $stop = 1 }; $SIG{INT} = sub { $stop = 1 };
sub readp {
  open(my $f, '<', $pfile) or do { warn "params $pfile: $!\n"; return };
  my %n = (delay_ms => 0, jitter_ms => 0, loss_pct => 0, rate_bps => 0, direction => 'egress', limit => 1000);
  while (<$f>) { chomp; $n{$1} = $2 if /^(\w+)=([0-9.]+|egress|both)$/ }
  close $f; %p = %n;
}
sub ifindex { my $d = shift; open(my $f, '<', "/sys/class/net/$d/ifindex") or return 0; my $i = <$f>; close $f; chomp $i; return $i + 0 }
sub opensock {
  my $d = shift; my $ix = ifindex($d) or die "no device $d\n";
  my $proto = unpack('S', pack('n', 3));
  socket(my $s, 17, 3, $proto) or die "socket: $!\n";
  setsockopt($s, 1, 33, pack('i', 4 << 20)) or setsockopt($s, 1, 8, pack('i', 4 << 20));
  setsockopt($s, 1, 7, pack('i', 4 << 20));
  bind($s, pack('S n i S C C a8', 17, 3, $ix, 0, 0, 0, '')) or die "bind $d: $!\n";
  setsockopt($s, 263, 23, pack('i', 1)) or die "PACKET_IGNORE_OUTGOING on $d: $!\n";
  setsockopt($s, 263, 1, pack('i S S a8', $ix, 1, 0, '')) or die "promiscuous $d: $!\n";
  return $s;
}
my $sa = opensock($da); my $sb = opensock($db);
{ open(my $f, '>', "$pidfile.tmp") or die "pidfile: $!\n"; print $f "$$\n"; close $f; rename("$pidfile.tmp", $pidfile) or die "pidfile: $!\n" }
# per direction: queue of [release, frame], the link busy-until time (rate) and counters
my %q = (e => [], i => []); my %busy = (e => 0, i => 0);
sub shaped { my $dir = shift; return $dir eq 'e' || $p{direction} eq 'both' }
sub enqueue {
  my ($dir, $frame, $now) = @_;
  if (!shaped($dir) || ($p{delay_ms} == 0 && $p{jitter_ms} == 0 && $p{loss_pct} == 0 && $p{rate_bps} == 0 && !@{$q{$dir}})) { return 0 }
  return 1 if $p{loss_pct} > 0 && rand(100) < $p{loss_pct};
  my $qq = $q{$dir};
  return 1 if @$qq >= $p{limit};
  my $t = $now + $p{delay_ms} / 1000;
  if ($p{jitter_ms} > 0) { $t += (rand(2) - 1) * $p{jitter_ms} / 1000; $t = $now if $t < $now }
  if ($p{rate_bps} > 0) {
    my $start = $t > $busy{$dir} ? $t : $busy{$dir};
    $t = $start + length($frame) * 8 / $p{rate_bps}; $busy{$dir} = $t;
  }
  if (!@$qq || $qq->[-1][0] <= $t) { push @$qq, [$t, $frame] }
  else { my ($lo, $hi) = (0, scalar @$qq); while ($lo < $hi) { my $m = ($lo + $hi) >> 1; if ($qq->[$m][0] <= $t) { $lo = $m + 1 } else { $hi = $m } } splice(@$qq, $lo, 0, [$t, $frame]) }
  return 1;
}
sub alive { return -e "/sys/class/net/$da" && -e "/sys/class/net/$db" }
my %out = (e => $sb, i => $sa);
my $rin = ''; vec($rin, fileno($sa), 1) = 1; vec($rin, fileno($sb), 1) = 1;
until ($stop) {
  if ($hup) { $hup = 0; readp() }
  my $now = time;
  for my $dir ('e', 'i') {
    my $qq = $q{$dir};
    while (@$qq && $qq->[0][0] <= $now) { my $x = shift @$qq; send($out{$dir}, $x->[1], 0) }
  }
  my $next;
  for my $dir ('e', 'i') { my $h = $q{$dir}[0]; $next = $h->[0] if $h && (!defined $next || $h->[0] < $next) }
  my $to = defined $next ? $next - time : 1; $to = 0 if $to < 0;
  my $n = select(my $rout = $rin, undef, undef, $to);
  next if $n <= 0;
  for my $pair ([$sa, 'e'], [$sb, 'i']) {
    my ($s, $dir) = @$pair;
    next unless vec($rout, fileno($s), 1);
    for (1 .. 256) {
      my $frame;
      my $r = recv($s, $frame, 65536, 0x40);
      if (!defined $r) {
        last if $! == EAGAIN || $! == EWOULDBLOCK || $! == EINTR;
        exit 0 unless alive();
        last;
      }
      next unless length $frame;
      send($out{$dir}, $frame, 0) unless enqueue($dir, $frame, time);
    }
  }
  exit 0 unless alive();
}
my $mine = ''; if (open(my $f, '<', $pidfile)) { $mine = <$f> // ''; close $f }
unlink $pidfile if $mine =~ /^$$\b/;
