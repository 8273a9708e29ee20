#!/usr/bin/env bash
# Proves host root tests work: namespaces, a veth pair with addresses, and TCP
# between them.
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib/netns.sh"
require_root
require_cmd ip ping socat

a=$(unique_name smoke-a)
b=$(unique_name smoke-b)
netns_add "$a"
netns_add "$b"
veth_link "$a" eth0 10.91.0.1/24 "$b" eth0 10.91.0.2/24
veth_link "$a" eth1 fd00:91::1/64 "$b" eth1 fd00:91::2/64

# -w: keep pinging for up to 5 s until one reply. The first echo can be lost
# while the freshly raised veth pair settles (the neighbour solicitation goes
# out before the peer's link is up), and one lost packet is not a failure.
in_ns "$a" ping -c 1 -w 5 10.91.0.2 >/dev/null || fail "no IPv4 ping over veth"
in_ns "$a" ping -c 1 -w 5 fd00:91::2 >/dev/null || fail "no IPv6 ping over veth"

marker="ballast-smoke-$$"
ns_spawn "$b" socat TCP-LISTEN:9000,bind=10.91.0.2,reuseaddr,fork SYSTEM:"echo $marker"
wait_for_port "$a" 10.91.0.2 9000
reply=$(in_ns "$a" socat -T 5 - TCP:10.91.0.2:9000 </dev/null)
assert_eq "$marker" "$reply" "reply over TCP"

assert_not_contains "$(ip -o link show)" "$a" "the root namespace gained a link"
echo "ok: veth between namespaces carries ICMP (IPv4, IPv6) and TCP"
