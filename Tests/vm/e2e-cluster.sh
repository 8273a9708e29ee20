#!/usr/bin/env bash
# Cluster traffic policy end to end: a client's requests to the VIP reach
# every backend in turn (rr), backends on other nodes (no route back to the
# client) answer through the node's source NAT and see the node's address,
# the backend on this node sees the client's. sessionAffinity: ClientIP keeps
# a client on one backend (a persistent IPVS service). ballastctl's services
# (text and JSON), pools, explain (a Service without endpoints) and ipvs show.
source "$(dirname "${BASH_SOURCE[0]}")/e2e-lib.sh"

e2e_segment
e2e_client
e2e_node n1 192.0.2.1/24
# b1 runs on n1; b2 and b3 on nodes n2 and n3, which this node only reaches
# (their replies cannot go to the client directly: they have no route to it).
e2e_backend n1 b1 1 local
e2e_backend n1 b2 2 remote
e2e_backend n1 b3 3 remote

endpoints=(10.0.1.5@n1 10.0.2.5@n2 10.0.3.5@n3)
{
    node_doc n1
    service_doc web 80
    slice_doc web 8080 "${endpoints[@]}"
    service_doc sticky 81 8080 Cluster ClientIP
    slice_doc sticky 8080 "${endpoints[@]}"
    service_doc idle 82
} | put services.yaml

e2e_config n1
e2e_start n1

# Each Service's address, and web's row, from `ballastctl services --output json`.
read -r web sticky idle distinct web_row < <(ctl n1 services --output json | json '
by = {s["name"]: s for s in d["services"]}
w = by["web"]
print(*(by[n]["externalIPs"][0] for n in ("web", "sticky", "idle")),
      len({s["externalIPs"][0] for s in d["services"]}),
      ",".join(str(w[k]) for k in ("announcingNodes", "trafficPolicy", "endpointsReady", "endpointsTotal",
                                     "ipvsDestinations")))')
for a in "$web" "$sticky" "$idle"; do
    [[ $a == 192.0.2.1[0-9] || $a == 192.0.2.20 ]] || fail "address outside the pool: $a"
done
assert_eq 3 "$distinct" "three distinct addresses"
assert_eq "['n1'],Cluster,3,3,3" "$web_row" "web in services --output json"

# Round robin over all three; who sees which source address.
declare -A seen=()
for _ in 1 2 3 4 5 6; do
    reply=$(http "$web") || fail "request to $web:80 failed"
    read -r name peer <<< "$reply"
    seen[$name]=$((${seen[$name]:-0} + 1))
    case $name in
        b1) assert_eq 192.0.2.100 "$peer" "b1 (local endpoint) sees the client's address" ;;
        b2) assert_eq 10.0.2.1 "$peer" "b2 (another node) sees the node's address (SNAT)" ;;
        b3) assert_eq 10.0.3.1 "$peer" "b3 (another node) sees the node's address (SNAT)" ;;
        *) fail "unexpected reply: $reply" ;;
    esac
done
assert_eq "b1=2 b2=2 b3=2" "b1=${seen[b1]:-0} b2=${seen[b2]:-0} b3=${seen[b3]:-0}" "rr spreads 6 requests evenly"
assert_contains "$(ip -n "$client" neigh show "$web")" "lladdr" "the client resolved the VIP by ARP"

# sessionAffinity: ClientIP → one backend for all ten requests.
first=
for _ in $(seq 10); do
    reply=$(http "$sticky:81") || fail "request to $sticky:81 failed"
    name=${reply%% *}
    first=${first:-$name}
    assert_eq "$first" "$name" "every request of one client goes to the same backend"
done
rules=$(in_ns "${node_ns[n1]}" ipvsadm -Ln)
assert_contains "$rules" "TCP  $sticky:81 rr persistent 10800" "ipvsadm -Ln shows the sticky service persistent"
assert_not_contains "$(grep "$web:80" <<< "$rules")" "persistent" "web is not persistent"

# ballastctl services (text): one aligned row per Service.
text=$(ctl n1 services)
assert_contains "$text" "NAMESPACE   NAME     EXTERNAL-IP   POOL     ANNOUNCER   POLICY    READY   IPVS-DESTS   PROBLEM"
grep -Eq "^e2e +web +$web +public +n1 +Cluster +3/3 +3\$" <<< "$text" || fail "web's row in ballastctl services: $text"
grep -Eq "^e2e +idle +$idle +public +- +Cluster +0/0 +0 +no EndpointSlices for this Service\$" <<< "$text" ||
    fail "idle's row in ballastctl services: $text"

# ballastctl pools: 11 addresses, 3 in use.
text=$(ctl n1 pools)
grep -Eq '^public +IPv4 +11 +3 +8 +yes$' <<< "$text" || fail "ballastctl pools: $text"
assert_eq "public ipv4 11 3 8 True" "$(ctl n1 pools --output json | json '
print(*(d["pools"][0][k] for k in ("name", "family", "size", "inUse", "free", "autoAssign")))')"

# ballastctl explain: plain sentences for a Service without endpoints.
text=$(ctl n1 explain e2e/idle)
assert_contains "$text" "e2e/idle:"
assert_contains "$text" "  It has $idle from pool public."
assert_contains "$text" "  No node announces $idle, so it is unreachable."
assert_contains "$text" "  No EndpointSlices for this Service."
assert_contains "$text" "  IPVS on this node has TCP $idle:82 with 0 destinations."
assert_contains "$(ctl n1 explain e2e/web)" "This node (n1) announces $web."

# ballastctl ipvs show: the kernel's table, with the connections just made.
text=$(ctl n1 ipvs show)
assert_contains "$text" "IPVS table: 3 services, 6 destinations"
assert_contains "$text" "TCP  $sticky:81"
grep -Eq "^TCP  $sticky:81 +rr +persistent 10800s" <<< "$text" || fail "sticky in ipvs show: $text"
grep -Eq '^  -> 10\.0\.2\.5:8080 +masq +1 ' <<< "$text" || fail "b2 in ipvs show: $text"

# The status line sums it up.
text=$(ctl n1 status)
assert_contains "$text" "ballastd on n1: ok"
assert_contains "$text" "services    3 handled, 3 with an address, 2 addresses announced by this node"
assert_contains "$text" "ipvs        3 virtual services, 6 destinations"
pass "Cluster policy balances over local and remote backends with SNAT; ClientIP affinity; ballastctl views"
