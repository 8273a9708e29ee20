#!/usr/bin/env bash
# Draining the LAST endpoint of a Service keeps its connections too. When a
# Service's only pod shuts down (its endpoint turns terminating, still
# serving) or its endpoint is removed while a client holds a connection,
# nobody announces the address any more (no ready endpoint), but the
# connection must keep flowing at weight 0 until it ends, like any other
# drain: the VIP may leave ballast0 only once nothing drains through it.
# `ballastctl explain --output json` says so (unannounced, 1 draining).
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

e2e_config n1 "ipvs: {drainTimeout: 90s, resyncInterval: 1s}"
endpoints 10.0.1.5@n1
e2e_start n1
vip=$(vip_of n1 web)
# While nobody announces the VIP, the client reaches the node only through its
# neighbour cache; Linux lets an idle entry go stale after 15–45 s and then
# probes, which nobody answers any more (docs/operations.md, "Draining the
# last endpoint"). On a slow, emulated VM the steps below can take that long,
# so the client's entry is pinned: this test is about IPVS and the VIP, not
# the client's ARP cache.
node_mac=$(ip -n "${node_ns[n1]}" -o link show eth0 | grep -o 'link/ether [0-9a-f:]*' | cut -d' ' -f2)
ip -n "$client" neigh replace "$vip" lladdr "$node_mac" dev eth0 nud permanent

# The only pod shuts down: terminating but still serving.
holder first "$vip"
assert_eq "connected to b1" "$(cat "$work/first.log")"
endpoints 10.0.1.5@n1:terminating
wait_until 10 "the terminating endpoint is set to weight 0" weight_zero 10.0.1.5
await_syncs n1 2
vip_on_link || fail "the VIP left ballast0 while a connection drains through it (terminating endpoint)"
ping_held first 2
text=$(ctl n1 explain e2e/web --output json)
assert_contains "$text" "Endpoints: 0 ready, 1 draining of 1;"
assert_contains "$text" "No node announces $vip, so it is unreachable."
assert_contains "$text" "IPVS on this node has TCP $vip:80 with 1 destination (1 draining at weight 0)."
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
ping_held second 2
assert_contains "$(ctl n1 explain e2e/web)" "No node announces $vip"

# Once the connection has ended the destination goes, and the VIP with it.
say second reset
await_log second 3
wait_until 40 "the drained destination is deleted" gone 10.0.2.5
wait_until 10 "the VIP leaves ballast0 once nothing drains" not vip_on_link
pass "the last endpoint of a Service drains like any other: the VIP stays until its connections end"
