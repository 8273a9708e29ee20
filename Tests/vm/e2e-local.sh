#!/usr/bin/env bash
# Local traffic policy end to end, with two nodes on one segment, each
# running ballastd on the same manifests: only endpoints on the node itself
# are used (one on an unrelated node is ignored), the backend sees the
# client's own address (no source NAT), and only the node with a local
# endpoint announces the VIP: the client's ARP requests are answered by that
# node's MAC alone, and `ballastctl services` on both nodes says so.
source "$(dirname "${BASH_SOURCE[0]}")/e2e-lib.sh"

e2e_segment
e2e_client
e2e_node n1 192.0.2.1/24
e2e_node n2 192.0.2.2/24
# b1 runs on n1. b3 runs on n3 (no ballastd, no Node object); n1 can reach
# it, so if the Local policy were ignored n1 would send traffic there.
e2e_backend n1 b1 1 local
e2e_backend n1 b3 3 remote

{
    node_doc n1
    node_doc n2
    service_doc web 80 8080 Local
    slice_doc web 8080 10.0.1.5@n1 10.0.3.5@n3
} | put web.yaml

e2e_config n1
e2e_config n2
e2e_start n1
e2e_start n2
vip=$(vip_of n1 web)
assert_eq "$vip" "$(vip_of n2 web)" "both nodes agree on the address"

# n1 forwards to its own endpoint only; n2 programs the service without
# destinations and does not hold the VIP.
assert_contains "$(ipvs n1)" "-a -t $vip:80 -r 10.0.1.5:8080 -m -w 1"
assert_not_contains "$(ipvs n1)" "10.0.3.5" "the endpoint on n3 is not a destination of n1"
assert_contains "$(ipvs n2)" "-A -t $vip:80 -s rr"
assert_not_contains "$(ipvs n2)" "-a -t $vip:80" "n2 has no local endpoint"
assert_contains "$(ip -n "${node_ns[n1]}" -o addr show dev ballast0)" "$vip/32"
assert_not_contains "$(ip -n "${node_ns[n2]}" -o addr show dev ballast0 2>/dev/null)" "$vip/32" "n2 does not hold the VIP"
# Local policy keeps the client's address: no source NAT rule for it.
assert_not_contains "$(in_ns "${node_ns[n1]}" nft list ruleset)" "$vip" "no SNAT for a Local Service"

# ARP: every reply to the client's requests comes from n1's MAC.
n1_mac=$(ip -n "${node_ns[n1]}" -o link show eth0 | grep -o 'link/ether [0-9a-f:]*' | cut -d' ' -f2)
n2_mac=$(ip -n "${node_ns[n2]}" -o link show eth0 | grep -o 'link/ether [0-9a-f:]*' | cut -d' ' -f2)
macs=$(in_ns "$client" arping -r -c 3 -i eth0 "$vip" | sort -u) || fail "no ARP reply for $vip"
assert_eq "$n1_mac" "$macs" "ARP replies for $vip come from n1 ($n1_mac) only, never n2 ($n2_mac)"

# Traffic: every request reaches b1, which sees the client itself.
for _ in 1 2 3 4 5; do
    assert_eq "b1 192.0.2.100" "$(http "$vip")" "b1 answers and sees the client's address"
done

# What each node's ballastctl says.
row='^e2e +web +'$vip' +public +n1 +Local +2/2 +'
text=$(ctl n1 services)
grep -Eq "${row}1 *\$" <<< "$text" || fail "n1's ballastctl services: $text"
text=$(ctl n2 services)
grep -Eq "${row}0 +externalTrafficPolicy is Local and node n2 has no ready local endpoint; $vip is announced by n1\$" \
    <<< "$text" || fail "n2's ballastctl services: $text"
assert_contains "$(ctl n2 explain e2e/web)" "Node n1 announces $vip, not this node (n2)."
assert_contains "$(api n1 status)" '"announced":1,' "n1 announces one address"
assert_contains "$(api n2 status)" '"announced":0,' "n2 announces nothing"
pass "Local policy: local endpoints only, client address kept, only the node with a local endpoint answers ARP"
