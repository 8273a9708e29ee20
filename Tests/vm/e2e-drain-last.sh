#!/usr/bin/env bash
# Draining the LAST endpoint of a Service keeps its connections too. When a
# Service's only pod shuts down (its endpoint turns terminating, still
# serving) or its endpoint is removed while a client holds a connection,
# nobody announces the address any more (no ready endpoint), but the
# connection must keep flowing at weight 0 until it ends, like any other
# drain: the VIP may leave ballast0 only once nothing drains through it.
# Meanwhile the node keeps answering ARP for the VIP (replies only, no
# gratuitous ARP): a client whose neighbour entry expires re-resolves it and
# its connection carries on. `ballastctl explain` says so (unannounced,
# answered while 1 destination drains).
source "$(dirname "${BASH_SOURCE[0]}")/e2e-lib.sh"

e2e_segment
e2e_client
e2e_node n1 192.0.2.1/24
e2e_backend n1 b1 1 local
e2e_backend n1 b2 2 local
endpoints() {
    {
        node_doc n1
        service_doc web 80 9000
        slice_doc web 9000 "$@"
    } | put web.yaml
}
dest() { ipvs n1 | grep -- "-r $1:9000" || true; }
weight_zero() { [[ $(dest "$1") == *"-w 0"* ]]; }
gone() { [[ -z $(dest "$1") ]]; }
vip_on_link() { prints " $vip/32 " ip -n "${node_ns[n1]}" -o addr show dev ballast0; }
# The MAC of the first ARP reply for the VIP (nothing and status 1 without one).
arp_reply() { in_ns "$client" arping -r -c 1 -w 2 -i eth0 "$vip"; }
gratuitous_sent() { metrics n1 | sed -n 's/^ballast_l2_gratuitous_sent_total{interface="eth0"} //p'; }
# forget_and_ping NAME LINE: the client forgets the VIP's MAC, as when its
# neighbour entry expires, and sends on the held connection: it must ask
# again, and get the node's MAC.
forget_and_ping() {
    ip -n "$client" neigh del "$vip" dev eth0 2>/dev/null || true
    assert_not_contains "$(ip -n "$client" neigh show "$vip")" "lladdr" "the client still knows the VIP's MAC"
    ping_held "$1" "$2"
    assert_contains "$(ip -n "$client" neigh show "$vip")" "lladdr $node_mac" "the client re-resolved the VIP"
}

e2e_config n1 "ipvs: {drainTimeout: 90s, resyncInterval: 1s}"
endpoints 10.0.1.5@n1
e2e_start n1
vip=$(vip_of n1 web)
node_mac=$(ip -n "${node_ns[n1]}" -o link show eth0 | grep -o 'link/ether [0-9a-f:]*' | cut -d' ' -f2)

# The only pod shuts down: terminating but still serving.
holder first "$vip"
assert_eq "connected to b1" "$(cat "$work/first.log")"
endpoints 10.0.1.5@n1:terminating
wait_until 10 "the terminating endpoint is set to weight 0" weight_zero 10.0.1.5
await_syncs n1 2
vip_on_link || fail "the VIP left ballast0 while a connection drains through it (terminating endpoint)"
garps=$(gratuitous_sent)
forget_and_ping first 2
assert_eq "$garps" "$(gratuitous_sent)" "gratuitous ARP sent for a VIP kept only while it drains"
text=$(ctl n1 explain e2e/web --output json)
assert_contains "$text" "Endpoints: 0 ready, 1 draining of 1;"
assert_contains "$text" "No node announces $vip, but this node (n1) keeps answering ARP/NDP for it while connections drain through it"
assert_contains "$text" "IPVS on this node has TCP $vip:80 with 1 destination (1 draining at weight 0)."
assert_contains "$(ctl n1 status)" "0 addresses announced by this node, 1 answering ARP while connections drain"
assert_contains "$(ctl n1 services)" " draining "
say first reset
await_log first 3

# A new pod replaces it; the old one disappears from the slice while a client
# still holds a connection to the new one, which is then removed too.
endpoints 10.0.2.5@n1
wait_until 30 "the old endpoint is deleted once idle" gone 10.0.1.5
holder second "$vip"
assert_eq "connected to b2" "$(cat "$work/second.log")"
endpoints
wait_until 10 "the removed endpoint is set to weight 0" weight_zero 10.0.2.5
await_syncs n1 2
vip_on_link || fail "the VIP left ballast0 while a connection drains through it (removed endpoint)"
forget_and_ping second 2
assert_contains "$(ctl n1 explain e2e/web)" "No node announces $vip, but this node (n1) keeps answering"

# Once the connection has ended the destination goes, and the VIP with it.
say second reset
await_log second 3
wait_until 40 "the drained destination is deleted" gone 10.0.2.5
wait_until 10 "the VIP leaves ballast0 once nothing drains" not vip_on_link
for _ in 1 2; do
    arp_reply && fail "ARP for $vip answered after the drain ended"
done
assert_not_contains "$(ctl n1 status)" "answering ARP"
pass "the last endpoint of a Service drains like any other: the VIP stays, answered, until its connections end"
