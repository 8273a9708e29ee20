import Testing
@testable import BallastCore

@Suite struct PlanRenderingTests {
    static func example() -> DesiredState {
        let snapshot = cluster([
            lb("ns/web", ports: ["80", "443"], affinity: .clientIP(timeoutSeconds: 600)),
            lb("ns/api", annotations: ["ballast.io/address-pool": "lab"], policy: .local),
            lb("ns/local", annotations: ["ballast.io/address-pool": "lab"], policy: .local),
            lb("ns/other", loadBalancerClass: "example.com/lb"),
            lb("ns/zz-late"),
            lb("ns/zzz-full"),
        ], [
            slice("web-1", of: "ns/web", [endpoint("10.0.0.1", on: "node-a"),
                                          endpoint("10.0.0.2", on: "node-b", ready: false, serving: true, terminating: true)]),
            slice("api-1", of: "ns/api", [endpoint("10.0.1.1", on: "node-b")]),
            slice("local-1", of: "ns/local", [endpoint("10.0.2.1", on: "node-a")]),
        ])
        let configuration = Configuration(pools: [pool("public", "192.0.2.0/31"),
                                                  pool("lab", "198.51.100.0/24", autoAssign: false, interfaces: ["eth1"])])
        let allocation = Allocator(configuration: configuration)
            .allocate(snapshot: snapshot, previous: [ref("ns/web"): [ip("192.0.2.200")]])
        return Planner(configuration: configuration, nodeName: "node-a")
            .plan(snapshot: snapshot, allocation: allocation, liveNodes: ["node-a", "node-b"])
    }

    @Test func rendersStably() {
        let expected = """
            Desired state for node node-a

            IPVS virtual services (5):
              TCP 192.0.2.0:80 rr persistent 600s netmask /32
                → 10.0.0.1:8080 masq weight 1
                → 10.0.0.2:8080 masq weight 0 (draining)
              TCP 192.0.2.0:443 rr persistent 600s netmask /32
                → 10.0.0.1:8080 masq weight 1
                → 10.0.0.2:8080 masq weight 0 (draining)
              TCP 192.0.2.1:80 rr
                (no destinations)
              TCP 198.51.100.0:80 rr
                (no destinations)
              TCP 198.51.100.1:80 rr
                → 10.0.2.1:8080 masq weight 1

            VIPs held by this node (1):
              198.51.100.1

            SNAT rules (2):
              masquerade TCP 192.0.2.0:80 → 10.0.0.2
              masquerade TCP 192.0.2.0:443 → 10.0.0.2

            Announcements (3):
              192.0.2.0 by node-b on automatic interface (pool public): ns/web
              198.51.100.0 by node-b on eth1 (pool lab): ns/api
              198.51.100.1 by node-a (this node) on eth1 (pool lab): ns/local

            Services (6):
              ns/api: 198.51.100.0 (pool lab), externalTrafficPolicy Local, endpoints 1 ready of 1, 0 destinations here
                - externalTrafficPolicy is Local and node node-a has no ready local endpoint; 198.51.100.0 is announced by node-b
              ns/local: 198.51.100.1 (pool lab), externalTrafficPolicy Local, endpoints 1 ready of 1, 1 destination here
              ns/other: no address
                - ignored: loadBalancerClass "example.com/lb" belongs to another implementation (Ballast's is "ballast.io/lb")
              ns/web: 192.0.2.0 (pool public), externalTrafficPolicy Cluster, endpoints 1 ready, 1 draining of 2, 2 destinations + 2 draining here
                - 192.0.2.200 withdrawn: no address pool contains it any more
              ns/zz-late: 192.0.2.1 (pool public), externalTrafficPolicy Cluster, endpoints 0 ready of 0, 0 destinations here
                - no EndpointSlices for this Service
                - 192.0.2.1 is not announced: no ready endpoints
              ns/zzz-full: no address
                - no address: no free address: pool "public" is exhausted (2 of 2 in use)

            Pools (2):
              lab IPv4: 2 of 256 in use
              public IPv4: 2 of 2 in use

            """
        #expect(Self.example().rendered() == expected)
        #expect(Self.example().description == expected)
    }

    @Test func emptyStateRendersEverySection() {
        #expect(DesiredState(node: "n").rendered() == """
            Desired state for node n

            IPVS virtual services (0):
              (none)

            VIPs held by this node (0):
              (none)

            SNAT rules (0):
              (none)

            Announcements (0):
              (none)

            Services (0):
              (none)

            Pools (0):
              (none)

            """)
    }
}
