#!/usr/bin/env bash
# Real traffic through IPVS masquerading: a client in its own namespace
# reaches two backends in two more namespaces through the VIP with curl, and
# round robin alternates between them. Then, with counters running:
# a no-op apply writes nothing and leaves every counter as it was, and a
# change of scheduler, persistence, weights and thresholds is made in place
# (the connection counters of the service and both destinations survive).
source "$(dirname "${BASH_SOURCE[0]}")/ipvs-lib.sh"
require_cmd curl python3

lb_topology "$(unique_name rcn-t)"
for n in 1 2; do
    ns=b$n
    mkdir -p "$work/www$n"
    echo "backend $n" > "$work/www$n/index.html"
    ns_spawn "${!ns}" python3 -m http.server 8080 --bind "10.1.$n.2" --directory "$work/www$n"
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
assert_contains "$after" "-a -t 192.0.2.10:80 -r 10.1.2.2:8080 -m -w 1 -x 50 -y 5"

# Traffic still flows after the edits.
assert_contains "$(ip netns exec "$client" curl -sS --max-time 10 http://192.0.2.10/)" "backend"
