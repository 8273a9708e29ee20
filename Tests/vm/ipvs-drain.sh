#!/usr/bin/env bash
# Graceful removal: a client holds a TCP connection through the VIP to one
# backend; that backend is removed from the file. apply sets it to weight 0
# (the held connection keeps working, new connections go to the other
# backend) and leaves it draining; once the client closes, `apply --wait`
# deletes it as soon as it is idle. A second drain that never becomes idle
# ends at --drain-timeout.
source "$(dirname "${BASH_SOURCE[0]}")/ipvs-lib.sh"
require_cmd perl socat

lb_topology "$(unique_name rcn-d)"
# Each backend greets with its name, then echoes.
ns_spawn "$b1" socat TCP-LISTEN:8080,bind=10.1.1.2,fork,reuseaddr SYSTEM:'echo b1; exec cat'
ns_spawn "$b2" socat TCP-LISTEN:8080,bind=10.1.2.2,fork,reuseaddr SYSTEM:'echo b2; exec cat'
wait_for_port "$b1" 10.1.1.2 8080 30
wait_for_port "$b2" 10.1.2.2 8080 30

table() { # the backends to keep, as "1 2", "2", ...
    {
        echo "services:"
        echo "  - address: 192.0.2.10"
        echo "    port: 80"
        echo "    destinations:"
        for n in "$@"; do echo "      - {address: 10.1.$n.2, port: 8080}"; done
        (($#)) || echo "      []"
    } > "$work/table.yaml"
}

# A client that holds one connection and obeys commands written to a FIFO:
# "ping" (send a line, expect it echoed) and "reset" (close with RST, so the
# kernel forgets the connection after IPVS's 10 s CLOSE timeout instead of
# two minutes of TIME_WAIT). Perl, because it starts fast under emulation.
cat > "$work/holder.pl" <<'PL'
use strict;
use warnings;
use IO::Socket::INET;
use Socket qw(SOL_SOCKET SO_LINGER);
my ($fifo, $log) = @ARGV;
sub note { open(my $f, '>>', $log) or die "$log: $!"; print $f "$_[0]\n"; close $f }
my $s = IO::Socket::INET->new(PeerAddr => '192.0.2.10', PeerPort => 80, Proto => 'tcp', Timeout => 10)
    or die "connect: $!";
$s->autoflush(1);
chomp(my $greeting = <$s>);
note("connected to $greeting");
while (1) {
    open(my $commands, '<', $fifo) or die "$fifo: $!";
    while (my $command = <$commands>) {
        chomp $command;
        if ($command eq 'ping') {
            print $s "ping\n";
            chomp(my $reply = <$s>);
            note("reply $reply");
        } elsif ($command eq 'reset') {
            setsockopt($s, SOL_SOCKET, SO_LINGER, pack('ii', 1, 0)) or die "SO_LINGER: $!";
            close $s;
            note('reset');
            exit 0;
        }
    }
    close $commands;
}
PL
# FIFOs need a local file system (the VM's /tmp is the host's, over 9p).
fifos=$(mktemp -d /dev/shm/rcn-drain.XXXXXX)
on_exit rm -rf "$fifos"
# holder NAME: start a holder; its log is $work/NAME.log, its FIFO $fifos/NAME.
holder() {
    mkfifo "$fifos/$1"
    : > "$work/$1.log"
    ns_spawn "$client" perl "$work/holder.pl" "$fifos/$1" "$work/$1.log"
    await_log "$1" 1
}
# await_log NAME LINES: wait until the holder's log has LINES lines.
await_log() { await_lines "$work/$1.log" "$2"; }
say() { echo "$2" > "$fifos/$1"; }
greeting() { ip netns exec "$client" socat -T5 - TCP:192.0.2.10:80 </dev/null | head -n1; }

table 1 2
ctl "$lb" ipvs apply "$work/table.yaml" >/dev/null

holder first
held=$(sed -n 's/^connected to b//p' "$work/first.log")
[[ $held == 1 || $held == 2 ]] || fail "unexpected greeting: $(cat "$work/first.log")"
other=$((3 - held))
assert_eq 1 "$(conns "$lb" "10.1.$held.2:8080")" "active connections of the held backend"

# Remove the held backend: it drains at weight 0.
table "$other"
out=$(ctl "$lb" ipvs apply "$work/table.yaml")
assert_contains "$out" "edit destination 10.1.$held.2:8080 of TCP 192.0.2.10:80: weight → 0, draining 1 connection"
assert_contains "$out" "draining 10.1.$held.2:8080 of TCP 192.0.2.10:80: 1 connection (1 active, 0 inactive, 0 persistent)"
assert_contains "$out" "applied 1 write (0 failed), 1 draining"
assert_contains "$(ipvs_rules "$lb")" "-r 10.1.$held.2:8080 -m -w 0"

# The held connection still works; new connections avoid the draining backend.
say first ping
await_log first 2
assert_eq "reply ping" "$(sed -n 2p "$work/first.log")" "echo through the draining destination"
for _ in 1 2 3; do
    assert_eq "b$other" "$(greeting)" "a new connection while b$held drains"
done

# Without memory between runs, a weight-0 destination with connections is
# still draining: another apply writes nothing and keeps it.
out=$(ctl "$lb" ipvs apply "$work/table.yaml")
assert_contains "$out" "applied 0 writes (0 failed), 1 draining"

# The client closes (RST: the kernel forgets the connection ~10 s later);
# --wait deletes the destination once it is idle, long before the timeout.
say first reset
await_log first 3
start=$SECONDS
out=$(ctl "$lb" ipvs apply "$work/table.yaml" --wait --drain-timeout 200)
assert_contains "$out" "delete destination 10.1.$held.2:8080 from TCP 192.0.2.10:80: drained, idle"
assert_contains "$out" "0 draining"
((SECONDS - start < 150)) || fail "--wait took $((SECONDS - start)) s for an idle destination"
assert_not_contains "$(ipvs_rules "$lb")" "10.1.$held.2:8080"

# A connection that never closes: --drain-timeout ends the drain.
holder second
assert_eq "connected to b$other" "$(cat "$work/second.log")" "the only backend left"
table
start=$SECONDS
out=$(ctl "$lb" ipvs apply "$work/table.yaml" --wait --drain-timeout 3)
assert_contains "$out" "waiting for 1 draining destinations (at most 3s)"
assert_contains "$out" "delete destination 10.1.$other.2:8080 from TCP 192.0.2.10:80: drain timeout after"
# Besides the held one, the short connections above linger in TIME_WAIT.
assert_contains "$out" "connections (1 active,"
assert_contains "$out" "connections dropped"
((SECONDS - start >= 3)) || fail "the drain ended before its timeout"
assert_not_contains "$(ipvs_rules "$lb")" "-r 10.1."
assert_contains "$(ipvs_rules "$lb")" "-A -t 192.0.2.10:80 -s rr"
