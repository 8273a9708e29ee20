#!/usr/bin/env bash
# A table file with errors is rejected as a whole: every error is reported as
# FILE:LINE:COLUMN, apply exits with status 2, and the kernel's table is
# exactly as before (not even the valid services of the file are applied).
source "$(dirname "${BASH_SOURCE[0]}")/ipvs-lib.sh"

ns=$(unique_name rcn-b)
ipvs_ns "$ns"
cat > "$work/good.yaml" <<'YAML'
services:
  - address: 192.0.2.10
    port: 80
    destinations: [{address: 10.0.0.1, port: 8080}]
YAML
ctl "$ns" ipvs apply "$work/good.yaml" >/dev/null
before=$(ipvs_rules "$ns")

cat > "$work/bad.yaml" <<'YAML'
services:
  - address: 192.0.2.10
    port: 80
    destinations: [{address: 10.0.0.2, port: 8080}]
  - address: 192.0.2.11
    port: 99999
    scheduler: roundrobin
    destinations:
      - {address: 10.0.0.3, wieght: 2}
YAML
status=0
err=$(ctl "$ns" ipvs apply "$work/bad.yaml" 2>&1 >/dev/null) || status=$?
assert_eq 2 "$status" "exit status of an invalid file"
assert_contains "$err" "$work/bad.yaml:6:11: error: services[1].port: 99999 is out of range 0-65535"
assert_contains "$err" "$work/bad.yaml:7:16: error: services[1].scheduler: \"roundrobin\" is not valid"
assert_contains "$err" "$work/bad.yaml:9:29: error: services[1].destinations[0]: unknown key \"wieght\""
assert_contains "$err" "hint: did you mean \"weight\"?"
assert_contains "$err" "3 errors, 0 warnings"
assert_contains "$err" "nothing was applied"
assert_eq "$before" "$(ipvs_rules "$ns")" "table after a rejected file"

# A syntax error in a JSON file (JSON is read as YAML).
printf '{"services": [\n  {"address": "192.0.2.10", "port": 80,,}\n]}\n' > "$work/bad.json"
status=0
err=$(ctl "$ns" ipvs apply "$work/bad.json" 2>&1 >/dev/null) || status=$?
assert_eq 2 "$status" "exit status of a syntax error"
assert_contains "$err" "$work/bad.json:2:40: error: YAML syntax: did not find expected node content"
assert_eq "$before" "$(ipvs_rules "$ns")" "table after a syntax error"
