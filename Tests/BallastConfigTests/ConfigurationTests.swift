import BallastCore
import Testing
@testable import BallastConfig

/// ballast.yaml: decoding, defaults, paths, and every validation error with its position.
@Suite struct ConfigurationTests {
    private func decode(_ yaml: String, files: [String: String] = [:]) throws(Diagnostics) -> LoadedConfiguration {
        try ConfigurationFile.decode(yaml: yaml, file: "ballast.yaml", fileSystem: Fixture.fileSystem(files))
    }

    private func range(_ text: String) -> AddressRange { try! AddressRange(parsingPoolEntry: text) }
    private func at(_ line: Int, _ column: Int, _ file: String = "ballast.yaml") -> Location {
        Location(file: file, line: line, column: column)
    }

    @Test func minimalConfigurationTakesEveryDefault() throws {
        let loaded = try decode("pools:\n  - name: default\n    addresses: [192.0.2.0/24]\n")
        let expected = Configuration(pools: [AddressPool(name: "default", ranges: [range("192.0.2.0/24")], location: at(2, 5))])
        #expect(loaded.configuration == expected)
        #expect(loaded.diagnostics.isEmpty)
        #expect(loaded.files == ["ballast.yaml"])
        #expect(expected.metricsAddress == "127.0.0.1:9734")
        #expect(expected.source == .files(directory: "/etc/ballast/services"))
    }

