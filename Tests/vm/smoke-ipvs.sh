#!/usr/bin/env bash
# Proves the kernel VM harness: IPVS is there, ipvsadm reads back what was
# programmed, and real TCP traffic to a virtual IP is NATed to a backend.
#
#   client ns ── veth ── node ns (VIP on dummy, IPVS masquerade) ── veth ── backend ns
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib/netns.sh"
require_root
require_cmd ipvsadm curl socat

# A service added in a fresh namespace is read back by an independent tool.
table=$(unique_name vm-tbl)
netns_add "$table"
in_ns "$table" ipvsadm -A -t 10.1.2.3:80 -s rr
in_ns "$table" ipvsadm -a -t 10.1.2.3:80 -r 127.0.0.1:8080 -m
assert_contains "$(in_ns "$table" ipvsadm -Sn)" "-A -t 10.1.2.3:80 -s rr"
assert_contains "$(in_ns "$table" ipvsadm -Sn)" "-a -t 10.1.2.3:80 -r 127.0.0.1:8080 -m -w 1"

# IPVS state is per namespace: the default one did not change.
assert_not_contains "$(ipvsadm -Sn)" "10.1.2.3:80"

client=$(unique_name vm-cl)
node=$(unique_name vm-node)
backend=$(unique_name vm-be)
netns_add "$client"
netns_add "$node"
netns_add "$backend"
veth_link "$client" eth0 10.90.1.2/24 "$node" to-client 10.90.1.1/24
veth_link "$node" to-backend 10.90.2.1/24 "$backend" eth0 10.90.2.2/24
ip -n "$client" route add default via 10.90.1.1
# The backend answers through the node, so IPVS can undo its NAT on replies.
ip -n "$backend" route add default via 10.90.2.1
in_ns "$node" sysctl -qw net.ipv4.ip_forward=1

# IPVS sees only packets to a local address: the VIP lives on a dummy link.
vip=10.90.100.1
ip -n "$node" link add vips type dummy
ip -n "$node" addr add "$vip/32" dev vips
ip -n "$node" link set vips up
in_ns "$node" ipvsadm -A -t "$vip:80" -s rr
in_ns "$node" ipvsadm -a -t "$vip:80" -r 10.90.2.2:8080 -m

marker="ballast-smoke-$$"
# A minimal HTTP/1.0 server (socat's address syntax reserves ':' and ',').
ns_spawn "$backend" socat TCP-LISTEN:8080,bind=10.90.2.2,reuseaddr,fork \
    SYSTEM:"echo HTTP/1.0 200 OK; echo; echo $marker"
wait_for_port "$backend" 10.90.2.2 8080

body=$(in_ns "$client" curl -sS --max-time 10 "http://$vip/")
assert_eq "$marker" "$body" "response through the VIP"

# The kernel folds its per-CPU counters into these totals every 2 s.
conns=0
for _ in $(seq 50); do
    stats=$(in_ns "$node" ipvsadm -Ln --stats -t "$vip:80")
    conns=$(awk '$2 == "10.90.2.2:8080" { print $3 }' <<< "$stats")
    ((conns >= 1)) && break
    sleep 0.1
done
((conns >= 1)) || fail "IPVS counted no connection to the backend: $stats"
echo "ok: IPVS table read back; client reached $vip:80 through masquerade to 10.90.2.2:8080"
