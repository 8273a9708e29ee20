import BallastCore
import Testing
@testable import BallastConfig

/// MetalLB's pool definitions: CRDs with L2Advertisements folded in, the legacy ConfigMap, and errors.
@Suite struct MetalLBTests {
    private func range(_ text: String) -> AddressRange { try! AddressRange(parsingPoolEntry: text) }
    private func at(_ file: String, _ line: Int, _ column: Int) -> Location { Location(file: file, line: line, column: column) }

    private func load(_ name: String) throws -> LoadedConfiguration {
        try ConfigurationFile.load(path: name, fileSystem: try Fixture.fileSystem(fixtures: [name]))
    }

    @Test func poolsAndAdvertisements() throws {
        let file = "metallb/pools-and-advertisements.yaml"
        let loaded = try load(file)
        #expect(loaded.configuration.pools == [
            AddressPool(name: "public", ranges: [range("192.0.2.0/25"), range("2001:db8::100-2001:db8::1ff")],
                        avoidBuggyIPs: true, interfaces: ["eth0"], location: at(file, 7, 1)),
            AddressPool(name: "internal", ranges: [range("198.51.100.0/26")],
                        serviceAllocation: ServiceAllocation(
                            priority: 10, namespaces: ["payments"],
                            namespaceSelectors: [LabelSelector(matchLabels: ["team": "payments"])],
                            serviceSelectors: [LabelSelector(matchExpressions: [
                                .init(key: "exposure", operator: .in, values: ["internal", "partner"]),
                            ])]),
                        interfaces: ["eth1"], nodeSelectors: [LabelSelector(matchLabels: ["node-role.kubernetes.io/edge": ""])],
                        location: at(file, 20, 1)),
            AddressPool(name: "reserved", ranges: [range("198.51.100.200-198.51.100.210")], autoAssign: false,
                        location: at(file, 41, 1)),
        ])
        // Everything but the pools keeps its default.
        var rest = loaded.configuration
        rest.pools = []
        #expect(rest == Configuration())
        #expect(loaded.diagnostics.map(\.description) == [
            "note: \(file) holds MetalLB resources: using their pools, and defaults for every other setting",
            "\(file):2:1: warning: v1 Namespace is not a MetalLB pool definition; ignored",
            "\(file):41:1: warning: no L2Advertisement selects pool \"reserved\": MetalLB would assign its addresses but not announce them; Ballast announces them from every node\n  hint: add an L2Advertisement for this pool (one with an empty spec selects every pool)",
            "\(file):77:1: warning: BGPPeer ignored: Ballast announces with ARP/NDP (layer 2) only and does not speak BGP",
        ])
    }

    /// `kubectl get ipaddresspools,l2advertisements -o yaml`: a List, with status and managed metadata.
    @Test func kubectlList() throws {
        let file = "metallb/ipaddresspools-list.yaml"
        let loaded = try load(file)
        #expect(loaded.configuration.pools == [AddressPool(name: "default", ranges: [range("192.0.2.0/24")], location: at(file, 3, 3))])
        #expect(loaded.diagnostics.count == 1)
    }

    /// Positions inside the ConfigMap's embedded text are positions in the file.
    @Test func legacyConfigMap() throws {
        let file = "metallb/legacy-configmap.yaml"
        let loaded = try load(file)
        #expect(loaded.configuration.pools == [
            AddressPool(name: "default", ranges: [range("192.0.2.10-192.0.2.99"), range("2001:db8::/120")],
                        location: at(file, 9, 7)),
            AddressPool(name: "manual", ranges: [range("198.51.100.0/24")], autoAssign: false, avoidBuggyIPs: true,
                        location: at(file, 14, 7)),
        ])
        #expect(loaded.diagnostics.count == 1)
    }

    @Test func legacyConfigText() throws {
        let file = "metallb/legacy-config.yaml"
        #expect(try load(file).configuration.pools == [
            AddressPool(name: "default", ranges: [range("192.0.2.0/24")], location: at(file, 3, 3)),
        ])
    }

    @Test func legacyBGPIsAnError() throws {
        let file = "metallb/legacy-bgp-configmap.yaml"
        let fs = try Fixture.fileSystem(fixtures: [file])
        #expect(messages { () throws(Diagnostics) in try ConfigurationFile.load(path: file, fileSystem: fs) } == [
            "note: \(file) holds MetalLB resources: using their pools, and defaults for every other setting",
            "\(file):9:5: warning: ConfigMap metallb-system/config: peers: ignored: Ballast announces with ARP/NDP (layer 2) only and does not speak BGP",
            "\(file):16:9: error: ConfigMap metallb-system/config: address-pools[0].addresses[0]: \"192.0.2.1/24\" has host bits set\n  hint: did you mean 192.0.2.0/24? For the single address write 192.0.2.1/32",
            "\(file):18:17: error: ConfigMap metallb-system/config: address-pools[1].protocol: pool \"routed\" uses protocol bgp; Ballast announces with ARP/NDP (layer 2) only\n  hint: set protocol: layer2 to announce these addresses on the local network, or leave the pool out",
        ])
    }

    /// ballast.yaml pulls MetalLB files in (a directory here); pools of both are validated together.
    @Test func referencedFromBallastYAML() throws {
        let fs = Fixture.fileSystem([
            "/etc/ballast/ballast.yaml": """
                pools:
                  - name: extra
                    addresses: [203.0.113.0/24, 192.0.2.5]
                metallb: [metallb]
                """,
            "/etc/ballast/metallb/10-pools.yaml": try Fixture.text("metallb/ipaddresspools-list.yaml"),
            "/etc/ballast/metallb/20-legacy.yml": try Fixture.text("metallb/legacy-config.yaml"),
            "/etc/ballast/metallb/README.md": "not read",
            "/etc/ballast/metallb/.10-pools.yaml.swp": "not read",
        ])
        let found = messages { () throws(Diagnostics) in try ConfigurationFile.load(path: "/etc/ballast/ballast.yaml", fileSystem: fs) }
        #expect(found == [
            "/etc/ballast/metallb/10-pools.yaml:17:7: error: pool \"default\" range 192.0.2.0/24 overlaps pool \"extra\" range 192.0.2.5/32 (/etc/ballast/ballast.yaml:3:33)\n  hint: an address can belong to one pool only; shrink or remove one of the two ranges",
            "/etc/ballast/metallb/20-legacy.yml:3:9: error: duplicate pool name \"default\"\n  hint: the first pool of that name is at /etc/ballast/metallb/10-pools.yaml:11:11; pool names must be unique",
            "/etc/ballast/metallb/20-legacy.yml:6:5: error: pool \"default\" range 192.0.2.0/24 overlaps pool \"default\" range 192.0.2.0/24 (/etc/ballast/metallb/10-pools.yaml:17:7)\n  hint: an address can belong to one pool only; shrink or remove one of the two ranges",
        ])
    }

    @Test func referencedFilesAreListed() throws {
        let fs = Fixture.fileSystem([
            "/etc/ballast/ballast.yaml": "metallb: [m/pools.yaml, /srv/legacy.yaml]\n",
            "/etc/ballast/m/pools.yaml": try Fixture.text("metallb/ipaddresspools-list.yaml"),
            "/srv/legacy.yaml": "address-pools: [{name: b, protocol: layer2, addresses: [198.51.100.0/24]}]\n",
        ])
        let loaded = try ConfigurationFile.load(path: "/etc/ballast/ballast.yaml", fileSystem: fs)
        #expect(loaded.files == ["/etc/ballast/ballast.yaml", "/etc/ballast/m/pools.yaml", "/srv/legacy.yaml"])
        #expect(loaded.configuration.pools.map(\.name) == ["default", "b"])
    }

    /// Several advertisements for one pool are merged (with a warning when they differ), and typos are caught.
    @Test func advertisementRules() throws {
        let yaml = """
        apiVersion: metallb.io/v1beta1
        kind: IPAddressPool
        metadata: {name: web, labels: {zone: a}}
        spec:
          addresses: [192.0.2.0/24]
          autoAsign: false
        ---
        apiVersion: metallb.io/v1beta1
        kind: L2Advertisement
        metadata: {name: eth0}
        spec:
          ipAddressPools: [web, wbe]
          interfaces: [eth0]
          nodeSelectors: [{matchLabels: {rack: "1"}}]
        ---
        apiVersion: metallb.io/v1beta1
        kind: L2Advertisement
        metadata: {name: zone-a}
        spec:
          ipAddressPoolSelectors: [{matchLabels: {zone: a}}]
          interfaces: [eth1]
          nodeSelectors: [{matchLabels: {rack: "2"}}]
        """
        let loaded = try ConfigurationFile.decode(yaml: yaml, file: "m.yaml", fileSystem: Fixture.fileSystem([:]))
        #expect(loaded.configuration.pools == [
            AddressPool(name: "web", ranges: [range("192.0.2.0/24")], interfaces: ["eth0", "eth1"],
                        nodeSelectors: [LabelSelector(matchLabels: ["rack": "1"]), LabelSelector(matchLabels: ["rack": "2"])],
                        location: at("m.yaml", 1, 1)),
        ])
        #expect(loaded.diagnostics.dropFirst().map(\.description) == [
            "m.yaml:1:1: warning: L2Advertisements eth0, zone-a select pool \"web\" with different interfaces or nodeSelectors; Ballast merges them, so every selected node announces on every listed interface",
            "m.yaml:6:3: warning: IPAddressPool default/web: spec: unknown key \"autoAsign\" (ignored)\n  hint: did you mean \"autoAssign\"? (keys allowed here: addresses, autoAssign, avoidBuggyIPs, serviceAllocation)",
            "m.yaml:8:1: warning: L2Advertisement eth0 names pool \"wbe\", which is not defined\n  hint: did you mean \"web\"?",
        ])
    }

    @Test func deprecatedAddressPoolCRD() throws {
        let yaml = """
        apiVersion: metallb.io/v1beta1
        kind: AddressPool
        metadata: {name: old, namespace: metallb-system}
        spec:
          protocol: layer2
          addresses: [192.0.2.0/28]
          avoidBuggyIPs: true
        """
        let loaded = try ConfigurationFile.decode(yaml: yaml, file: "m.yaml", fileSystem: Fixture.fileSystem([:]))
        // Announced without an L2Advertisement, as MetalLB converted these pools.
        #expect(loaded.configuration.pools == [
            AddressPool(name: "old", ranges: [range("192.0.2.0/28")], avoidBuggyIPs: true, location: at("m.yaml", 1, 1)),
        ])
        #expect(loaded.diagnostics.count == 1)
    }

    @Test(arguments: [
        // A JSON ConfigMap holds the configuration as a quoted string: findings point at the string.
        ("""
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "config"},
         "data": {"config": "address-pools:\\n- name: a\\n  protocol: layer2\\n  addresses: [192.0.2.300/24]\\n"}}
        """, [
            "m.yaml:2:21: error: ConfigMap default/config: address-pools[0].addresses[0]: \"192.0.2.300/24\" is not an IPv4 or IPv6 CIDR or range\n  hint: write a CIDR such as 192.0.2.0/24 or a range such as 192.0.2.10-192.0.2.20",
        ]),
        ("""
        apiVersion: metallb.io/v1beta1
        kind: IPAddressPool
        metadata: {name: a}
        spec: {addresses: []}
        """, [
            "m.yaml:4:19: error: IPAddressPool default/a: spec.addresses: a pool needs at least one address range\n  hint: e.g. addresses: [192.0.2.0/24]",
        ]),
        ("""
        apiVersion: metallb.io/v1beta1
        kind: IPAddressPool
        metadata: {name: a}
        """, [
            "m.yaml:1:1: error: IPAddressPool default/a: missing required key \"spec\"",
        ]),
        ("""
        apiVersion: metallb.io/v1beta1
        kind: L2Advertisement
        metadata: {name: a}
        spec: {interfaces: [eth0/1]}
        """, [
            "m.yaml:4:21: error: L2Advertisement default/a: spec.interfaces[0]: interface name \"eth0/1\" contains \"/\", \":\" or white space, which Linux does not allow",
        ]),
        ("""
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: config}
        data: {other: x}
        """, [
            "m.yaml:1:1: warning: ConfigMap default/config: no data.config key, so no MetalLB configuration; ignored",
            "m.yaml:1:1: error: no address pools are defined\n  hint: MetalLB pools are IPAddressPool objects, or address-pools in the legacy ConfigMap",
        ]),
    ])
    func errors(yaml: String, expected: [String]) {
        let found = messages { () throws(Diagnostics) in
            try ConfigurationFile.decode(yaml: yaml, file: "m.yaml", fileSystem: Fixture.fileSystem([:]))
        }
        #expect(Array(found.dropFirst()) == expected)
    }
}
