# Shared by the Tests/vm/e2e-*.sh scripts (sourced, not run: not executable).
# End-to-end tests of ballastd with real traffic, inside the kernel VM.
#
#   source "$(dirname "${BASH_SOURCE[0]}")/e2e-lib.sh"
#
# The network every script builds from these pieces:
#
#   client 192.0.2.100 ─┐                      ┌─ 10.0.1.1 ─ backend b1 10.0.1.5
#                       ├─ bridge (segment) ─ node n1 ballastd ─ 10.0.2.1 ─ backend b2 10.0.2.5
#   [node n2 192.0.2.2 ─┘       192.0.2.0/24   192.0.2.1 (VIPs on ballast0)
#
# Pool "public" is 192.0.2.10-192.0.2.20. A backend "local" to n1 routes back
# through it (a pod on that node); a "remote" one has no default route, like a
# pod on another node whose replies would never return through n1 unless n1
# source-NATs. Each backend answers HTTP on :8080 with "NAME PEER-ADDRESS",
# and on :9000 greets with its NAME, then echoes lines.
#
# Brings in scripts/lib/netns.sh (cleanup on exit, assertions) and adds:
#   e2e_segment                    the bridge namespace; sets $segment
#   e2e_host NS ADDR/LEN           a namespace on the segment (eth0)
#   e2e_client                     e2e_host for the client; sets $client
#   e2e_node NAME ADDR/LEN         e2e_host for a node; sets node_ns[NAME]
#   e2e_backend NODE NAME N local|remote   backend 10.0.N.5 behind NODE
#   e2e_config NODE [YAML...]      NODE's ballast.yaml (extra top-level YAML lines)
#   e2e_start NODE [OPT...] / e2e_stop NODE [SIGNAL]  run ballastd in NODE's namespace
#   api NODE REQUEST [SERVICE]     the status API's raw JSON answer
#   ctl NODE ARGS...               ballastctl against NODE's daemon
#   put FILE                       stdin → manifest FILE, atomically
#   node_doc / service_doc / slice_doc   manifest documents (see each)
#   http / greeting                one request from the client to VIP:PORT
#   holder NAME VIP [PORT] / say / ping_held / held_by   a client holding a connection
#   wait_until SECONDS WHAT CMD... poll CMD until it succeeds
#   await_syncs NODE N             wait until NODE's daemon finished N more syncs
#   prints TEXT CMD...             whether CMD's output contains TEXT
#   now_ms / ms_since / ipvs_watch a stopwatch, and precise waits on IPVS
#   pass MESSAGE                   the script's last line (logs are shown unless reached)

source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib/netns.sh"

require_root
require_cmd ip ipvsadm nft curl socat python3 arping perl

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BALLASTD=${BALLASTD:-$repo/.build/debug/ballastd}
BALLASTCTL=${BALLASTCTL:-$repo/.build/debug/ballastctl}
[[ -x $BALLASTD && -x $BALLASTCTL ]] || fail "ballastd or ballastctl not built in $repo/.build/debug (swift build)"

# /run is a tmpfs in the VM; the 9p share (/tmp and the rest) cannot hold
# Unix sockets or FIFOs.
work=$(mktemp -d /run/e2e.XXXXXX)
on_exit rm -rf "$work"
manifests=$work/services
mkdir -p "$manifests"
vip_pool="192.0.2.10-192.0.2.20"

# Cleanup output goes to /dev/null; a copy of stderr still reaches the log of
# the run, for the daemons' logs when the script did not pass.
exec {e2e_stderr}>&2
_e2e_passed= _e2e_logs_on_exit=
declare -A node_ns=() node_pid=()
_e2e_show_logs() {
    [[ -z $_e2e_passed ]] || return 0
    local name
    for name in "${!node_ns[@]}"; do
        {
            echo "--- IPVS of $name, with its connections"
            ip netns exec "${node_ns[$name]}" ipvsadm -Ln
            ip netns exec "${node_ns[$name]}" ipvsadm -Lnc
            echo "--- last lines of $name's ballastd.log"
            tail -n 60 "$work/$name/ballastd.log"
        } >&"$e2e_stderr" 2>&1
    done
}
# BALLAST_E2E_LOGS=DIR keeps every daemon's log there.
[[ -z ${BALLAST_E2E_LOGS:-} ]] || on_exit bash -c 'mkdir -p "$1" && for d in "$2"/*/; do
    [[ -f $d/ballastd.log ]] && cp "$d/ballastd.log" "$1/$(basename "$3")-$(basename "$d").log"; done' _ \
    "$BALLAST_E2E_LOGS" "$work" "$0"

