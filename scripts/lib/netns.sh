# Helpers for standalone test scripts (Tests/host/*.sh, Tests/vm/*.sh).
#
#   source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib/netns.sh"
#
# Sourcing turns on `set -euo pipefail` and installs an EXIT trap that undoes,
# newest first, everything registered with on_exit: namespaces made with
# netns_add, processes started with ns_spawn, and any command of your own.
# Scripts must not install their own EXIT trap; use on_exit instead.
#
# Assertions print FILE:LINE of the caller and exit 1 on failure.

set -euo pipefail

_netns_cleanups=()

# on_exit CMD [ARGS...]: run this command when the script exits (any way).
on_exit() {
    local quoted
    printf -v quoted ' %q' "$@"
    _netns_cleanups+=("${quoted# }")
}

_netns_run_cleanups() {
    local status=$? i
    set +e
    for ((i = ${#_netns_cleanups[@]} - 1; i >= 0; i--)); do
        eval "${_netns_cleanups[i]}" >/dev/null 2>&1
    done
    exit "$status"
}
trap _netns_run_cleanups EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# _where: FILE:LINE of the test line that called the helper calling _where.
_where() {
    local depth=${1:-2}
    echo "${BASH_SOURCE[depth]:-?}:${BASH_LINENO[depth - 1]:-?}"
}

# fail MESSAGE: report a failure at the caller's line and exit 1.
fail() {
    echo "FAIL $(_where 2): $*" >&2
    exit 1
}

# assert_eq EXPECTED ACTUAL [WHAT]
assert_eq() {
    if [[ $1 != "$2" ]]; then
        echo "FAIL $(_where 2): ${3:-values differ}" >&2
        echo "  expected: $1" >&2
        echo "  actual:   $2" >&2
        exit 1
    fi
}

# assert_contains HAYSTACK NEEDLE [WHAT]
assert_contains() {
    if [[ $1 != *"$2"* ]]; then
        echo "FAIL $(_where 2): ${3:-text does not contain \"$2\"}" >&2
        printf '%s\n' "$1" | sed 's/^/  | /' >&2
        exit 1
    fi
}

# assert_not_contains HAYSTACK NEEDLE [WHAT]
assert_not_contains() {
    if [[ $1 == *"$2"* ]]; then
        echo "FAIL $(_where 2): ${3:-text contains \"$2\"}" >&2
        printf '%s\n' "$1" | sed 's/^/  | /' >&2
        exit 1
    fi
}

# require_root; require_cmd CMD...: a missing prerequisite is a failure.
require_root() {
    [[ $(id -u) == 0 ]] || fail "must run as root"
}
require_cmd() {
    local cmd
    for cmd; do
        command -v "$cmd" >/dev/null || fail "command not found: $cmd"
    done
}

# unique_name PREFIX: PREFIX plus this script's PID, so parallel runs on one
# host do not collide. Interface names must stay within 15 characters.
unique_name() {
    echo "$1$$"
}

# netns_add NAME: a new network namespace with loopback up, deleted on exit
# (after the processes ns_spawn started in it are killed).
netns_add() {
    ip netns add "$1"
    on_exit ip netns delete "$1"
    ip -n "$1" link set lo up
}

# in_ns NS CMD [ARGS...]: run CMD inside namespace NS.
in_ns() {
    local ns=$1
    shift
    ip netns exec "$ns" "$@"
}

# ns_spawn NS CMD [ARGS...]: start CMD in the background inside NS and kill it
# on exit. Deleting a namespace does not stop the processes in it.
ns_spawn() {
    local ns=$1
    shift
    ip netns exec "$ns" "$@" </dev/null >/dev/null 2>&1 &
    on_exit kill "$!"
}

# veth_link NS1 IF1 ADDR1 NS2 IF2 ADDR2: a veth pair between two namespaces,
# each end up with its address (CIDR notation, e.g. 10.0.0.1/24, or "-" for
# none). The pair disappears with either namespace. IPv6 addresses skip
# duplicate address detection, which would hold them back for a second or two.
veth_link() {
    local ns1=$1 if1=$2 addr1=$3 ns2=$4 if2=$5 addr2=$6
    ip link add "$if1" netns "$ns1" type veth peer name "$if2" netns "$ns2"
    _addr_add "$ns1" "$if1" "$addr1"
    _addr_add "$ns2" "$if2" "$addr2"
    ip -n "$ns1" link set "$if1" up
    ip -n "$ns2" link set "$if2" up
}

_addr_add() {
    local ns=$1 dev=$2 addr=$3
    case $addr in
        -) ;;
        *:*) ip -n "$ns" addr add "$addr" dev "$dev" nodad ;;
        *) ip -n "$ns" addr add "$addr" dev "$dev" ;;
    esac
}

# await_lines FILE LINES [SECONDS]: wait until FILE has LINES lines (default
# 20 s), else fail showing what it has.
await_lines() {
    local file=$1 lines=$2 deadline=$((SECONDS + ${3:-20}))
    until (($(wc -l < "$file") >= lines)); do
        ((SECONDS < deadline)) || fail "$file has $(wc -l < "$file") of $lines lines: $(cat "$file")"
        sleep 0.1
    done
}

# wait_for_port NS ADDR PORT [SECONDS]: wait until a TCP connect to ADDR:PORT
# from inside NS succeeds (default 10 s), else fail.
wait_for_port() {
    local ns=$1 addr=$2 port=$3 seconds=${4:-10} deadline
    deadline=$((SECONDS + seconds))
    until ip netns exec "$ns" bash -c "exec 3<>/dev/tcp/$addr/$port" 2>/dev/null; do
        ((SECONDS < deadline)) || {
            echo "FAIL $(_where 2): nothing listens on $addr:$port in $ns after ${seconds} s" >&2
            exit 1
        }
        sleep 0.1
    done
}
