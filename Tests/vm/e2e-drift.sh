#!/usr/bin/env bash
# Drift repair end to end (ipvs.resyncInterval 2s): whatever another tool
# breaks of Ballast's data plane — a deleted or edited IPVS service, a VIP
# removed from the dummy link, an SNAT set element deleted, the SNAT table
# flushed or deleted — is put
# back within one resync period and logged (its "sync finished" line names
# the repair), and traffic flows again. What is not Ballast's is never
# touched, through every repair: a foreign IPVS service (not in a pool, not
# on ballast0), addresses on other links, other nftables tables.
source "$(dirname "${BASH_SOURCE[0]}")/e2e-lib.sh"

resync=2
e2e_segment
e2e_client
e2e_node n1 192.0.2.1/24
e2e_backend n1 b1 1 local
e2e_backend n1 b2 2 remote
{
    node_doc n1
    service_doc web 80
    slice_doc web 8080 10.0.1.5@n1 10.0.2.5@n2
} | put web.yaml
e2e_config n1 "ipvs: {resyncInterval: ${resync}s}"
e2e_start n1 --log-level debug
node=${node_ns[n1]}
vip=$(vip_of n1 web)

# Someone else's virtual service, on an address Ballast does not own.
in_ns "$node" ipvsadm -A -t 10.0.1.1:22 -s wlc
in_ns "$node" ipvsadm -a -t 10.0.1.1:22 -r 10.0.1.5:22 -m -w 3
# Someone else's addresses: on another dummy link, and a second one on eth0.
ip -n "$node" link add keep0 type dummy
ip -n "$node" link set keep0 up
ip -n "$node" addr add 198.51.100.7/32 dev keep0
ip -n "$node" addr add 192.0.2.50/24 dev eth0
# Someone else's nftables tables: a filter with a counter, and a NAT table.
in_ns "$node" nft -f - <<'NFT'
table inet operator {
    chain input {
        type filter hook input priority 0; policy accept;
        tcp dport 22 counter accept
    }
}
table ip nat {
    chain postrouting {
        type nat hook postrouting priority srcnat; policy accept;
        ip saddr 10.9.0.0/16 oifname "eth0" masquerade
    }
}
NFT
foreign() {
    ipvs n1 | grep -- '10.0.1.1:22'
    ip -n "$node" -o addr show dev keep0
    ip -n "$node" -o addr show dev eth0
    in_ns "$node" nft -a list table inet operator
    in_ns "$node" nft -a list table ip nat
}
foreign_before=$(foreign)

table() { ipvs n1 | grep -v -- '10.0.1.1:22' | sort; }
snat() { in_ns "$node" nft list table inet ballast 2>/dev/null; }
vip_on_link() { prints " $vip/32 " ip -n "$node" -o addr show dev ballast0; }
table_before=$(table)
snat_before=$(snat)
assert_contains "$snat_before" "masquerade" "the SNAT table"
assert_contains "$snat_before" "$vip . 10.0.2.5" "the SNAT pair for the remote endpoint"
assert_contains "$snat_before" "$vip . tcp . 80" "the SNAT mark for the Service's port"
vip_on_link || fail "the VIP is not on ballast0"

# both_backends: both answer through the VIP (b2 only through source NAT).
both_backends() {
    local replies
    replies=$(for _ in 1 2; do http "$vip"; done | cut -d' ' -f1 | sort | tr '\n' ' ')
    assert_eq "b1 b2 " "$replies" "both backends answer through $vip"
}
both_backends

# repaired WHAT CHECK PATTERN: wait for CHECK to hold again and for the
# sync that repaired WHAT to be logged (PATTERN: its "sync finished" line).
# That must be the first resync after the damage (or the second, when one
# was already running): then the repair took at most one resync period.
# The log is at debug level, which lists every sync, also those that change nothing.
log_lines() { wc -l < "$work/n1/ballastd.log"; }
syncs_since_mark() { tail -n "+$((mark + 1))" "$work/n1/ballastd.log" | grep 'sync finished' || true; }
logged() { grep -Eq -- "$1" <(syncs_since_mark); }
repaired() {
    local what=$1 check=$2 pattern=$3 start nth before
    # Syncs that finished before the damaging command returned (under
    # emulation starting it takes a good part of a second) do not count.
    before=$(syncs_since_mark | wc -l)
    start=$(now_ms)
    wait_until $((resync * 3 + 10)) "$what is repaired" "$check"
    echo "$what repaired after $(ms_since "$start") ms"
    wait_until 10 "the repair of $what is logged" logged "$pattern"
    nth=$(grep -En -m 1 -- "$pattern" <(syncs_since_mark) | cut -d: -f1)
    ((nth <= before + 2)) || fail "$what was repaired by the ${nth}th sync after the damage, not the next resync: $(syncs_since_mark)"
}
same_table() { [[ $(table) == "$table_before" ]]; }
same_snat() { [[ $(snat) == "$snat_before" ]]; }

mark=$(log_lines)
in_ns "$node" ipvsadm -D -t "$vip:80"
repaired "the deleted virtual service" same_table 'sync.ipvs_operations=[1-9][0-9]* sync.reason=resync'
both_backends

mark=$(log_lines)
in_ns "$node" ipvsadm -e -t "$vip:80" -r 10.0.1.5:8080 -m -w 7
repaired "the edited destination weight" same_table 'sync.ipvs_operations=1 sync.reason=resync'

mark=$(log_lines)
ip -n "$node" addr del "$vip/32" dev ballast0
repaired "the deleted VIP" vip_on_link 'sync.reason=resync .*sync.vips_added=1'
both_backends

# One element deleted by hand: the resync reads the table, finds it short
# of one pair and adds it back (an element update, not a new table).
mark=$(log_lines)
in_ns "$node" nft delete element inet ballast masquerade4 "{ $vip . 10.0.2.5 }"
repaired "the deleted SNAT element" same_snat 'sync.reason=resync .*sync.snat_replaced=true'
both_backends

mark=$(log_lines)
in_ns "$node" nft flush table inet ballast
repaired "the flushed SNAT table" same_snat 'sync.reason=resync .*sync.snat_replaced=true'
both_backends

mark=$(log_lines)
in_ns "$node" nft delete table inet ballast
repaired "the deleted SNAT table" same_snat 'sync.reason=resync .*sync.snat_replaced=true'
both_backends

# Several resyncs later the foreign objects are exactly as they were (nft
# handles included: nothing was recreated).
assert_eq "$foreign_before" "$(foreign)" "the foreign virtual service, addresses and nftables tables are untouched"
assert_contains "$(ctl n1 status)" "ballastd on n1: ok"
text=$(ctl n1 explain e2e/web)
assert_contains "$text" "This node (n1) announces $vip."
assert_contains "$text" "IPVS on this node has TCP $vip:80 with 2 destinations."
pass "deleted/edited IPVS entries, a deleted VIP and a flushed or deleted SNAT table are repaired by the resync; foreign objects untouched"
