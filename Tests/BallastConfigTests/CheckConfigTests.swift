import BallastCore
import Testing
@testable import BallastConfig

/// `ballastd --check-config`: the report text and the address arithmetic behind it.
@Suite struct CheckConfigTests {
    private let yaml = """
        source: {kubernetes: {}}
        metricsAddress: null
        handleUnclassedServices: false
        announce: {refreshInterval: 90s}
        pools:
          - name: public
            addresses: [192.0.2.0/24, "2001:db8::/64"]
            avoidBuggyIPs: true
          - name: manual
            addresses: [198.51.100.10-198.51.100.19]
            autoAssign: false
            serviceAllocation: {priority: 1, namespaces: [a, b]}
            interfaces: [eth1]
        """

    private func loaded() throws -> LoadedConfiguration {
        try ConfigurationFile.decode(yaml: yaml, file: "ballast.yaml", fileSystem: Fixture.fileSystem([:]))
    }

    @Test func summaryWithoutAssignments() throws {
        #expect(checkConfigSummary(file: "ballast.yaml", try loaded()) == """
            ballast.yaml: valid, 2 pools, 0 warnings
              source:    Kubernetes API, in-cluster service account
              node:      the host name
              VIPs on:   ballast0
              announce:  5 frames 1s apart on takeover, refresh every 1m30s
              IPVS:      scheduler rr, drain 1m, resync every 30s
              class:     ballast.io/lb only
              metrics:   off
              state:     /var/lib/ballast, status socket /run/ballast/ballastd.sock
            pools:
              NAME    FAMILY     ADDRESSES  USABLE  RANGES
              public  IPv4+IPv6      ~2^64   ~2^64  192.0.2.0/24, 2001:db8::/64  (avoidBuggyIPs)
              manual  IPv4              10      10  198.51.100.10-198.51.100.19  (autoAssign: false, priority 1, namespaces a,b, interfaces eth1)

            """)
    }

    @Test func summaryWithAssignments() throws {
        let assignments: [ObjectRef: [IPAddress]] = [
            ObjectRef(namespace: "shop", name: "web"): [IPAddress("192.0.2.1")!, IPAddress("2001:db8::1")!],
            ObjectRef(namespace: "shop", name: "dns"): [IPAddress("192.0.2.1")!],  // shared address, counted once
            ObjectRef(namespace: "a", name: "x"): [IPAddress("198.51.100.10")!],
            ObjectRef(namespace: "old", name: "gone"): [IPAddress("203.0.113.7")!],
        ]
        let text = checkConfigSummary(file: "ballast.yaml", try loaded(), assignments: assignments)
        #expect(text.split(separator: "\n").suffix(5).joined(separator: "\n") == """
              NAME    FAMILY     ADDRESSES  USABLE  ASSIGNED   FREE  RANGES
              public  IPv4+IPv6      ~2^64   ~2^64         2  ~2^64  192.0.2.0/24, 2001:db8::/64  (avoidBuggyIPs)
              manual  IPv4              10      10         1      9  198.51.100.10-198.51.100.19  (autoAssign: false, priority 1, namespaces a,b, interfaces eth1)
            warning: 1 assigned address is in no pool: 203.0.113.7 (old/gone)
              hint: the Services keep them until they are reassigned; add the range back to keep them for good
            """)
    }

    @Test func warningsComeFirst() throws {
        let fs = try Fixture.fileSystem(fixtures: ["metallb/pools-and-advertisements.yaml"])
        let loaded = try ConfigurationFile.load(path: "metallb/pools-and-advertisements.yaml", fileSystem: fs)
        let lines = checkConfigSummary(file: "pools.yaml", loaded).split(separator: "\n")
        #expect(lines[0].hasPrefix("note: metallb/pools-and-advertisements.yaml holds MetalLB resources"))
        #expect(lines.contains("pools.yaml: valid, 3 pools, 3 warnings"))
    }

    @Test func invalidFile() {
        let result = checkConfig(path: "/nonexistent/ballast.yaml")
        #expect(!result.valid)
        #expect(result.output.hasPrefix("error: configuration file /nonexistent/ballast.yaml no such file"))
    }

    /// The shipped examples are valid, and the MetalLB versions give the same pools.
    @Test func shippedExamples() throws {
        let configs = Fixture.repository.appendingPathComponent("configs")
        let ballast = try ConfigurationFile.load(path: configs.appendingPathComponent("ballast.yaml").path).configuration
        let crds = try ConfigurationFile.load(path: configs.appendingPathComponent("metallb/pools.yaml").path).configuration
        let legacy = try ConfigurationFile.load(path: configs.appendingPathComponent("metallb/legacy-configmap.yaml").path)
            .configuration
        func shape(_ pools: [AddressPool]) -> [String] { pools.map { "\($0.name) \($0.ranges) \($0.autoAssign) \($0.avoidBuggyIPs)" } }
        #expect(shape(crds.pools) == shape(ballast.pools))
        #expect(shape(legacy.pools) == shape(ballast.pools))
        #expect(crds.pools.map(\.serviceAllocation) == ballast.pools.map(\.serviceAllocation))
        #expect(crds.pools.map(\.interfaces) == ballast.pools.map(\.interfaces))
        #expect(crds.pools.map(\.nodeSelectors) == ballast.pools.map(\.nodeSelectors))

        let files = try ManifestDirectory.load(directory: configs.appendingPathComponent("services").path).get()
        let sets = try Dictionary(uniqueKeysWithValues: files.map { ($0.path, try $0.result.get()) })
        let (snapshot, diagnostics) = ManifestSet.snapshot(of: sets)
        #expect(diagnostics.isEmpty)
        #expect(snapshot.services.keys.map(\.description).sorted() == ["kube-system/dns", "payments/checkout", "shop/web"])
        #expect(snapshot.endpointSlices.count == 4 && snapshot.nodes.count == 2 && snapshot.namespaces.count == 1)
    }

    @Test(arguments: [
        ("192.0.2.0/24", false, 256, 256),
        ("192.0.2.0/24", true, 256, 254),
        ("192.0.2.0/23", true, 512, 508),
        ("192.0.2.255-192.0.3.0", true, 2, 0),
        ("192.0.2.1-192.0.2.254", true, 254, 254),
        ("0.0.0.0/0", true, 1 << 32, (1 << 32) - (1 << 25)),
        ("2001:db8::/120", true, 256, 256),
    ] as [(String, Bool, UInt64, UInt64)])
    func addressCounts(range: String, avoidBuggyIPs: Bool, size: UInt64, usable: UInt64) throws {
        let r = try AddressRange(parsingPoolEntry: range)
        #expect(PoolArithmetic.size(r) == UInt128(size))
        #expect(PoolArithmetic.usable(r, avoidBuggyIPs: avoidBuggyIPs) == UInt128(usable))
    }

    static let two64: UInt128 = 1 << 64
    @Test(arguments: [
        (0, "0"), ((1 << 40) - 1, "1099511627775"), (two64, "2^64"), (two64 - 2, "~2^64"), (two64 + 5, "~2^64"),
        (3 << 70, "~2^72"), (.max, "~2^128"),
    ] as [(UInt128, String)])
    func countText(count: UInt128, expected: String) {
        #expect(PoolArithmetic.format(count) == expected)
    }
}
