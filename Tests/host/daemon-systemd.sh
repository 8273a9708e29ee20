#!/usr/bin/env bash
# The systemd files of ballastd: the unit passes `systemd-analyze verify`, its
# sandboxing scores no worse than the exposure recorded in
# docs/operations.md, and the modules-load.d file is well formed.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
unit=$repo/systemd/ballastd.service

command -v systemd-analyze >/dev/null || { echo "FAIL: systemd-analyze missing (Debian package systemd)"; exit 1; }

work=$(mktemp -d /tmp/daemon-systemd.XXXXXX)
trap 'rm -rf "$work"' EXIT

# verify checks that ExecStart's binary exists and is executable: point it
# at a stub in a private directory instead of installing anything.
printf '#!/bin/sh\nexit 0\n' > "$work/ballastd"
chmod +x "$work/ballastd"
grep -q '^ExecStart=/usr/local/bin/ballastd ' "$unit" || { echo "FAIL: unexpected ExecStart in $unit"; exit 1; }
sed "s|^ExecStart=/usr/local/bin/ballastd |ExecStart=$work/ballastd |" "$unit" > "$work/ballastd.service"
if ! out=$(systemd-analyze verify "$work/ballastd.service" 2>&1) || [[ -n $out ]]; then
    echo "FAIL: systemd-analyze verify:"
    echo "$out"
    exit 1
fi
echo "ok: systemd-analyze verify passes"

# The recorded score is the ceiling: a change that weakens the sandbox must update the docs too.
recorded=$(sed -n 's/^.*Overall exposure level: \([0-9.]*\).*$/\1/p' "$repo/docs/operations.md" | head -1)
[[ -n $recorded ]] || { echo "FAIL: docs/operations.md records no exposure level"; exit 1; }
score=$(systemd-analyze security --offline=yes "$unit" 2>&1 | sed -n 's/^.*Overall exposure level for ballastd.service: \([0-9.]*\).*$/\1/p')
[[ -n $score ]] || { echo "FAIL: systemd-analyze security printed no score"; exit 1; }
if awk -v s="$score" -v r="$recorded" 'BEGIN { exit !(s > r) }'; then
    echo "FAIL: exposure $score is worse than the $recorded recorded in docs/operations.md"
    exit 1
fi
echo "ok: systemd-analyze security exposure $score (recorded: $recorded)"

# modules-load.d: plain module names, each one that the test VM loads from
# Debian's kernel (scripts/kernel-vm/modules.txt), so each exists there. This
# host's kernel has no modules to ask.
conf=$repo/systemd/modules-load.d/ballast.conf
vm_modules=$(sed 's/#.*//; s/?$//; /^[[:space:]]*$/d' "$repo/scripts/kernel-vm/modules.txt")
modules=$(sed 's/#.*//; /^[[:space:]]*$/d' "$conf")
[[ -n $modules ]] || { echo "FAIL: $conf lists no module"; exit 1; }
for m in $modules; do
    [[ $m =~ ^[a-z0-9_]+$ ]] || { echo "FAIL: bad module name '$m' in $conf"; exit 1; }
    grep -qx "$m" <<<"$vm_modules" || { echo "FAIL: $m (in $conf) is not among the kernel VM's modules"; exit 1; }
done
echo "ok: modules-load.d lists $(wc -w <<<"$modules") modules"
