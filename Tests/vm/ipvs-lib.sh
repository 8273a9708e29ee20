# Shared by the Tests/vm/ipvs-*.sh scripts (sourced, not run: not executable).
#
#   source "$(dirname "${BASH_SOURCE[0]}")/ipvs-lib.sh"
#
# Brings in scripts/lib/netns.sh (cleanup on exit, assertions) and adds:
#   ipvs_ns NAME        a fresh namespace whose destinations 10.0.0.0/8 and
#                       2001:db8::/32 are routable (IPVS refuses others)
#   ctl NS ARGS...      ballastctl inside NS
#   ipvs_rules NS       `ipvsadm -Sn` inside NS, sorted (a stable snapshot)
#   lb_topology PREFIX  client ─ lb (VIP 192.0.2.10) ─ two backends, see below
#   conns NS EP         active connections of destination EP (ipvsadm -Ln)

source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib/netns.sh"

require_root
require_cmd ip ipvsadm

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BALLASTCTL=${BALLASTCTL:-$repo/.build/debug/ballastctl}
[[ -x $BALLASTCTL ]] || fail "no ballastctl at $BALLASTCTL (run swift build, or set BALLASTCTL)"

# A scratch directory removed on exit.
work=$(mktemp -d)
on_exit rm -rf "$work"

ipvs_ns() {
    local ns=$1
    netns_add "$ns"
    ip -n "$ns" link add rcnd type dummy
    ip -n "$ns" link set rcnd up
    ip -n "$ns" route add 10.0.0.0/8 dev rcnd
    ip -n "$ns" -6 route add 2001:db8::/32 dev rcnd
}

ctl() {
    local ns=$1
    shift
    ip netns exec "$ns" "$BALLASTCTL" "$@"
}

ipvs_rules() {
    ip netns exec "$1" ipvsadm -Sn | sort
}

# lb_topology PREFIX: namespaces PREFIX-c (client 198.51.100.2), PREFIX-lb
# (VIP 192.0.2.10 on a dummy link, forwarding on) and PREFIX-b1 / PREFIX-b2
# (backends 10.1.1.2 and 10.1.2.2, routed back through the lb so masquerade
# replies return through IPVS). Sets lb, client, b1, b2.
lb_topology() {
    local p=$1
    client=$p-c lb=$p-lb b1=$p-b1 b2=$p-b2
    netns_add "$lb"
    netns_add "$client"
    netns_add "$b1"
    netns_add "$b2"
    ip -n "$lb" link add vip0 type dummy
    ip -n "$lb" addr add 192.0.2.10/32 dev vip0
    ip -n "$lb" link set vip0 up
    ip netns exec "$lb" sysctl -qw net.ipv4.ip_forward=1
    veth_link "$lb" lbc 198.51.100.1/24 "$client" cl 198.51.100.2/24
    veth_link "$lb" lb1 10.1.1.1/24 "$b1" b1 10.1.1.2/24
    veth_link "$lb" lb2 10.1.2.1/24 "$b2" b2 10.1.2.2/24
    ip -n "$client" route add 192.0.2.0/24 via 198.51.100.1
    ip -n "$b1" route add default via 10.1.1.1
    ip -n "$b2" route add default via 10.1.2.1
}

# conns NS ENDPOINT [COLUMN]: ActiveConn (or InActConn with COLUMN=6) of the
# destination ENDPOINT ("10.1.1.2:8080") in `ipvsadm -Ln`; 0 when absent.
conns() {
    ip netns exec "$1" ipvsadm -Ln | awk -v ep="$2" -v col="${3:-5}" \
        '$1 == "->" && $2 == ep { print $col; found = 1 } END { if (!found) print 0 }'
}
