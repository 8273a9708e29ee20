#!/usr/bin/env bash
# The real ballastd end to end, in the kernel VM (IPVS is not in the host's
# kernel; run on the host, this script re-runs itself in the VM):
#
#   client ns ── veth ── node ns: ballastd (VIP on ballast0, IPVS, ARP) ── veth ── backend ns
#
# The daemon runs unprivileged but for CAP_NET_ADMIN and CAP_NET_RAW, as its
# systemd unit runs it. A Service in a manifest directory gets an address from
# the pool, IPVS and the VIP are programmed, the node answers ARP for it and a
# client reaches the backend through it. Then: the status API's views,
# /metrics, a rejected and an accepted SIGHUP reload, a manifest deletion,
# SIGTERM leaving the data plane in place, a restart that keeps the address
# and writes nothing, and `ballastd cleanup`.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
bin=$repo/.build/debug

if [[ -z ${BALLAST_IN_VM:-} ]]; then
    (cd "$repo" && swift build --product ballastd >/dev/null)
    # Under scripts/test's 300 s limit per script, so a hang reports here.
    exec "$repo/scripts/kernel-vm/run" --timeout 280 -- "$0" "$@"
fi

source "$repo/scripts/lib/netns.sh"
require_root
require_cmd ipvsadm curl socat nft ip setpriv

# /run is a tmpfs in the VM; the 9p share (/tmp and the rest) cannot hold Unix sockets.
work=$(mktemp -d /run/daemon-e2e.XXXXXX)
on_exit rm -rf "$work"
# BALLAST_E2E_LOG=FILE keeps the daemon's log (the work directory goes away).
[[ -z ${BALLAST_E2E_LOG:-} ]] || on_exit cp "$work/ballastd.log" "$BALLAST_E2E_LOG"
node=$(unique_name bd-node)
client=$(unique_name bd-cl)
backend=$(unique_name bd-be)
netns_add "$node"
netns_add "$client"
netns_add "$backend"
veth_link "$client" eth0 192.0.2.100/24 "$node" eth0 192.0.2.1/24
veth_link "$node" to-backend 10.0.0.1/24 "$backend" eth0 10.0.0.5/24
ip -n "$backend" route add default via 10.0.0.1

mkdir -p "$work/services" "$work/state" "$work/run"
# As under systemd (DynamicUser, two ambient capabilities): an unprivileged
# user holding only CAP_NET_ADMIN and CAP_NET_RAW, owning only its state and
# runtime directories.
chmod 0755 "$work"
chown 65534:65534 "$work/state" "$work/run"
unprivileged=(setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=+net_admin,+net_raw
              --ambient-caps=+net_admin,+net_raw --bounding-set=-all,+net_admin,+net_raw)
# A tiny HTTP server: it reads the request's headers before answering, since
# closing a socket with unread data sends a reset instead of the reply.
cat > "$work/reply.sh" <<'SH'
cr=$(printf '\r')
while IFS= read -r line; do
    case $line in "$cr" | "") break ;; esac
done
printf 'HTTP/1.0 200 OK\r\nContent-Length: 19\r\n\r\nhello from backend\n'
SH
ns_spawn "$backend" socat TCP-LISTEN:8080,bind=10.0.0.5,reuseaddr,fork SYSTEM:"sh $work/reply.sh"
wait_for_port "$backend" 10.0.0.5 8080
write_config() {
    cat > "$work/ballast.yaml" <<YAML
source:
  files:
    directory: $work/services
nodeName: n1
stateDirectory: $work/state
statusSocket: $work/run/ballastd.sock
metricsAddress: 127.0.0.1:9734
ipvs:
  scheduler: ${1:-rr}
pools:
  - name: public
    addresses: [192.0.2.10-192.0.2.20]
YAML
}
write_config rr
cat > "$work/services/web.yaml" <<'YAML'
apiVersion: v1
kind: Node
metadata: {name: n1}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  type: LoadBalancer
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: web-1
  namespace: shop
  labels: {kubernetes.io/service-name: web}
addressType: IPv4
ports: [{name: http, port: 8080}]
endpoints:
  - addresses: [10.0.0.5]
    conditions: {ready: true}
    nodeName: n1
YAML
"$bin/ballastd" --check-config "$work/ballast.yaml" >/dev/null || fail "the test configuration is invalid"

# api REQUEST: the status API's raw JSON answer (what ballastctl renders; its
# text output and its client are unit-tested). socat rather than ballastctl:
# Swift programs start slowly in the emulated VM.
api() { printf '{"request":"%s"}\n' "$1" | socat -t 10 - "UNIX-CONNECT:$work/run/ballastd.sock"; }
healthy() { api status 2>/dev/null | grep -q '"health":"ok"'; }
pid=
start_daemon() {
    # Not through in_ns: a shell function in the background is a subshell, and
    # $! must be ballastd itself (ip netns exec execs it) to send it signals.
    ip netns exec "$node" "${unprivileged[@]}" "$bin/ballastd" --config "$work/ballast.yaml" >>"$work/ballastd.log" 2>&1 &
    pid=$!
    on_exit kill "$pid"
    local deadline=$((SECONDS + 60))
    until healthy; do
        ((SECONDS < deadline)) || { cat "$work/ballastd.log" >&2; fail "ballastd did not become healthy"; }
        kill -0 "$pid" 2>/dev/null || { cat "$work/ballastd.log" >&2; fail "ballastd exited"; }
        sleep 0.5
    done
}
not() { ! "$@"; }
# wait_until SECONDS DESCRIPTION CMD...: poll CMD (a function is fine) until it succeeds.
wait_until() {
    local seconds=$1 what=$2 deadline
    shift 2
    deadline=$((SECONDS + seconds))
    until "$@" >/dev/null 2>&1; do
        ((SECONDS < deadline)) || { tail -n 40 "$work/ballastd.log" >&2; fail "timed out: $what"; }
        sleep 0.5
    done
}
dump() { in_ns "$node" ipvsadm -Sn; }

