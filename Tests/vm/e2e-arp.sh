#!/usr/bin/env bash
# ARP end to end: the client's ARP request for the VIP is answered with the
# node's MAC, and only while the node announces it: deleting the Service's
# manifest withdraws the answer, restoring it brings it back (with a
# gratuitous ARP the client learns from). After SIGTERM the VIP stays on the
# dummy link but nobody answers for it, so a peer could take over.
source "$(dirname "${BASH_SOURCE[0]}")/e2e-lib.sh"

e2e_segment
e2e_client
e2e_node n1 192.0.2.1/24
e2e_backend n1 b1 1 local
{
    node_doc n1
    service_doc web 80
    slice_doc web 8080 10.0.1.5@n1
} | put web.yaml
e2e_config n1
e2e_start n1
vip=$(vip_of n1 web)
mac=$(ip -n "${node_ns[n1]}" -o link show eth0 | grep -o 'link/ether [0-9a-f:]*' | cut -d' ' -f2)

# arp_reply: the MAC of the first ARP reply for the VIP (nothing and status 1 without one).
arp_reply() { in_ns "$client" arping -r -c 1 -w 2 -i eth0 "$vip"; }
answered() { [[ $(arp_reply) == "$mac" ]]; }

assert_eq "$mac" "$(arp_reply)" "the VIP is answered with the node's MAC"
# The kernel stays quiet for the VIP (it sits on a NOARP dummy link and
# arp_ignore keeps other interfaces from answering for it): the answer is
# ballastd's own.
(($(in_ns "${node_ns[n1]}" sysctl -n net.ipv4.conf.eth0.arp_ignore) >= 1)) || fail "arp_ignore not set on eth0"
assert_eq "b1 192.0.2.100" "$(http "$vip")" "traffic to the VIP"

# Withdrawn: no answer any more.
mv "$manifests/web.yaml" "$work/web.yaml"
wait_until 10 "the VIP is withdrawn from ballast0" \
    not prints "$vip/32" ip -n "${node_ns[n1]}" -o addr show dev ballast0
for _ in 1 2 3; do
    arp_reply && fail "ARP for $vip answered after the Service was withdrawn"
done

# Restored: the takeover burst (gratuitous ARP) corrects a stale entry in
# the client's neighbour cache without the client asking; then requests are
# answered again. (Linux ignores ARP that would change an entry less than
# locktime, 1 s, after its last update: hence the pause.)
ip -n "$client" neigh flush dev eth0
ip -n "$client" neigh add "$vip" lladdr 02:00:00:00:00:01 dev eth0 nud stale
sleep 1.2
mv "$work/web.yaml" "$manifests/web.yaml"
wait_until 10 "the client learnt the VIP's MAC from the gratuitous ARP" \
    prints "lladdr $mac" ip -n "$client" neigh show "$vip"
wait_until 5 "ARP for $vip answered again" answered
assert_eq "b1 192.0.2.100" "$(http "$vip")" "traffic to the restored VIP"

# SIGTERM: announcing stops, the data plane stays.
e2e_stop n1
assert_contains "$(ip -n "${node_ns[n1]}" -o addr show dev ballast0)" "$vip/32" "the VIP stays on ballast0"
for _ in 1 2; do
    arp_reply && fail "ARP for $vip answered after ballastd stopped"
done
pass "the VIP is answered by the node's MAC exactly while it is announced"
