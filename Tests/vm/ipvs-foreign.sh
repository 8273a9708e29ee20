#!/usr/bin/env bash
# Services outside the owned range (added with ipvsadm, as kube-proxy or an
# operator would) are never touched by apply, whether ownership comes from
# the file, from --owned or from the file's owns section; a file that names
# a foreign service reports a conflict and leaves it alone.
source "$(dirname "${BASH_SOURCE[0]}")/ipvs-lib.sh"

ns=$(unique_name rcn-o)
ipvs_ns "$ns"
ip netns exec "$ns" ipvsadm -R <<'RULES'
-A -t 203.0.113.5:80 -s sh
-a -t 203.0.113.5:80 -r 10.9.0.1:80 -m -w 7
-A -u 192.0.2.77:53 -s rr
-a -u 192.0.2.77:53 -r 10.9.0.2:53 -m -w 1
-A -f 99 -s wlc
-a -f 99 -r 10.9.0.3:0 -g -w 1
RULES
foreign=$(ipvs_rules "$ns")

cat > "$work/table.yaml" <<'YAML'
services:
  - address: 192.0.2.10
    port: 80
    destinations: [{address: 10.0.0.1}]
YAML
out=$(ctl "$ns" ipvs apply "$work/table.yaml")
assert_contains "$out" "applied 2 writes (0 failed)"
rules=$(ipvs_rules "$ns")
assert_eq "$foreign" "$(grep -v 192.0.2.10 <<< "$rules")" "foreign services after apply"

# An empty table with the default ownership owns nothing: nothing is deleted.
printf 'services: []\n' > "$work/empty.yaml"
out=$(ctl "$ns" ipvs apply "$work/empty.yaml")
assert_contains "$out" "applied 0 writes"
assert_eq "$rules" "$(ipvs_rules "$ns")" "table after applying an empty file"

# Owning 192.0.2.0/28 deletes our service but not 192.0.2.77 (outside it)
# nor 203.0.113.5 nor fwmark 99.
out=$(ctl "$ns" ipvs apply "$work/empty.yaml" --owned 192.0.2.0/28)
assert_contains "$out" "delete service TCP 192.0.2.10:80: not desired"
assert_contains "$out" "applied 1 write (0 failed)"
assert_eq "$foreign" "$(ipvs_rules "$ns")" "foreign services after deleting ours"

# A file that names a foreign service while not owning it: a conflict, exit
# status 1, and the foreign service is unchanged.
cat > "$work/claim.yaml" <<'YAML'
services:
  - {address: 203.0.113.5, port: 80, scheduler: rr, destinations: [{address: 10.0.0.1}]}
YAML
status=0
out=$(ctl "$ns" ipvs apply "$work/claim.yaml" --owned 192.0.2.0/24 2>&1) || status=$?
assert_eq 1 "$status" "exit status of a conflict"
assert_contains "$out" "conflict: TCP 203.0.113.5:80 is desired but not owned; left untouched"
assert_contains "$(ipvs_rules "$ns")" "-A -t 203.0.113.5:80 -s sh"
assert_contains "$(ipvs_rules "$ns")" "-a -t 203.0.113.5:80 -r 10.9.0.1:80 -m -w 7"
assert_contains "$(ipvs_rules "$ns")" "-A -f 99 -s wlc"