t0=$SECONDS
start_daemon
echo "ballastd healthy after $((SECONDS - t0)) s"

# Address, IPVS table, VIP and status views.
services=$(api services)
for field in '"namespace":"shop"' '"externalIPs":["192.0.2.10"]' '"pool":"public"' '"announcingNodes":["n1"]' \
             '"endpointsReady":1' '"ipvsDestinations":1'; do
    assert_contains "$services" "$field" "services answer"
done
assert_contains "$(dump)" "-A -t 192.0.2.10:80 -s rr"
assert_contains "$(dump)" "-a -t 192.0.2.10:80 -r 10.0.0.5:8080 -m -w 1"
assert_contains "$(ip -n "$node" -o addr show dev ballast0)" "192.0.2.10/32"
assert_contains "$(printf '{"request":"explain","service":"shop/web"}\n' | socat -t 10 - "UNIX-CONNECT:$work/run/ballastd.sock")" \
    "This node (n1) announces 192.0.2.10."
assert_contains "$(api pools)" '"free":10,"inUse":1,"name":"public","size":11'
assert_contains "$(api ipvs)" '"owner":"shop/web"'

# A client on the segment resolves the VIP by ARP and reaches the backend.
reply=$(in_ns "$client" curl -sS --max-time 10 http://192.0.2.10/)
assert_eq "hello from backend" "$reply" "reply through the VIP"
assert_contains "$(ip -n "$client" neigh show 192.0.2.10)" "lladdr" "the client learnt the VIP's MAC by ARP"

metrics=$(in_ns "$node" curl -sS --max-time 5 http://127.0.0.1:9734/metrics)
assert_contains "$metrics" "ballast_services_allocated 1"
assert_contains "$metrics" 'ballast_pool_addresses_in_use{pool="public",family="ipv4"} 1'
assert_contains "$metrics" "ballast_config_stale 0"

# A broken reload is rejected; the running configuration stays.
echo "pools: [oops" > "$work/ballast.yaml"
kill -HUP "$pid"
config_stale() { api status | grep -q '"state":"stale"'; }
wait_until 20 "status shows the configuration stale" config_stale
assert_contains "$(in_ns "$node" curl -sS http://127.0.0.1:9734/metrics)" "ballast_config_stale 1"
assert_contains "$(dump)" "-A -t 192.0.2.10:80 -s rr" "the table survives a rejected reload"

# A good reload applies (scheduler rr → wlc, edited in place).
write_config wlc
kill -HUP "$pid"
scheduler_is_wlc() { dump | grep -q '192.0.2.10:80 -s wlc'; }
wait_until 20 "scheduler changed to wlc" scheduler_is_wlc
assert_contains "$(api status)" '"state":"current"'

# Deleting the manifest withdraws the Service: IPVS entry and VIP go.
mv "$work/services/web.yaml" "$work/web.yaml"
service_present() { dump | grep -q '192.0.2.10:80'; }
vip_present() { ip -n "$node" -o addr show dev ballast0 | grep -q '192.0.2.10/32'; }
wait_until 20 "virtual service withdrawn" not service_present
wait_until 10 "VIP removed" not vip_present
mv "$work/web.yaml" "$work/services/web.yaml"
wait_until 20 "virtual service back" service_present

# SIGTERM: the daemon exits; IPVS, VIP and SNAT table stay in place.
kill -TERM "$pid"
wait "$pid" || fail "ballastd exited with status $? on SIGTERM"
assert_contains "$(dump)" "-A -t 192.0.2.10:80" "the data plane stays after SIGTERM"
assert_contains "$(ip -n "$node" -o addr show dev ballast0)" "192.0.2.10/32"
assert_contains "$(cat "$work/state/assignments.json")" '"192.0.2.10"'
[[ ! -e $work/run/ballastd.sock ]] || fail "the status socket was left behind"

# A restart keeps the address (from the state file) and rewrites nothing.
start_daemon
assert_contains "$(api services)" '"externalIPs":["192.0.2.10"]'
metrics=$(in_ns "$node" curl -sS --max-time 5 http://127.0.0.1:9734/metrics)
for op in add_service edit_service delete_service add_destination edit_destination delete_destination; do
    assert_contains "$metrics" "ballast_ipvs_operations_total{op=\"$op\"} 0" "a restart wrote nothing to IPVS"
done
kill -TERM "$pid"
wait "$pid" || true

# cleanup removes exactly what is Ballast's.
in_ns "$node" ipvsadm -A -t 10.0.0.1:22 -s rr   # someone else's service
in_ns "$node" "${unprivileged[@]}" "$bin/ballastd" cleanup --config "$work/ballast.yaml" > "$work/cleanup.out"
assert_contains "$(cat "$work/cleanup.out")" "deleted 1 IPVS virtual service"
assert_not_contains "$(dump)" "192.0.2.10"
assert_contains "$(dump)" "-A -t 10.0.0.1:22" "cleanup kept a service that is not Ballast's"
ip -n "$node" link show ballast0 >/dev/null 2>&1 && fail "the VIP link is still there"
in_ns "$node" nft list table inet ballast >/dev/null 2>&1 && fail "the SNAT table is still there"
echo "ok: ballastd serves a Service end to end, reloads, withdraws, stops, restarts and cleans up"
