// swift-tools-version:6.0
// Ballast: a bare-metal load balancer for Linux (IPVS + ARP/NDP announcement).
//
// The data flow is the folder layout:
//   source (SourceFiles) → cache + allocate + plan (BallastCore) → reconcile
//   (BallastCore/Reconcile + NetlinkIPVS, LinkAddress, NFTables) → announce (L2Announce).
// Pure targets (BallastCore, BallastConfig, L2Frames) link no kernel library and
// run in `swift test` anywhere without root.
import PackageDescription

let package = Package(
    name: "ballast",
    products: [
        .executable(name: "ballastd", targets: ["ballastd"]),
        .executable(name: "ballastctl", targets: ["ballastctl"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.5.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.0.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        // Test-only: the oracle BallastConfigTests compares the libyaml composer with.
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
    ],
    targets: [
        // MARK: C libraries (Debian -dev packages, found through pkg-config)
        .systemLibrary(name: "CNetlinkGenl", pkgConfig: "libnl-genl-3.0",
                       providers: [.apt(["libnl-3-dev", "libnl-genl-3-dev"])]),
        .systemLibrary(name: "CNetlinkRoute", pkgConfig: "libnl-route-3.0",
                       providers: [.apt(["libnl-3-dev", "libnl-route-3-dev"])]),
        .systemLibrary(name: "CNftables", pkgConfig: "libnftables",
                       providers: [.apt(["libnftables-dev"])]),
        .systemLibrary(name: "CLibYAML", pkgConfig: "yaml-0.1",
                       providers: [.apt(["libyaml-dev"])]),

        // MARK: Pure logic
        .target(name: "BallastCore"),
        .target(name: "BallastConfig", dependencies: ["BallastCore", "CLibYAML"]),
        .target(name: "L2Frames", dependencies: ["BallastCore"]),
        // In-memory fakes of every kernel protocol, for unit tests.
        .target(name: "BallastFakes", dependencies: ["BallastCore", "L2Frames"]),

        // MARK: Kernel I/O, each behind a protocol declared in the pure layer
        .target(name: "NetlinkIPVS", dependencies: [
            "BallastCore", "CNetlinkGenl",
            .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "LinkAddress", dependencies: [
            "BallastCore", "CNetlinkRoute",
            .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "NFTables", dependencies: [
            "BallastCore", "CNftables",
            .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "L2Announce", dependencies: [
            "BallastCore", "L2Frames",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
        ]),

        // MARK: Sources of Services
        .target(name: "SourceFiles", dependencies: [
            "BallastCore", "BallastConfig",
            .product(name: "Logging", package: "swift-log"),
        ]),

        // MARK: The daemon: loops, state, status API, metrics
        .target(name: "Daemon", dependencies: [
            "BallastCore", "BallastConfig", "NetlinkIPVS", "LinkAddress", "NFTables",
            "L2Announce", "SourceFiles",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "UnixSignals", package: "swift-service-lifecycle"),
        ]),

        // MARK: Executables: wiring and printing only
        .executableTarget(name: "ballastd", dependencies: [
            "Daemon", "BallastCore", "BallastConfig",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
        .executableTarget(name: "ballastctl", dependencies: [
            "BallastCore", "BallastConfig", "NetlinkIPVS", "Daemon",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // Benchmark of allocation and planning (run by scripts/bench/core-bench).
        .executableTarget(name: "ballast-core-bench", dependencies: ["BallastCore"], path: "Benchmarks/CoreBench"),
        // Benchmark of manifest directory loading (run by scripts/bench/manifest-bench).
        .executableTarget(name: "ballast-manifest-bench", dependencies: ["BallastConfig", "BallastCore"],
                          path: "Benchmarks/ManifestBench"),
        // Benchmark of the edit path: manifest watcher → reconcile loop → in-memory kernel (scripts/bench/edit-bench).
        .executableTarget(name: "ballast-edit-bench", dependencies: [
            "Daemon", "SourceFiles", "BallastConfig", "BallastCore", "BallastFakes",
            .product(name: "Logging", package: "swift-log"),
        ], path: "Benchmarks/EditBench"),

        // MARK: Tests
        // Unit tests: no root, no kernel features.
        .testTarget(name: "BallastCoreTests", dependencies: ["BallastCore", "BallastFakes", "BallastTestSupport"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "BallastConfigTests", dependencies: [
            "BallastConfig", "BallastCore", "BallastTestSupport",
            .product(name: "Yams", package: "Yams"),
        ], resources: [.copy("Fixtures")]),
        .testTarget(name: "NetlinkIPVSTests", dependencies: ["NetlinkIPVS", "BallastCore"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "L2FramesTests", dependencies: ["L2Frames", "BallastCore"]),
        .testTarget(name: "DaemonTests", dependencies: ["Daemon", "SourceFiles", "BallastCore", "BallastConfig", "BallastFakes",
                                                       "BallastTestSupport"]),
        .testTarget(name: "L2AnnounceTests", dependencies: ["L2Announce", "L2Frames", "BallastCore", "BallastFakes"]),
        // Host network tests: root + network namespaces + veth on the build
        // machine itself (no VM). Enabled by BALLAST_ROOT_TESTS=1 (scripts/test
        // sets it); when enabled, a missing privilege or tool is a failure.
        .testTarget(name: "HostNetTests", dependencies: ["L2Announce", "L2Frames", "BallastCore", "BallastTestSupport",
                                                       "NFTables"]),
        // Kernel tests: need IPVS (or root + namespaces). Enabled by
        // BALLAST_KERNEL_TESTS=1, which scripts/test sets inside the kernel VM;
        // there a missing kernel feature is a failure, never a skip.
        .testTarget(name: "KernelTests", dependencies: [
            "NetlinkIPVS", "LinkAddress", "NFTables", "L2Announce", "L2Frames", "BallastCore", "BallastTestSupport",
        ]),
        // What the root and kernel tests share: running tools (ip, ipvsadm,
        // nft) and a scratch network namespace per test.
        .target(name: "BallastTestSupport", path: "Tests/Support"),
    ]
)
