import Testing
@testable import BallastCore

// MARK: Builders

func endpoint(_ address: String, on node: String?, ready: Bool? = nil, serving: Bool? = nil, terminating: Bool? = nil,
              pod: String? = nil) -> Endpoint {
    Endpoint(address: ip(address), conditions: EndpointConditions(ready: ready, serving: serving, terminating: terminating),
             nodeName: node, target: pod.map { .pod(ref($0)) } ?? .none)
}

func slice(_ name: String, of service: String, family: AddressFamily = .ipv4, ports: [EndpointPort] = [EndpointPort(port: 8080)],
           _ endpoints: [Endpoint]) -> EndpointSlice {
    let service = ref(service)
    return EndpointSlice(ref: ObjectRef(namespace: service.namespace, name: name), serviceName: service.name,
                         addressType: family, endpoints: endpoints, ports: ports)
}

func cluster(_ services: [Service], _ slices: [EndpointSlice] = [], nodes: [Node] = []) -> ClusterSnapshot {
    ClusterSnapshot(services: Dictionary(uniqueKeysWithValues: services.map { ($0.ref, $0) }),
                    endpointSlices: Dictionary(uniqueKeysWithValues: slices.map { ($0.ref, $0) }),
                    nodes: Dictionary(uniqueKeysWithValues: nodes.map { ($0.name, $0) }))
}

func desired(for node: String, _ snapshot: ClusterSnapshot, pools: [AddressPool] = [pool("public", "192.0.2.0/24")],
             live: Set<String> = ["node-a", "node-b", "node-c"], scheduler: IPVSScheduler = .rr) -> DesiredState {
    let configuration = Configuration(pools: pools, ipvs: IPVSSettings(scheduler: scheduler))
    let allocation = Allocator(configuration: configuration).allocate(snapshot: snapshot)
    return Planner(configuration: configuration, nodeName: node).plan(snapshot: snapshot, allocation: allocation, liveNodes: live)
}

func dest(_ address: String, _ port: UInt16, weight: Int32 = 1) -> IPVSDestination {
    IPVSDestination(address: ip(address), port: port, weight: weight)
}

func key(_ address: String, _ port: UInt16, _ proto: IPVSProtocol = .tcp) -> VirtualServiceKey {
    .address(ip(address), port: port, protocol: proto)
}

@Suite struct PlannerTests {
    // MARK: IPVS

