#!/usr/bin/env bash
# Real traffic through IPVS masquerading: a client in its own namespace
# reaches two backends in two more namespaces through the VIP with curl, and
# round robin alternates between them. Then, with counters running:
# a no-op apply writes nothing and leaves every counter as it was, and a
# change of scheduler, persistence, weights and thresholds is made in place
# (the connection counters of the service and both destinations survive).
source "$(dirname "${BASH_SOURCE[0]}")/ipvs-lib.sh"
require_cmd curl socat

lb_topology "$(unique_name rcn-t)"
# Each backend answers a request with a one-line HTTP/1.0 page naming it
# (after reading the request, so closing does not reset the connection).
cat > "$work/respond.sh" <<'SH'
#!/bin/sh
cr=$(printf '\r')
while IFS= read -r line && [ "$line" != "$cr" ] && [ -n "$line" ]; do :; done
printf 'HTTP/1.0 200 OK\r\nContent-Length: 10\r\nConnection: close\r\n\r\nbackend %s\n' "$1"
SH
chmod +x "$work/respond.sh"
for n in 1 2; do
    ns=b$n
    ns_spawn "${!ns}" socat TCP-LISTEN:8080,bind="10.1.$n.2",fork,reuseaddr EXEC:"$work/respond.sh $n"
done
wait_for_port "$b1" 10.1.1.2 8080 30
wait_for_port "$b2" 10.1.2.2 8080 30

write_table() { # SCHEDULER WEIGHT1 EXTRA-SERVICE-KEYS
    cat > "$work/table.yaml" <<YAML
services:
  - address: 192.0.2.10
    port: 80
    scheduler: $1
$3
    destinations:
      - {address: 10.1.1.2, port: 8080, weight: $2}
      - {address: 10.1.2.2, port: 8080}
YAML
}
write_table rr 1 ""
out=$(ctl "$lb" ipvs apply "$work/table.yaml")
assert_contains "$out" "applied 3 writes (0 failed)"

seen=()
for _ in 1 2 3 4; do
    seen+=("$(ip netns exec "$client" curl -sS --max-time 10 http://192.0.2.10/)")
done
[[ ${seen[0]} != "${seen[1]}" && ${seen[0]} == "${seen[2]}" && ${seen[1]} == "${seen[3]}" ]] ||
    fail "round robin did not alternate: ${seen[*]}"
assert_contains "${seen[*]}" "backend 1"
assert_contains "${seen[*]}" "backend 2"

# The Conns column of --stats: the service line, then each destination.
conn_counts() { ip netns exec "$lb" ipvsadm -Ln --stats | awk '$1 == "TCP" || $1 == "->" { print $2, $3 }' | sort; }
# The kernel folds per-CPU counters into what it reports every 2 s: wait for the 4 connections.
deadline=$((SECONDS + 10))
until [[ $(conn_counts) == *"192.0.2.10:80 4"* ]]; do
    ((SECONDS < deadline)) || fail "the service never counted 4 connections: $(conn_counts)"
    sleep 0.5
done
before=$(conn_counts)
assert_contains "$before" "10.1.1.2:8080 2"
assert_contains "$before" "10.1.2.2:8080 2"
rules=$(ipvs_rules "$lb")

out=$(ctl "$lb" ipvs apply "$work/table.yaml")
assert_eq "applied 0 writes (0 failed), 0 draining, 0 conflicts, 1 dump" "$out" "no-op apply"
assert_eq "$before" "$(conn_counts)" "counters after a no-op apply"
assert_eq "$rules" "$(ipvs_rules "$lb")" "table after a no-op apply"

write_table wlc 5 "    persistence: {timeout: 120}"
sed -i 's/{address: 10.1.2.2, port: 8080}/{address: 10.1.2.2, port: 8080, upperThreshold: 50, lowerThreshold: 5}/' \
    "$work/table.yaml"
out=$(ctl "$lb" ipvs apply "$work/table.yaml")
assert_eq "edit service TCP 192.0.2.10:80: scheduler rr → wlc, persistence none → 120s/32
edit destination 10.1.1.2:8080 of TCP 192.0.2.10:80: weight 1 → 5
edit destination 10.1.2.2:8080 of TCP 192.0.2.10:80: upper threshold 0 → 50, lower threshold 0 → 5
applied 3 writes (0 failed), 0 draining, 0 conflicts, 1 dump" "$out" "edit in place"
assert_eq "$before" "$(conn_counts)" "counters after editing in place"
after=$(ipvs_rules "$lb")
assert_contains "$after" "-A -t 192.0.2.10:80 -s wlc -p 120"
assert_contains "$after" "-a -t 192.0.2.10:80 -r 10.1.1.2:8080 -m -w 5"
# ipvsadm -S leaves thresholds out; -L --thresholds shows them.
thresholds=$(ip netns exec "$lb" ipvsadm -Ln --thresholds | awk '$1 == "->" && $2 == "10.1.2.2:8080" { print $3, $4 }')
assert_eq "50 5" "$thresholds" "upper and lower threshold of 10.1.2.2:8080"

# Traffic still flows after the edits.
assert_contains "$(ip netns exec "$client" curl -sS --max-time 10 http://192.0.2.10/)" "backend"
