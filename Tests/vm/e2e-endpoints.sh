#!/usr/bin/env bash
# Endpoint changes end to end. An endpoint turning unready (conditions.ready
# false in its EndpointSlice) leaves IPVS within a second or two. An endpoint
# removed while a client holds a connection to it drains: weight 0 (no new
# connections), the held connection keeps flowing, and the destination is
# deleted once the connection has ended — or, for one that never ends, when
# ipvs.drainTimeout (changed by a reload to 8 s) has passed. `ballastctl
# services --output json` and `explain` report the ready and draining counts.
source "$(dirname "${BASH_SOURCE[0]}")/e2e-lib.sh"

e2e_segment
e2e_client
e2e_node n1 192.0.2.1/24
e2e_backend n1 b1 1 local
e2e_backend n1 b2 2 local
e2e_backend n1 b3 3 local

# endpoints ENDPOINT...: web (port 80 → the backends' greeting port 9000) with these endpoints.
endpoints() {
    {
        node_doc n1
        service_doc web 80 9000
        slice_doc web 9000 "$@"
    } | put web.yaml
}
endpoints 10.0.1.5@n1 10.0.2.5@n1 10.0.3.5@n1
# A drain timeout far longer than a closed connection takes to leave IPVS's
# table, so that the first drain can only end because its connection ended.
e2e_config n1 "ipvs: {drainTimeout: 90s, resyncInterval: 1s}"
e2e_start n1
vip=$(vip_of n1 web)
dest() { ipvs n1 | grep -- "-r $1:9000" || true; }
weight_zero() { [[ $(dest "$1") == *"-w 0"* ]]; }
gone() { [[ -z $(dest "$1") ]]; }
assert_contains "$(dest 10.0.3.5)" "-w 1"

# Unready: out of the table at once, by the sync the EndpointSlice change
# triggers (not a later resync); nothing to drain, no connection ever used it.
mark=$(wc -l < "$work/n1/ballastd.log")
start=$(now_ms)
endpoints 10.0.1.5@n1 10.0.2.5@n1 10.0.3.5@n1:unready
took=$(($(ipvs_watch n1 absent "$(hex_endpoint 10.0.3.5 9000)" 10) - start))
echo "unready endpoint removed from IPVS $took ms after the EndpointSlice changed"
# The first sync since that wrote to IPVS (its log line follows the write).
first_write() { grep -m 1 -E 'sync.ipvs_operations=[1-9]' <(tail -n "+$((mark + 1))" "$work/n1/ballastd.log"); }
wait_until 10 "the sync is logged" first_write
first_write=$(first_write)
[[ $first_write =~ sync\.reason=[a-z,]*source ]] || fail "the endpoint was not removed by the source-triggered sync: $first_write"
assert_eq "2 ready of 3, 2 in IPVS" "$(ctl n1 services --output json | json '
w = d["services"][0]
print(w["endpointsReady"], "ready of", w["endpointsTotal"], end=", ")
print(w["ipvsDestinations"], "in IPVS")')" "web in ballastctl services --output json"
assert_contains "$(ctl n1 explain e2e/web)" "Endpoints: 2 ready of 3;"

# Drain until the connection ends. The holder's is the first connection to
# either backend, so once it ends nothing else keeps its destination busy.
holder first "$vip"
held=$(held_by first)
[[ $held == 10.0.[12].5 ]] || fail "unexpected greeting: $(cat "$work/first.log")"
other=10.0.$((3 - ${held:5:1})).5
endpoints "$other@n1" 10.0.3.5@n1:unready
wait_until 10 "the removed endpoint is set to weight 0" weight_zero "$held"
ping_held first 2
# New connections avoid it.
for _ in 1 2 3; do
    assert_eq "b${other:5:1}" "$(greeting "$vip" 80)" "a new connection while $held drains"
done
text=$(ctl n1 explain e2e/web)
assert_contains "$text" "IPVS on this node has TCP $vip:80 with 2 destinations (1 draining at weight 0)."
await_syncs n1 3
assert_contains "$(dest "$held")" "-w 0" "still draining while the connection is open"
ping_held first 3
start=$(now_ms)
say first reset
await_log first 4
wait_until 40 "the drained destination is deleted once its connection has ended" gone "$held"
echo "drained destination deleted $(ms_since "$start") ms after its connection ended"

# Drain until the timeout: a connection that never ends, to one of two
# backends (b3, ready again, and the one left from above). The timeout
# comes from a reload.
drain=8
e2e_config n1 "ipvs: {drainTimeout: ${drain}s, resyncInterval: 1s}"
kill -HUP "${node_pid[n1]}"
wait_until 10 "the reload is applied" grep -q "configuration reloaded" "$work/n1/ballastd.log"
endpoints "$other@n1" 10.0.3.5@n1
wait_until 10 "b3 is back" prints "-r 10.0.3.5:9000 -m -w 1" ipvs n1
holder second "$vip"
held=$(held_by second)
case $held in
    "$other") left=10.0.3.5 ;;
    10.0.3.5) left=$other ;;
    *) fail "unexpected greeting: $(cat "$work/second.log")" ;;
esac
start=$(now_ms)
endpoints "$left@n1"
wait_until 10 "the removed endpoint is set to weight 0" weight_zero "$held"
ping_held second 2
wait_until 30 "the destination is deleted after the drain timeout" gone "$held"
took=$(ms_since "$start")
echo "destination with an open connection deleted after $took ms (drainTimeout ${drain}s)"
((took >= drain * 1000)) || fail "the drain ended after $took ms, before its timeout"
assert_contains "$(dest "$left")" "-w 1" "the remaining backend"
assert_eq "b${left:5:1}" "$(greeting "$vip" 80)" "new connections go to the remaining backend"
pass "unready endpoints leave IPVS at once; removed ones drain at weight 0 until idle or the drain timeout"
