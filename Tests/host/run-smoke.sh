#!/usr/bin/env bash
# The README's quick start works: `scripts/run --for 20` serves the example
# configuration (in the kernel VM when this kernel has no IPVS) and prints
# healthy status, the Services with their external addresses and the IPVS
# table, then stops cleanly; `scripts/run --dry-run` prints the plan.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
source "$repo/scripts/lib/netns.sh"
require_root

# run ARGS...: scripts/run's output in $out; a failure shows it.
run() {
    local status=0
    out=$("$repo/scripts/run" "$@" 2>&1) || status=$?
    ((status == 0)) || { printf '%s\n' "$out" >&2; fail "scripts/run $* exited with status $status"; }
}

run --for 20
assert_contains "$out" "ballastd on node-a: ok" "ballastctl status: healthy"
services=$(sed -n '/^==> ballastctl services$/,/^==> /p' <<< "$out")
assert_contains "$services" "NAMESPACE     NAME       EXTERNAL-IP" "the services table"
grep -Eq '^shop +web +192\.0\.2\.[0-9]+,2001:db8::1[0-9a-f]{2} +public +' <<< "$services" ||
    fail "web has no IPv4 and IPv6 address from pool public: $services"
grep -Eq '^payments +checkout +198\.51\.100\.[0-9]+ +internal +node-a ' <<< "$services" ||
    fail "checkout has no address from pool internal announced by node-a: $services"
assert_contains "$out" "IPVS table: 7 services, 12 destinations" "ballastctl ipvs show"
assert_contains "$out" "[L2Announce] announcing" "the announcer announces on the veth uplink"
assert_contains "$out" "[Daemon] stopped" "ballastd stops on SIGTERM"
assert_not_contains "$out" " error ballastd:" "ballastd logged no error"

run --dry-run
assert_contains "$out" "dry run: would add service TCP 192.0.2.53:53"
assert_contains "$out" "dry run: would add destination 10.244.1.2:53 to UDP 192.0.2.53:53"
assert_contains "$out" "dry run: would announce"
assert_contains "$out" "(dry run: the kernel is not changed)" "ballastctl status says dry run"
assert_contains "$out" "[Daemon] stopped"
echo "ok: scripts/run serves the example configuration and prints its plan in a dry run"