pass() {
    _e2e_passed=1
    echo "ok ($SECONDS s): $*"
}

# MARK: - Network

e2e_segment() {
    segment=$(unique_name e2e-seg)
    netns_add "$segment"
    ip -n "$segment" link add br0 type bridge
    ip -n "$segment" link set br0 up
    _e2e_ports=0
}

# e2e_host NS ADDR/LEN: NS joined to the segment's bridge through its eth0.
e2e_host() {
    local ns=$1 addr=$2 port
    port=p$((_e2e_ports += 1))
    netns_add "$ns"
    veth_link "$ns" eth0 "$addr" "$segment" "$port" -
    ip -n "$segment" link set "$port" master br0
}

e2e_client() {
    client=$(unique_name e2e-cl)
    e2e_host "$client" 192.0.2.100/24
}

# e2e_node NAME ADDR/LEN: the namespace of node NAME (also its nodeName).
e2e_node() {
    local name=$1 ns
    ns=$(unique_name "e2e-$name-")
    node_ns[$name]=$ns
    e2e_host "$ns" "$2"
    mkdir -p "$work/$name/state"
}

# e2e_backend NODE NAME N local|remote: backend NAME at 10.0.N.5 in its own
# namespace, linked to NODE's namespace (10.0.N.1, link "be-NAME"). "local"
# routes everything back through NODE; "remote" knows only its own link.
e2e_backend() {
    local node=${node_ns[$1]} name=$2 n=$3 kind=$4 ns
    ns=$(unique_name "e2e-$name-")
    backend_ns[$name]=$ns
    netns_add "$ns"
    veth_link "$node" "be-$name" "10.0.$n.1/24" "$ns" eth0 "10.0.$n.5/24"
    [[ $kind == remote ]] || ip -n "$ns" route add default via "10.0.$n.1"
    ns_spawn "$ns" socat "TCP-LISTEN:8080,bind=10.0.$n.5,reuseaddr,fork" SYSTEM:"sh $work/http.sh $name"
    ns_spawn "$ns" socat "TCP-LISTEN:9000,bind=10.0.$n.5,reuseaddr,fork" SYSTEM:"echo $name; exec cat"
    wait_for_port "$ns" "10.0.$n.5" 8080 30
    wait_for_port "$ns" "10.0.$n.5" 9000 30
}
declare -A backend_ns=()

# The backends' HTTP reply: read the request's headers first (closing a
# socket with unread data sends a reset instead of the reply). socat sets
# SOCAT_PEERADDR: the address the backend sees the connection come from.
cat > "$work/http.sh" <<'SH'
cr=$(printf '\r')
while IFS= read -r line; do
    case $line in "$cr" | "") break ;; esac