    @Test func clusterPolicyForwardsToAllReadyEndpointsAndMasqueradesRemoteOnes() {
        let state = desired(for: "node-a", cluster([lb("ns/web")], [
            slice("web-1", of: "ns/web", [endpoint("10.0.1.1", on: "node-a"), endpoint("10.0.2.1", on: "node-b"),
                                          endpoint("10.0.9.9", on: nil)]),
        ]))
        #expect(state.ipvs == [IPVSVirtualService(key: key("192.0.2.0", 80), scheduler: .rr, destinations: [
            dest("10.0.1.1", 8080), dest("10.0.2.1", 8080), dest("10.0.9.9", 8080),
        ])])
        // An endpoint with no nodeName may be anywhere: masquerade to be safe.
        #expect(state.snat == [SNATRule(address: ip("192.0.2.0"), port: 80, protocol: .tcp,
                                        destinations: [ip("10.0.2.1"), ip("10.0.9.9")])])
        #expect(state.services[ref("ns/web")]?.destinations == 3)
        #expect(state.services[ref("ns/web")]?.reasons == [])
    }

    @Test func localPolicyForwardsOnlyToThisNodesEndpointsWithoutSNAT() {
        let snapshot = cluster([lb("ns/web", policy: .local)], [
            slice("web-1", of: "ns/web", [endpoint("10.0.1.1", on: "node-a"), endpoint("10.0.2.1", on: "node-b")]),
        ])
        let a = desired(for: "node-a", snapshot)
        #expect(a.ipvs.map(\.destinations) == [[dest("10.0.1.1", 8080)]])
        #expect(a.snat == [])
        let c = desired(for: "node-c", snapshot)
        #expect(c.ipvs.map(\.destinations) == [[]])
        let announcer = c.announcements[0].node
        #expect(["node-a", "node-b"].contains(announcer))
        #expect(c.services[ref("ns/web")]?.reasons == [
            "externalTrafficPolicy is Local and node node-c has no ready local endpoint; 192.0.2.0 is announced by \(announcer)",
        ])
    }

    @Test func terminatingServingEndpointsDrainAtWeightZero() {
        let state = desired(for: "node-a", cluster([lb("ns/web")], [
            slice("web-1", of: "ns/web", [
                endpoint("10.0.0.1", on: "node-a"),
                endpoint("10.0.0.2", on: "node-a", ready: false, serving: true, terminating: true),
                endpoint("10.0.0.3", on: "node-a", ready: false, serving: false, terminating: true),
                endpoint("10.0.0.4", on: "node-a", ready: false),
            ]),
        ]))
        #expect(state.ipvs[0].destinations == [dest("10.0.0.1", 8080), dest("10.0.0.2", 8080, weight: 0)])
        let plan = state.services[ref("ns/web")]
        #expect(plan?.endpoints == EndpointCounts(ready: 1, draining: 1, total: 4))
        #expect(plan?.destinations == 1)
        #expect(plan?.drainingDestinations == 1)
    }

    @Test func targetPortsResolvePerSlice() {
        let service = lb("ns/web", servicePorts: [
            ServicePort(name: "http", protocol: .tcp, port: 80, targetPort: .name("web")),
            ServicePort(name: "metrics", protocol: .tcp, port: 9100, targetPort: .number(9100)),
            ServicePort(name: "admin", protocol: .tcp, port: 81, targetPort: .name("admin-port")),
        ])
        let state = desired(for: "node-a", cluster([service], [
            // As the EndpointSlice controller writes them: named after the Service port.
            slice("web-k8s", of: "ns/web", ports: [EndpointPort(name: "http", port: 8080), EndpointPort(name: "metrics", port: 9100)],
                  [endpoint("10.0.0.1", on: "node-a")]),
            // Hand-written: named after the container port, or without ports.
            slice("web-hand", of: "ns/web", ports: [EndpointPort(name: "web", port: 8081)], [endpoint("10.0.0.2", on: "node-a")]),
            slice("web-bare", of: "ns/web", ports: [], [endpoint("10.0.0.3", on: "node-a")]),
        ]))
        #expect(state.ipvs.map(\.key) == [key("192.0.2.0", 80), key("192.0.2.0", 81), key("192.0.2.0", 9100)])
        #expect(state.ipvs[0].destinations == [dest("10.0.0.1", 8080), dest("10.0.0.2", 8081)])
        #expect(state.ipvs[1].destinations == [])
        #expect(state.ipvs[2].destinations == [dest("10.0.0.1", 9100), dest("10.0.0.2", 9100), dest("10.0.0.3", 9100)])
        #expect(state.services[ref("ns/web")]?.reasons == [
            "targetPort \"web\" is not a port of EndpointSlice ns/web-bare",
            "targetPort \"admin-port\" is not a port of EndpointSlice ns/web-bare",
            "targetPort \"admin-port\" is not a port of EndpointSlice ns/web-hand",
            "targetPort \"admin-port\" is not a port of EndpointSlice ns/web-k8s",
        ])
    }

    @Test func clientIPAffinityBecomesPersistence() {
        let state = desired(for: "node-a", cluster([
            lb("ns/v4", affinity: .clientIP(timeoutSeconds: 600)),
            lb("ns/v6", families: [.ipv6], affinity: .clientIP(timeoutSeconds: SessionAffinity.defaultClientIPTimeout)),
        ]), pools: [pool("p", "192.0.2.0/24", "2001:db8::/120")], scheduler: .wlc)
        #expect(state.ipvs.map(\.persistence) == [IPVSPersistence(timeout: 600, netmaskPrefix: 32),
                                                  IPVSPersistence(timeout: 10800, netmaskPrefix: 128)])
        #expect(state.ipvs.map(\.scheduler) == [.wlc, .wlc])
    }

    @Test func eachFamilyUsesItsOwnSlices() {
        let state = desired(for: "node-a", cluster([lb("ns/web", familyPolicy: .requireDualStack)], [
            slice("web-v4", of: "ns/web", family: .ipv4, [endpoint("10.0.0.1", on: "node-a", pod: "ns/pod-1")]),
            slice("web-v6", of: "ns/web", family: .ipv6, [endpoint("fd00::1", on: "node-a", pod: "ns/pod-1")]),
        ]), pools: [pool("p", "192.0.2.0/24", "2001:db8::/120")], live: ["node-a"])
        #expect(state.ipvs.map(\.key) == [key("192.0.2.0", 80), key("2001:db8::", 80)])
        #expect(state.ipvs.map(\.destinations) == [[dest("10.0.0.1", 8080)], [dest("fd00::1", 8080)]])
        #expect(state.vips == [ip("192.0.2.0"), ip("2001:db8::")])
        // The same pod in both families counts once.
        #expect(state.services[ref("ns/web")]?.endpoints == EndpointCounts(ready: 1, draining: 0, total: 1))
    }

    @Test func udpAndSCTPPortsGetTheirOwnVirtualServices() {
        let state = desired(for: "node-a", cluster([lb("ns/dns", ports: ["udp/53", "tcp/53", "sctp/5000"])], [
            slice("dns-1", of: "ns/dns", ports: [], [endpoint("10.0.0.1", on: "node-a")]),
        ]))
        #expect(state.ipvs.map(\.key) == [key("192.0.2.0", 53, .tcp), key("192.0.2.0", 53, .udp), key("192.0.2.0", 5000, .sctp)])
    }

    // MARK: Announcements

    @Test func oneAnnouncerPerAddressAndEveryNodeAgrees() {
        let services = (0..<40).map { lb("ns/s\($0)") }
        let slices = (0..<40).map { slice("s\($0)-1", of: "ns/s\($0)", [endpoint("10.0.0.\($0)", on: "node-a")]) }
        let snapshot = cluster(services, slices)
        let states = ["node-a", "node-b", "node-c"].map { desired(for: $0, snapshot) }
        #expect(states[0].announcements.count == 40)
        #expect(states[1].announcements == states[0].announcements)
        #expect(states[2].announcements == states[0].announcements)
        // Rendezvous hashing spreads the addresses over the nodes.
        for state in states {
            #expect(state.vips == state.announcements.filter { $0.node == state.node }.map(\.address))
            #expect(!state.vips.isEmpty)
        }
        #expect(Set(states.flatMap(\.vips)).count == 40)
        // Every node programs every address.
        #expect(states.allSatisfy { $0.ipvs.count == 40 })
    }

    @Test func ineligibleNodesNeverAnnounce() {
        let nodes = [
            Node(name: "node-a"), Node(name: "node-b", ready: false),
            Node(name: "node-c", labels: [Node.excludeFromLoadBalancersLabel: ""]),
            Node(name: "node-d", labels: ["zone": "b"]), Node(name: "node-e", labels: ["zone": "a"]),
        ]
        let services = (0..<20).map { lb("ns/s\($0)") }
        let slices = (0..<20).map { slice("s\($0)-1", of: "ns/s\($0)", [endpoint("10.0.0.\($0)", on: "node-b")]) }
        let state = desired(for: "node-a", cluster(services, slices, nodes: nodes),
                            pools: [pool("p", "192.0.2.0/24", nodeSelectors: [LabelSelector(matchLabels: ["zone": "a"])])],
                            live: ["node-b", "node-c", "node-d", "node-e"])
        #expect(state.announcements.count == 20)
        #expect(state.announcements.allSatisfy { $0.node == "node-e" })
        #expect(state.vips == [])
    }

    @Test func noEligibleNodeIsExplained() {
        let nodes = [Node(name: "node-a"), Node(name: "node-b", ready: false),
                     Node(name: "node-c", labels: [Node.excludeFromLoadBalancersLabel: "true"]), Node(name: "node-d")]
        let state = desired(for: "node-a", cluster([lb("ns/web")], [slice("web-1", of: "ns/web", [endpoint("10.0.0.1", on: "node-b")])],
                                                   nodes: nodes),
                            pools: [pool("p", "192.0.2.0/24", nodeSelectors: [LabelSelector(matchLabels: ["zone": "a"])])],
                            live: ["node-b", "node-c", "node-d"])
        #expect(state.announcements == [])
        #expect(state.services[ref("ns/web")]?.reasons == [
            "192.0.2.0 is not announced: no eligible node (not live: node-a; not Ready: node-b; excluded by label "
                + "node.kubernetes.io/exclude-from-external-load-balancers: node-c; not selected by the nodeSelectors of pool \"p\": node-d)",
        ])
    }

    @Test func noReadyEndpointsMeansNoAnnouncement() {
        let state = desired(for: "node-a", cluster([lb("ns/web"), lb("ns/empty")], [
            slice("web-1", of: "ns/web", [endpoint("10.0.0.1", on: "node-a", ready: false)]),
        ]))
        #expect(state.announcements == [])
        #expect(state.services[ref("ns/web")]?.reasons == ["192.0.2.1 is not announced: no ready endpoints"])
        #expect(state.services[ref("ns/empty")]?.reasons == [
            "no EndpointSlices for this Service", "192.0.2.0 is not announced: no ready endpoints",
        ])
        #expect(state.ipvs.count == 2)
    }

    @Test func localPolicyAnnouncesOnlyFromNodesWithReadyLocalEndpoints() {
        let services = (0..<20).map { lb("ns/s\($0)", policy: .local) }
        let slices = (0..<20).map {
            slice("s\($0)-1", of: "ns/s\($0)", [endpoint("10.0.0.\($0)", on: "node-c"),
                                                endpoint("10.0.1.\($0)", on: "node-b", ready: false)])
        }
        let state = desired(for: "node-a", cluster(services, slices))
        #expect(state.announcements.count == 20)
        #expect(state.announcements.allSatisfy { $0.node == "node-c" })
    }

    @Test func localPolicyWithEndpointsOnlyOnIneligibleNodes() {
        let state = desired(for: "node-a", cluster([lb("ns/web", policy: .local)], [
            slice("web-1", of: "ns/web", [endpoint("10.0.0.1", on: "node-z")]),
        ]))
        #expect(state.announcements == [])
        #expect(state.services[ref("ns/web")]?.reasons == [
            "192.0.2.0 is not announced: externalTrafficPolicy is Local and no eligible node has a ready local endpoint (endpoints run on node-z)",
            "externalTrafficPolicy is Local and node node-a has no ready local endpoint",
        ])
    }

    @Test func aSharedAddressHasOneAnnouncementForAllItsServices() {
        let services = [lb("ns/http", ports: ["80"], annotations: shared("k")), lb("ns/https", ports: ["443"], annotations: shared("k"))]
        let slices = [slice("http-1", of: "ns/http", [endpoint("10.0.0.1", on: "node-b")]),
                      slice("https-1", of: "ns/https", [endpoint("10.0.0.2", on: "node-c")])]
        let states = ["node-a", "node-b", "node-c"].map { desired(for: $0, cluster(services, slices)) }
        #expect(states[0].announcements.count == 1)
        #expect(states[0].announcements[0].services == [ref("ns/http"), ref("ns/https")])
        #expect(states.allSatisfy { $0.announcements == states[0].announcements })
        #expect(states.flatMap(\.vips) == [ip("192.0.2.0")])
        #expect(states[0].ipvs.map(\.key) == [key("192.0.2.0", 80), key("192.0.2.0", 443)])
    }

    @Test func sharedLocalServicesAgreeOnANodeWithBothEndpoints() {
        let services = [lb("ns/http", ports: ["80"], annotations: shared("k"), policy: .local),
                        lb("ns/https", ports: ["443"], annotations: shared("k"), policy: .local)]
        let slices = [slice("http-1", of: "ns/http", [endpoint("10.0.0.1", on: "node-b"), endpoint("10.0.0.2", on: "node-c")]),
                      slice("https-1", of: "ns/https", [endpoint("10.0.0.2", on: "node-c")])]
        let state = desired(for: "node-a", cluster(services, slices))
        #expect(state.announcements.map(\.node) == ["node-c"])
    }

    @Test func sharedLocalServicesWithDisjointEndpointsStillGetOneAnnouncer() {
        let services = [lb("ns/http", ports: ["80"], annotations: shared("k"), policy: .local),
                        lb("ns/https", ports: ["443"], annotations: shared("k"), policy: .local)]
        let slices = [slice("http-1", of: "ns/http", [endpoint("10.0.0.1", on: "node-b")]),
                      slice("https-1", of: "ns/https", [endpoint("10.0.0.2", on: "node-c")])]
        let state = desired(for: "node-b", cluster(services, slices))
        let announcer = state.announcements[0].node
        #expect(["node-b", "node-c"].contains(announcer))
        let other = announcer == "node-b" ? "ns/https" : "ns/http"
        #expect(state.services[ref(other)]?.reasons.first ==
                "192.0.2.0 is announced by \(announcer) for the Services sharing it, but \(announcer) has no ready local endpoint of this Service")
    }

    @Test func aSharedAddressIsAnnouncedWhenOneOfItsServicesHasEndpoints() {
        let services = [lb("ns/http", ports: ["80"], annotations: shared("k")), lb("ns/https", ports: ["443"], annotations: shared("k"))]
        let state = desired(for: "node-a", cluster(services, [slice("http-1", of: "ns/http", [endpoint("10.0.0.1", on: "node-b")])]))
        #expect(state.announcements.count == 1)
        #expect(state.services[ref("ns/http")]?.reasons == [])
        #expect(state.services[ref("ns/https")]?.reasons == [
            "no EndpointSlices for this Service", "no ready endpoints for 192.0.2.0 (announced for the Services sharing it)",
        ])
    }

    @Test func announcementsCarryThePoolsInterfaces() {
        let state = desired(for: "node-a", cluster([lb("ns/web")], [slice("web-1", of: "ns/web", [endpoint("10.0.0.1", on: "node-a")])]),
                            pools: [pool("lab", "192.0.2.0/24", interfaces: ["eth1", "eth2"])], live: ["node-a"])
        #expect(state.localAnnouncements == [Announcement(address: ip("192.0.2.0"), node: "node-a", pool: "lab",
                                                          interfaces: ["eth1", "eth2"], services: [ref("ns/web")])])
    }

    @Test func liveNodesMissingFromTheSnapshotCountAsReadyUnlabelled() {
        let state = desired(for: "node-x", cluster([lb("ns/web")], [slice("web-1", of: "ns/web", [endpoint("10.0.0.1", on: nil)])]),
                            live: ["node-x"])
        #expect(state.vips == [ip("192.0.2.0")])
    }

    // MARK: Reasons

    @Test func servicesWithoutAnAddressSayWhy() {
        let snapshot = cluster([lb("ns/a"), lb("ns/b"), lb("ns/other", loadBalancerClass: "example.com/lb"),
                                Service(ref: ref("ns/plain"), type: .clusterIP)])
        let state = desired(for: "node-a", snapshot, pools: [pool("p", "192.0.2.0/32")])
        #expect(state.services[ref("ns/b")]?.reasons == ["no address: no free address: pool \"p\" is exhausted (1 of 1 in use)"])
        #expect(state.services[ref("ns/other")]?.reasons == [
            "ignored: loadBalancerClass \"example.com/lb\" belongs to another implementation (Ballast's is \"ballast.io/lb\")",
        ])
        #expect(state.services[ref("ns/plain")] == nil)
        #expect(state.ipvs.count == 1)
    }

    @Test func serviceWithoutPorts() {
        let state = desired(for: "node-a", cluster([lb("ns/web", ports: [])], [slice("web-1", of: "ns/web", [endpoint("10.0.0.1", on: "node-a")])]))
        #expect(state.ipvs == [])
        #expect(state.services[ref("ns/web")]?.reasons == ["the Service has no ports", "192.0.2.0 is not announced: no ready endpoints"])
    }

    @Test func collidingVirtualServicesFromAForeignAllocationAreRefused() {
        let snapshot = cluster([lb("ns/a"), lb("ns/b")], [slice("a-1", of: "ns/a", [endpoint("10.0.0.1", on: "node-a")]),
                                                          slice("b-1", of: "ns/b", [endpoint("10.0.0.2", on: "node-a")])])
        let allocation = AllocationResult(assignments: [ref("ns/a"): Assignment(pool: "p", addresses: [ip("192.0.2.1")]),
                                                        ref("ns/b"): Assignment(pool: "p", addresses: [ip("192.0.2.1")])])
        let state = Planner(configuration: Configuration(pools: [pool("p", "192.0.2.0/24")]), nodeName: "node-a")
            .plan(snapshot: snapshot, allocation: allocation, liveNodes: ["node-a"])
        #expect(state.ipvs.map(\.destinations) == [[dest("10.0.0.1", 8080)]])
        #expect(state.services[ref("ns/b")]?.reasons == ["TCP 192.0.2.1:80 is also a port of ns/a; not programmed for this Service"])
    }

    // MARK: Rendezvous hashing

    @Test func rendezvousScoresAreStableAcrossProcessesAndVersions() {
        // Golden values, computed independently (FNV-1a 64 over name, 0, address bytes; then fmix64).
        // Every node must compute these forever: changing the hash is a protocol change.
        #expect(Rendezvous.score(node: "node-a", address: ip("192.0.2.1")) == 3_284_517_704_256_288_427)
        #expect(Rendezvous.score(node: "node-b", address: ip("2001:db8::1")) == 4_742_983_649_647_779_732)
        #expect(StableHash.fmix64(0) == 0)
        var empty = StableHash()
        empty.combine(node: "")
        #expect(empty.state == 0xaf63_bd4c_8601_b7df) // FNV-1a 64 of a single 0 byte
    }

    @Test func rendezvousMovesOnlyTheLeavingNodesAddresses() {
        let nodes = (1...5).map { "node-\($0)" }
        let addresses = (0..<1000).map { IPAddress.v4(IPv4Address(0xC000_0200 + UInt32($0))) }
        let before = addresses.map { Rendezvous.owner(of: $0, among: nodes)! }
        let after = addresses.map { Rendezvous.owner(of: $0, among: nodes.filter { $0 != "node-3" })! }
        for (b, a) in zip(before, after) where b != "node-3" { #expect(a == b) }
        let counts = Dictionary(grouping: before, by: { $0 }).mapValues(\.count)
        #expect(counts.values.allSatisfy { (140...260).contains($0) }, "\(counts)")
        #expect(Rendezvous.owner(of: addresses[0], among: [String]()) == nil)
    }
}
