# Sourced by the benchmarks: builds ballastd as docs/operations.md installs it
# (release, the Swift runtime and FoundationEssentials linked into the binary) and sets
# BALLASTD to it, unless BALLASTD already names a binary. Its own scratch
# path keeps it from relinking the debug and release builds of the tests.
release_ballastd() {
    if [[ -n ${BALLASTD:-} ]]; then
        export BALLASTD
        return
    fi
    if ! command -v swift >/dev/null && [[ -x /opt/swift/usr/bin/swift ]]; then
        export PATH=$PATH:/opt/swift/usr/bin
    fi
    local flags=(-c release --static-swift-stdlib --scratch-path "$repo/.build-static")
    (cd "$repo" && swift build "${flags[@]}" --product ballastd >&2)
    BALLASTD=$(cd "$repo" && swift build "${flags[@]}" --show-bin-path)/ballastd
    export BALLASTD
}

# unit_environment: the Environment= assignments of systemd/ballastd.service,
# one NAME=VALUE per line, so that benchmarks run ballastd with the
# environment the unit gives it (e.g. its malloc tunables).
unit_environment() {
    sed -n 's/^Environment=//p' "$repo/systemd/ballastd.service"
}