done
body="$1 $SOCAT_PEERADDR"
printf 'HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n%s\n' $((${#body} + 1)) "$body"
SH

# http VIP[:PORT]: one request from the client; prints "NAME PEER-ADDRESS".
http() {
    in_ns "$client" curl -sS --max-time 5 "http://$1/"
}

# greeting VIP PORT: connect from the client, print the backend's greeting line.
greeting() {
    in_ns "$client" socat -T5 - "TCP:$1:$2" </dev/null | head -n1
}

# MARK: - Held connections

# A client that holds one connection through the VIP and obeys commands
# written to a FIFO: "ping" (send a line, log the echo) and "reset" (close
# with RST, so IPVS forgets the connection after its 10 s CLOSE timeout
# rather than two minutes of TIME_WAIT). Perl: it starts fast under emulation.
cat > "$work/holder.pl" <<'PL'
use strict;
use warnings;
use IO::Select;
use IO::Socket::INET;
use Socket qw(SOL_SOCKET SO_LINGER);
my ($vip, $port, $fifo, $log) = @ARGV;
sub note { open(my $f, '>>', $log) or die "$log: $!"; print $f "$_[0]\n"; close $f }
$SIG{__DIE__} = sub { note("died: $_[0]") };
my $s = IO::Socket::INET->new(PeerAddr => $vip, PeerPort => $port, Proto => 'tcp', Timeout => 10)
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
            my $reply = IO::Select->new($s)->can_read(5) ? <$s> : undef;
            note(defined $reply ? "reply $reply" =~ s/\n//r : 'no reply');
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
# holder NAME VIP [PORT]: start a holder connected to VIP:PORT (80) and wait
# for its greeting; its log is $work/NAME.log.
holder() {
    mkfifo "$work/$1.fifo"
    : > "$work/$1.log"
    ns_spawn "$client" perl "$work/holder.pl" "$2" "${3:-80}" "$work/$1.fifo" "$work/$1.log"
    await_log "$1" 1
}
# await_log NAME LINES: wait until the holder's log has LINES lines.
await_log() { await_lines "$work/$1.log" "$2"; }
say() { echo "$2" > "$work/$1.fifo"; }
ping_held() { # NAME LINE: one ping on the held connection, expect an echo
    say "$1" ping
    await_log "$1" "$2"
    assert_eq "reply ping" "$(sed -n "$2p" "$work/$1.log")" "the held connection still carries data"
}
# The address of the backend a holder is connected to.
held_by() { sed -n 's/^connected to b\([0-9]\)$/10.0.\1.5/p' "$work/$1.log"; }

# MARK: - ballastd

# e2e_config NODE [LINE...]: NODE's configuration; extra lines are appended
# verbatim (top-level keys, e.g. "ipvs: {resyncInterval: 2s}").
e2e_config() {
    local name=$1 dir=$work/$1
    shift
    {
        cat <<YAML
source:
  files:
    directory: $manifests
nodeName: $name
stateDirectory: $dir/state
statusSocket: $dir/ballastd.sock
metricsAddress: 127.0.0.1:9734
pools:
  - name: public
    addresses: [$vip_pool]
YAML
        printf '%s\n' "$@"
    } > "$dir/ballast.yaml"
    "$BALLASTD" --check-config "$dir/ballast.yaml" >/dev/null || fail "the configuration of $name is invalid"
}

# e2e_start NODE [OPTION...]: start NODE's ballastd (with these extra
# options) and wait for its first sync.
e2e_start() {
    local name=$1 deadline pid
    shift
    # Not through in_ns: $! must be ballastd itself (ip netns exec execs it)
    # to send it signals.
    ip netns exec "${node_ns[$name]}" "$BALLASTD" --config "$work/$name/ballast.yaml" "$@" \
        >>"$work/$name/ballastd.log" 2>&1 &
    pid=$!
    node_pid[$name]=$pid
    on_exit kill -9 "$pid"
    # Once, and after the namespaces: cleanups run newest first.
    [[ -n $_e2e_logs_on_exit ]] || { on_exit _e2e_show_logs; _e2e_logs_on_exit=1; }
    deadline=$((SECONDS + 60))
    until [[ $(api "$name" status 2>/dev/null) =~ \"health\":\"(ok|degraded)\" ]]; do
        kill -0 "$pid" 2>/dev/null || fail "ballastd of $name exited"
        ((SECONDS < deadline)) || fail "ballastd of $name did not finish its first sync in 60 s"
        sleep 0.3
    done
}

# e2e_stop NODE [SIGNAL]: stop NODE's ballastd (SIGTERM: it must exit 0).
e2e_stop() {
    local name=$1 signal=${2:-TERM} pid=${node_pid[$1]} status=0
    kill "-$signal" "$pid"
    # (Quietly: bash reports a job killed by a signal on the wait's stderr.)
    wait "$pid" 2>/dev/null || status=$?
    if [[ $signal == TERM ]]; then
        assert_eq 0 "$status" "exit status of ballastd of $name on SIGTERM"
    fi
}

# api NODE REQUEST [SERVICE]: the status API's JSON answer, straight from the
# socket (quicker than ballastctl, whose start is slow under emulation).
api() {
    local request
    if [[ -n ${3:-} ]]; then
        request=$(printf '{"request":"%s","service":"%s"}' "$2" "$3")
    else
        request=$(printf '{"request":"%s"}' "$2")
    fi
    echo "$request" | socat -t 10 - "UNIX-CONNECT:$work/$1/ballastd.sock"
}

# ctl NODE ARGS...: ballastctl talking to NODE's daemon; `ctl NODE ipvs ...`
# reads the kernel in NODE's namespace instead.
ctl() {
    local name=$1
    shift
    if [[ $1 == ipvs ]]; then # the kernel's table, read directly
        ip netns exec "${node_ns[$name]}" "$BALLASTCTL" "$@"
    else
        ip netns exec "${node_ns[$name]}" "$BALLASTCTL" "$@" --socket "$work/$name/ballastd.sock"
    fi
}

# json CODE: run Python CODE with the JSON on stdin as d (CODE prints).
# /usr/bin/python3 itself, isolated and without site packages: a python3
# found first on PATH may be a wrapper script, and every file Python opens
# at start costs time over 9p under emulation.
json() {
    local python=/usr/bin/python3
    [[ -x $python ]] || python=$(command -v python3)
    "$python" -I -S -c 'import json, sys; d = json.load(sys.stdin); exec(sys.argv[1])' "$1"
}

# vip_of NODE SERVICE: the first address of SERVICE (namespace e2e), as NODE's
# daemon reports it. (The API's keys are sorted and a Service's row holds no
# nested object, so its address comes shortly before its name.)
vip_of() {
    local text re="\"externalIPs\":\\[\"([0-9.]+)\"[^{}]*\"name\":\"$2\",\"namespace\":\"e2e\""
    text=$(api "$1" services)
    [[ $text =~ $re ]] || fail "no address for $2 in: $text"
    echo "${BASH_REMATCH[1]}"
}

# metrics NODE: NODE's /metrics.
metrics() {
    in_ns "${node_ns[$1]}" curl -sS --max-time 5 http://127.0.0.1:9734/metrics
}

# ipvs NODE: `ipvsadm -Sn` in NODE's namespace.
ipvs() {
    in_ns "${node_ns[$1]}" ipvsadm -Sn
}

# MARK: - Manifests

# put FILE: write stdin to the manifest FILE in one rename (a half-written
# file would be read, rejected and reported).
put() {
    cat > "$manifests/.$1.tmp"
    mv "$manifests/.$1.tmp" "$manifests/$1"
}

# node_doc NAME: a Node that is Ready.
node_doc() {
    printf -- '---\napiVersion: v1\nkind: Node\nmetadata: {name: %s}\n' "$1"
}

# service_doc NAME PORT [TARGET-PORT [POLICY [AFFINITY]]]: a LoadBalancer
# Service in namespace e2e. AFFINITY "ClientIP" turns on session affinity.
service_doc() {
    local name=$1 port=$2 target=${3:-8080} policy=${4:-Cluster} affinity=${5:-None}
    cat <<YAML
---
apiVersion: v1
kind: Service
metadata: {name: $name, namespace: e2e}
spec:
  type: LoadBalancer
  externalTrafficPolicy: $policy
  sessionAffinity: $affinity
  ports: [{name: p, port: $port, targetPort: $target}]
YAML
}

# slice_doc SERVICE PORT ENDPOINT...: an EndpointSlice of SERVICE, whose
# endpoints are ADDRESS@NODE, ADDRESS@NODE:unready for a not-ready one, or
# ADDRESS@NODE:terminating for a terminating one that still serves (a pod
# shutting down).
slice_doc() {
    local service=$1 port=$2 endpoint address node conditions
    shift 2
    cat <<YAML
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: $service-1
  namespace: e2e
  labels: {kubernetes.io/service-name: $service}
addressType: IPv4
ports: [{name: p, port: $port}]
endpoints:
YAML
    (($#)) || echo "  []"
    for endpoint; do
        address=${endpoint%@*} node=${endpoint#*@} conditions="ready: true"
        case $node in
            *:unready) conditions="ready: false" ;;
            *:terminating) conditions="ready: false, serving: true, terminating: true" ;;
        esac
        echo "  - {addresses: [$address], conditions: {$conditions}, nodeName: ${node%:*}}"
    done
}

# MARK: - Waiting

not() { ! "$@"; }

# prints TEXT CMD...: whether CMD's output contains TEXT (for wait_until,
# which runs CMD again on every poll).
prints() {
    local text=$1
    shift
    [[ $("$@" 2>/dev/null) == *"$text"* ]]
}

# wait_until SECONDS WHAT CMD...: poll CMD (a function is fine) every 0.2 s
# until it succeeds; fail naming WHAT after SECONDS.
wait_until() {
    local seconds=$1 what=$2 deadline
    shift 2
    deadline=$((SECONDS + seconds))
    until "$@" >/dev/null 2>&1; do
        ((SECONDS < deadline)) || fail "timed out after $seconds s: $what"
        sleep 0.2
    done
}

# await_syncs NODE N: wait until NODE's daemon has finished at least N syncs
# after this call, for checks that something does NOT change: "N resyncs
# went by and it is still so" rather than a guessed sleep. Counts changes of
# lastSync.at in the status API; a sync missed between two polls only makes
# the wait longer. Needs a short ipvs.resyncInterval to be quick.
await_syncs() {
    local name=$1 n=$2 seen=0 last at deadline=$((SECONDS + 60)) re='"lastSync":\{"at":"?([^,"]+)'
    [[ $(api "$name" status) =~ $re ]] || fail "no sync of $name in its status"
    last=${BASH_REMATCH[1]}
    while ((seen < n)); do
        ((SECONDS < deadline)) || fail "$name finished $seen of $n syncs in 60 s"
        sleep 0.2
        [[ $(api "$name" status) =~ $re ]] && at=${BASH_REMATCH[1]} || continue
        [[ $at == "$last" ]] || { last=$at; ((seen += 1)); }
    done
}

# now_ms; ms_since START: a stopwatch in milliseconds (no process started:
# under emulation starting one takes a good part of a second).
now_ms() {
    local t=${EPOCHREALTIME/[.,]/}
    echo $((t / 1000))
}
ms_since() { echo $(($(now_ms) - $1)); }

# ipvs_watch NODE absent|present TEXT SECONDS: wait until TEXT is absent from
# (or present in) NODE's /proc/net/ip_vs, reading it every 20 ms from one
# shell that starts no processes, so the moment is seen precisely; prints
# that moment (now_ms), or fails after SECONDS. The file writes addresses and
# ports in hex: see hex_endpoint.
ipvs_watch() {
    local ns=${node_ns[$1]} want=$2 text=$3 seconds=$4 at
    at=$(ip netns exec "$ns" bash -c '
        want=$1 text=$2 deadline=$((${EPOCHREALTIME%[.,]*} + $3))
        exec {pause}<> <(:)
        while :; do
            table=$(< /proc/net/ip_vs)
            [[ $want == absent && $table != *"$text"* || $want == present && $table == *"$text"* ]] && break
            ((${EPOCHREALTIME%[.,]*} < deadline)) || exit 1
            read -t 0.02 -u "$pause" || true
        done
        t=${EPOCHREALTIME/[.,]/}
        echo $((t / 1000))' _ "$want" "$text" "$seconds") ||
        fail "timed out after $seconds s: $text still ${want/absent/present}${want/present/absent} in /proc/net/ip_vs"
    echo "$at"
}

# hex_endpoint ADDRESS PORT: how /proc/net/ip_vs writes ADDRESS:PORT (IPv4).
hex_endpoint() {
    local IFS=.
    # shellcheck disable=SC2086 # split the address on dots
    printf '%02X%02X%02X%02X:%04X\n' $1 "$2"
}