    /// The shipped example decodes to exactly what its comments say.
    @Test func exampleConfiguration() throws {
        let path = Fixture.repository.appendingPathComponent("configs/ballast.yaml").path
        let loaded = try ConfigurationFile.load(path: path)
        let c = loaded.configuration
        let directory = Fixture.repository.appendingPathComponent("configs").path
        #expect(loaded.diagnostics.isEmpty)
        #expect(c.nodeName == "node-a")
        #expect(c.source == .files(directory: directory + "/services"))
        #expect(c.loadBalancerClass == "ballast.io/lb")
        #expect(c.handleUnclassedServices)
        #expect(c.announce == AnnounceSettings(burstCount: 5, burstInterval: .seconds(1), refreshInterval: .seconds(60)))
        #expect(c.ipvs == IPVSSettings(scheduler: .rr, drainTimeout: .seconds(60), resyncInterval: .seconds(30)))
        #expect(c.vipInterface == "ballast0")
        #expect(c.stateDirectory == "/var/lib/ballast")
        #expect(c.statusSocket == "/run/ballast/ballastd.sock")
        #expect(c.metricsAddress == "127.0.0.1:9734")
        let file = path
        #expect(c.pools == [
            AddressPool(name: "public", ranges: [range("192.0.2.0/24"), range("2001:db8::100-2001:db8::1ff")],
                        avoidBuggyIPs: true, location: at(28, 5, file)),
            AddressPool(name: "internal", ranges: [range("198.51.100.0/26")],
                        serviceAllocation: ServiceAllocation(priority: 10, namespaces: ["payments"],
                                                             namespaceSelectors: [LabelSelector(matchLabels: ["team": "payments"])]),
                        interfaces: ["eth1"],
                        nodeSelectors: [LabelSelector(matchExpressions: [.init(key: "node-role.kubernetes.io/edge", operator: .exists)])],
                        location: at(35, 5, file)),
            AddressPool(name: "reserved", ranges: [range("198.51.100.200-198.51.100.210")], autoAssign: false,
                        location: at(52, 5, file)),
        ])
    }

    @Test func settings() throws {
        let yaml = """
        nodeName: worker-3
        source:
          kubernetes:
            kubeconfig: kube/config
        announce:
          burstCount: 3
          burstInterval: 500ms
          refreshInterval: 0
        ipvs:
          scheduler: mh
          drainTimeout: 0
          resyncInterval: 2m
        vipInterface: lbvips
        stateDirectory: /srv/ballast
        statusSocket: /run/b.sock
        metricsAddress: null
        loadBalancerClass: example.com/edge
        handleUnclassedServices: false
        pools:
          - {name: a, addresses: [192.0.2.0/24]}
        """
        let c = try ConfigurationFile.decode(yaml: yaml, file: "/etc/ballast/ballast.yaml",
                                             fileSystem: Fixture.fileSystem([:])).configuration
        #expect(c.nodeName == "worker-3")
        #expect(c.source == .kubernetes(kubeconfig: "/etc/ballast/kube/config"))
        #expect(c.announce == AnnounceSettings(burstCount: 3, burstInterval: .milliseconds(500), refreshInterval: nil))
        #expect(c.ipvs == IPVSSettings(scheduler: .mh, drainTimeout: .zero, resyncInterval: .seconds(120)))
        #expect(c.vipInterface == "lbvips")
        #expect(c.stateDirectory == "/srv/ballast")
        #expect(c.statusSocket == "/run/b.sock")
        #expect(c.metricsAddress == nil)
        #expect(c.loadBalancerClass == "example.com/edge")
        #expect(!c.handleUnclassedServices)
    }

    @Test(arguments: [
        ("source: {kubernetes: {}}", ServiceSource.kubernetes(kubeconfig: nil)),
        ("source: {kubernetes: null}", .kubernetes(kubeconfig: nil)),
        ("source: {kubernetes: {kubeconfig: /root/.kube/config}}", .kubernetes(kubeconfig: "/root/.kube/config")),
        ("source: {files: {directory: /srv/services}}", .files(directory: "/srv/services")),
        ("source: {files: {directory: services}}", .files(directory: "services")),
    ])
    func sources(yaml: String, expected: ServiceSource) throws {
        let c = try decode(yaml + "\npools: [{name: a, addresses: [192.0.2.0/24]}]\n").configuration
        #expect(c.source == expected)
    }

    @Test(arguments: [
        ("metricsAddress: 127.0.0.1:9734", "127.0.0.1:9734"),
        ("metricsAddress: \"[::1]:9734\"", "[::1]:9734"),
        ("metricsAddress: :9734", ":9734"),
        ("metricsAddress: metrics.example.com:80", "metrics.example.com:80"),
        ("metricsAddress: ~", nil),
    ] as [(String, String?)])
    func metricsAddresses(yaml: String, expected: String?) throws {
        let c = try decode(yaml + "\npools: [{name: a, addresses: [192.0.2.0/24]}]\n").configuration
        #expect(c.metricsAddress == expected)
    }

    static let allKeys = "pools, metallb, announce, ipvs, source, nodeName, vipInterface, stateDirectory, statusSocket, "
        + "metricsAddress, loadBalancerClass, handleUnclassedServices"
    static let poolKeys = "name, addresses, autoAssign, avoidBuggyIPs, serviceAllocation, interfaces, nodeSelectors"
    static let durationHint = "write a number with a unit, such as 500ms, 5s, 1m or 1h30m (a bare number is seconds)"

    /// Every validation error, printed exactly as the user sees it.
    @Test(arguments: [
        // Unknown keys, with "did you mean".
        ("""
        pool:
          - name: a
            addresses: [192.0.2.0/24]
        """, [
            "ballast.yaml:1:1: error: unknown key \"pool\"\n  hint: did you mean \"pools\"? (keys allowed here: \(allKeys))",
        ]),
        ("""
        pools:
          - name: web
            addresses: [192.0.2.0/24]
            autoassign: false
        """, [
            "ballast.yaml:4:5: error: pools[0]: unknown key \"autoassign\"\n  hint: did you mean \"autoAssign\"? (keys allowed here: \(poolKeys))",
        ]),
        // Overlapping pools name both pools and both ranges.
        ("""
        pools:
          - name: a
            addresses:
              - 192.0.2.0/24
          - name: b
            addresses:
              - 198.51.100.0/24
              - 192.0.2.128-192.0.2.140
        """, [
            "ballast.yaml:8:9: error: pool \"b\" range 192.0.2.128-192.0.2.140 overlaps pool \"a\" range 192.0.2.0/24 (ballast.yaml:4:9)\n  hint: an address can belong to one pool only; shrink or remove one of the two ranges",
        ]),
        ("""
        pools:
          - name: v6
            addresses: ["2001:db8::/64", "2001:db8::ff-2001:db8::1ff"]
        """, [
            "ballast.yaml:3:34: error: pool \"v6\" range 2001:db8::ff-2001:db8::1ff overlaps range 2001:db8::/64 of the same pool (ballast.yaml:3:17)\n  hint: an address can belong to one pool only; shrink or remove one of the two ranges",
        ]),
        // Bad entries, all of them, and other errors of the same file in file order.
        ("""
        pools:
          - name: a
            addresses:
              - 192.0.2.1/24
              - 192.0.2.20-192.0.2.10
              - 192.0.2.1-2001:db8::1
              - 192.0.2.0/33
          - name: b
            addresses: [198.51.100.0/24]
            autoAssign: yes
        announce:
          burstInterval: 5 seconds
          burstCount: five
        ipvs:
          scheduler: roundrobin
          drainTimeout: -1s
        """, [
            "ballast.yaml:4:9: error: pools[0].addresses[0]: \"192.0.2.1/24\" has host bits set\n  hint: did you mean 192.0.2.0/24? For the single address write 192.0.2.1/32",
            "ballast.yaml:5:9: error: pools[0].addresses[1]: range \"192.0.2.20-192.0.2.10\" ends at 192.0.2.10, before its start 192.0.2.20\n  hint: write 192.0.2.10-192.0.2.20",
            "ballast.yaml:6:9: error: pools[0].addresses[2]: range \"192.0.2.1-2001:db8::1\" mixes an IPv4 and an IPv6 address\n  hint: a range holds addresses of one family; write one entry per family",
            "ballast.yaml:7:9: error: pools[0].addresses[3]: \"192.0.2.0/33\" has an invalid prefix length\n  hint: the prefix length of this family is 0 to 32",
            "ballast.yaml:10:17: error: pools[1].autoAssign: expected true or false, found \"yes\"\n  hint: write true or false",
            "ballast.yaml:12:18: error: announce.burstInterval: \"5 seconds\" is not a duration\n  hint: \(durationHint)",
            "ballast.yaml:13:15: error: announce.burstCount: expected an integer, found \"five\"",
            "ballast.yaml:15:14: error: ipvs.scheduler: \"roundrobin\" is not valid\n  hint: valid values: rr, wrr, lc, wlc, lblc, lblcr, dh, sh, sed, nq, fo, ovf, mh",
            "ballast.yaml:16:17: error: ipvs.drainTimeout: \"-1s\" is not a duration\n  hint: \(durationHint)",
        ]),
        ("""
        pools:
          - name: web
            addresses: [192.0.2.0/25]
          - name: web
            addresses: [192.0.2.128/25]
          - name: Web_2
            addresses: [198.51.100.0/24]
        """, [
            "ballast.yaml:4:11: error: duplicate pool name \"web\"\n  hint: the first pool of that name is at ballast.yaml:2:11; pool names must be unique",
            "ballast.yaml:6:11: error: pools[2].name: pool name \"Web_2\" is not a valid Kubernetes name\n  hint: use lower-case letters, digits, \"-\" and \".\", starting and ending with a letter or digit",
        ]),
        // Empty, and no pools.
        ("# nothing yet\n", [
            "ballast.yaml:1:1: error: the configuration is empty\n  hint: at least one address pool is needed, e.g.\n    pools:\n      - name: default\n        addresses: [192.0.2.0/24]",
        ]),
        ("nodeName: a\npools: []\n", [
            "ballast.yaml:1:1: error: no address pools are defined\n  hint: add one under pools: (e.g. - name: default, addresses: [192.0.2.0/24]) or list MetalLB files under metallb:",
        ]),
        ("pools: [{name: a, addresses: [192.0.2.0/24]}]\n---\npools: []\n", [
            "ballast.yaml:3:1: error: the configuration is one YAML document, but this file holds 2\n  hint: remove the \"---\" separators, or move MetalLB resources to their own file and list it under metallb:",
        ]),
        // Wrong types.
        ("pools: {name: a}\n", ["ballast.yaml:1:8: error: pools: expected a list, found a mapping"]),
        ("- pools\n", ["ballast.yaml:1:1: error: expected a mapping of keys to values, found a list"]),
        ("""
        pools:
          - name: a
            addresses: 192.0.2.0/24
            interfaces: eth0
        announce:
          burstInterval: 0
          burstCount: 0
        """, [
            "ballast.yaml:3:16: error: pools[0].addresses: expected a list, found \"192.0.2.0/24\"\n  hint: write it as a list: [192.0.2.0/24]",
            "ballast.yaml:4:17: error: pools[0].interfaces: expected a list, found \"eth0\"\n  hint: write it as a list: [eth0]",
            "ballast.yaml:6:18: error: announce.burstInterval: must be longer than 0\n  hint: \(durationHint)",
            "ballast.yaml:7:15: error: announce.burstCount: 0 is out of range 1-100",
        ]),
        ("pools:\n  - addresses: [192.0.2.0/24]\n", [
            "ballast.yaml:2:5: error: pools[0]: missing required key \"name\"\n  hint: every pool needs a name; Services select pools by it",
        ]),
        ("pools:\n  - name: a\n    addresses: []\n", [
            "ballast.yaml:3:16: error: pools[0].addresses: a pool needs at least one address range\n  hint: e.g. addresses: [192.0.2.0/24]",
        ]),
        // Settings with rules of their own.
        ("""
        source:
          files: {directory: /srv}
          kubernetes: {}
        vipInterface: ballast-vips-interface0
        stateDirectory: var/lib/ballast
        metricsAddress: "::1:9734"
        loadBalancerClass: ballast
        pools: [{name: a, addresses: [192.0.2.0/24]}]
        """, [
            "ballast.yaml:2:3: error: source: names both files and kubernetes; Ballast reads Services from one source\n  hint: use either files: {directory: PATH} or kubernetes: {kubeconfig: PATH}",
            "ballast.yaml:4:15: error: vipInterface: interface name \"ballast-vips-interface0\" is longer than 15 bytes (Linux IFNAMSIZ)",
            "ballast.yaml:5:17: error: stateDirectory: \"var/lib/ballast\" is not an absolute path\n  hint: the daemon's working directory is not fixed; start with /",
            "ballast.yaml:6:17: error: metricsAddress: \"::1\" in \"::1:9734\" is not a host name or address\n  hint: put an IPv6 address in brackets: [::1]:9734",
            "ballast.yaml:7:20: error: loadBalancerClass: \"ballast\" is not a valid loadBalancerClass\n  hint: Kubernetes requires a domain-prefixed name such as ballast.io/lb",
        ]),
        ("source: {}\npools: [{name: a, addresses: [192.0.2.0/24]}]\n", [
            "ballast.yaml:1:9: error: source: names no source of Services\n  hint: use either files: {directory: PATH} or kubernetes: {kubeconfig: PATH}",
        ]),
        // Label selectors follow the API server's rules.
        ("""
        pools:
          - name: a
            addresses: [192.0.2.0/24]
            serviceAllocation:
              serviceSelectors:
                - matchExpressions:
                    - key: tier
                      operator: In
                    - key: env
                      operator: Exist
                    - key: zone
                      operator: DoesNotExist
                      values: [a]
        """, [
            "ballast.yaml:7:15: error: pools[0].serviceAllocation.serviceSelectors[0].matchExpressions[0]: operator In needs at least one value\n  hint: add values: [...] or use Exists",
            "ballast.yaml:10:25: error: pools[0].serviceAllocation.serviceSelectors[0].matchExpressions[1].operator: \"Exist\" is not valid\n  hint: did you mean \"Exists\"? (valid values: In, NotIn, Exists, DoesNotExist)",
            "ballast.yaml:11:15: error: pools[0].serviceAllocation.serviceSelectors[0].matchExpressions[2]: operator DoesNotExist takes no values\n  hint: remove values, or use In/NotIn to compare them",
        ]),
        // Referenced files must exist.
        ("metallb: [metallb/missing.yaml]\npools: [{name: a, addresses: [192.0.2.0/24]}]\n", [
            "ballast.yaml:1:11: error: metallb[0]: metallb/missing.yaml: no such file or directory",
        ]),
        // YAML syntax and repeated keys.
        ("pools:\n  - name: a\n    addresses: [192.0.2.0/24\n", [
            "ballast.yaml:4:1: error: YAML syntax: did not find expected ',' or ']' (while parsing a flow sequence at line 3)",
        ]),
        ("pools: []\npools: []\n", [
            "ballast.yaml:1:1: error: key \"pools\" appears more than once in one mapping\n  hint: keep one of them; YAML mappings cannot repeat a key",
        ]),
    ])
    func errors(yaml: String, expected: [String]) {
        let found = messages { () throws(Diagnostics) in try decode(yaml) }
        #expect(found == expected)
    }

    @Test func errorsEndWithACount() {
        do throws(Diagnostics) {
            _ = try decode("pools:\n  - name: a\n    addresses: [192.0.2.1/24, 192.0.2.9/8]\n")
            Issue.record("accepted")
        } catch {
            #expect(error.errors.count == 2)
            #expect(error.description.hasSuffix("\n2 errors, 0 warnings"))
        }
    }

    @Test func missingFile() {
        #expect(messages { () throws(Diagnostics) in
            try ConfigurationFile.load(path: "/etc/ballast/ballast.yaml", fileSystem: Fixture.fileSystem([:]))
        } == ["error: configuration file /etc/ballast/ballast.yaml no such file\n  hint: docs/configuration.md describes the file; configs/ballast.yaml is an example"])
    }
}
