import Testing
@testable import BallastCore

/// One row of the allocation table: pools, Services, what they held before, and what each should get.
struct AllocationCase: Sendable, CustomTestStringConvertible {
    var name: String
    var pools: [AddressPool]
    var services: [Service]
    var namespaces: [Namespace] = []
    var previous: [String: [String]] = [:]
    var handleUnclassed = true
    var expect: [String: Outcome]

    var testDescription: String { name }
}

private let web = ["app": "web"]
private let db = ["app": "db"]

// MARK: - Which Services, and requested addresses

let selectionCases: [AllocationCase] = [
    AllocationCase(
        name: "lowest address first, from the start of the range",
        pools: [pool("p", "192.0.2.0/24")],
        services: [lb("ns/a"), lb("ns/b")],
        expect: ["ns/a": .got(["192.0.2.0"], pool: "p"), "ns/b": .got(["192.0.2.1"], pool: "p")]),
    AllocationCase(
        name: "ranges are tried in address order whatever the configuration order",
        pools: [pool("p", "198.51.100.0/31", "192.0.2.8/31")],
        services: [lb("ns/a"), lb("ns/b"), lb("ns/c")],
        expect: ["ns/a": .got(["192.0.2.8"]), "ns/b": .got(["192.0.2.9"]), "ns/c": .got(["198.51.100.0"])]),
    AllocationCase(
        name: "avoidBuggyIPs skips .0 and .255",
        pools: [pool("p", "192.0.2.254-192.0.3.1", avoidBuggyIPs: true)],
        services: [lb("ns/a"), lb("ns/b"), lb("ns/c")],
        expect: ["ns/a": .got(["192.0.2.254"]), "ns/b": .got(["192.0.3.1"]),
                 "ns/c": .failed("no free address: pool \"p\" is exhausted (2 of 2 in use)")]),
    AllocationCase(
        name: "Services of other types are not considered",
        pools: [pool("p", "192.0.2.0/24")],
        services: [Service(ref: ref("ns/cluster"), type: .clusterIP, ports: [ServicePort(port: 80)]),
                   Service(ref: ref("ns/np"), type: .nodePort, ports: [ServicePort(port: 80)]), lb("ns/a")],
        expect: ["ns/cluster": .absent, "ns/np": .absent, "ns/a": .got(["192.0.2.0"])]),
    AllocationCase(
        name: "another loadBalancerClass is left alone; Ballast's own is handled",
        pools: [pool("p", "192.0.2.0/24")],
        services: [lb("ns/other", loadBalancerClass: "example.com/lb"), lb("ns/mine", loadBalancerClass: "ballast.io/lb")],
        expect: ["ns/other": .ignored("loadBalancerClass \"example.com/lb\" belongs to another implementation (Ballast's is \"ballast.io/lb\")"),
                 "ns/mine": .got(["192.0.2.0"])]),
    AllocationCase(
        name: "unclassed Services are skipped when configured so",
        pools: [pool("p", "192.0.2.0/24")],
        services: [lb("ns/plain"), lb("ns/mine", loadBalancerClass: "ballast.io/lb")],
        handleUnclassed: false,
        expect: ["ns/plain": .ignored("it has no loadBalancerClass and handleUnclassedServices is off"),
                 "ns/mine": .got(["192.0.2.0"])]),
    AllocationCase(
        name: "spec.loadBalancerIP is honoured",
        pools: [pool("p", "192.0.2.0/24")],
        services: [lb("ns/a", loadBalancerIP: "192.0.2.77"), lb("ns/b")],
        expect: ["ns/a": .got(["192.0.2.77"]), "ns/b": .got(["192.0.2.0"])]),
    AllocationCase(
        name: "each of the three annotation prefixes requests addresses",
        pools: [pool("p", "192.0.2.0/24")],
        services: [lb("ns/a", annotations: ["ballast.io/loadBalancerIPs": "192.0.2.10"]),
                   lb("ns/b", annotations: ["metallb.io/loadBalancerIPs": "192.0.2.11"]),
                   lb("ns/c", annotations: ["metallb.universe.tf/loadBalancerIPs": " 192.0.2.12 "])],
        expect: ["ns/a": .got(["192.0.2.10"]), "ns/b": .got(["192.0.2.11"]), "ns/c": .got(["192.0.2.12"])]),
    AllocationCase(
        name: "ballast.io takes precedence over metallb.io",
        pools: [pool("p", "192.0.2.0/24")],
        services: [lb("ns/a", annotations: ["ballast.io/loadBalancerIPs": "192.0.2.10",
                                            "metallb.io/loadBalancerIPs": "192.0.2.20"])],
        expect: ["ns/a": .got(["192.0.2.10"])]),
    AllocationCase(
        name: "requested explicit addresses win over automatic allocation of the same run",
        pools: [pool("p", "192.0.2.0/30")],
        services: [lb("ns/a"), lb("ns/z", loadBalancerIP: "192.0.2.0")],
        expect: ["ns/a": .got(["192.0.2.1"]), "ns/z": .got(["192.0.2.0"])]),
    AllocationCase(
        name: "an address outside every pool is refused (MetalLB: not allowed in config)",
        pools: [pool("p", "192.0.2.0/24")],
        services: [lb("ns/a", loadBalancerIP: "198.51.100.1")],
        expect: ["ns/a": .failed("requested address 198.51.100.1 is not in any address pool")]),
    AllocationCase(
        name: "spec.loadBalancerIP and the annotation together are an error",
        pools: [pool("p", "192.0.2.0/24")],
        services: [lb("ns/a", annotations: ["metallb.io/loadBalancerIPs": "192.0.2.1"], loadBalancerIP: "192.0.2.2")],
        expect: ["ns/a": .failed("spec.loadBalancerIP and annotation metallb.io/loadBalancerIPs are both set; use only one")]),
    AllocationCase(
        name: "unparsable requested addresses",
        pools: [pool("p", "192.0.2.0/24")],
        services: [lb("ns/a", loadBalancerIP: "192.0.2.300"),
                   lb("ns/b", annotations: ["ballast.io/loadBalancerIPs": "192.0.2.1,nope"])],
        expect: ["ns/a": .failed("spec.loadBalancerIP \"192.0.2.300\" is not an IP address"),
                 "ns/b": .failed("annotation ballast.io/loadBalancerIPs \"nope\" is not an IP address")]),
    AllocationCase(
        name: "at most one requested address per family",
        pools: [pool("p", "192.0.2.0/24")],
        services: [lb("ns/a", annotations: ["metallb.io/loadBalancerIPs": "192.0.2.1,192.0.2.2"], familyPolicy: .preferDualStack)],
        expect: ["ns/a": .failed("annotation metallb.io/loadBalancerIPs lists two IPv4 addresses; at most one per family is allowed")]),
    AllocationCase(
        name: "a requested address avoided by avoidBuggyIPs",
        pools: [pool("p", "192.0.2.0/24", avoidBuggyIPs: true)],
        services: [lb("ns/a", loadBalancerIP: "192.0.2.255")],
        expect: ["ns/a": .failed("requested address 192.0.2.255 is in pool \"p\", which avoids addresses ending in .0 and .255 (avoidBuggyIPs)")]),
    AllocationCase(
        name: "requested addresses may come from a pool without autoAssign",
        pools: [pool("manual", "192.0.2.0/24", autoAssign: false)],
        services: [lb("ns/a", loadBalancerIP: "192.0.2.9"), lb("ns/b")],
        expect: ["ns/a": .got(["192.0.2.9"], pool: "manual"),
                 "ns/b": .failed("no pool assigns addresses to this Service automatically (pool \"manual\" has autoAssign off)")]),
    AllocationCase(
        name: "two Services requesting one address: the first by name gets it, the other is told who has it",
        pools: [pool("p", "192.0.2.0/24")],
        services: [lb("ns/b", loadBalancerIP: "192.0.2.7"), lb("ns/a", loadBalancerIP: "192.0.2.7")],
        expect: ["ns/a": .got(["192.0.2.7"]),
                 "ns/b": .failed("address 192.0.2.7 is already used by ns/a (it sets no allow-shared-ip key)")]),
    AllocationCase(
        name: "requested pool and address must agree",
        pools: [pool("a", "192.0.2.0/24"), pool("b", "198.51.100.0/24")],
        services: [lb("ns/x", annotations: ["metallb.io/address-pool": "b"], loadBalancerIP: "192.0.2.1")],
        expect: ["ns/x": .failed("requested address 192.0.2.1 is in pool \"a\", not in the requested pool \"b\"")]),
    AllocationCase(
        name: "requested addresses of two families must come from one pool",
        pools: [pool("a", "192.0.2.0/24"), pool("b", "2001:db8::/120")],
        services: [lb("ns/x", annotations: ["ballast.io/loadBalancerIPs": "192.0.2.1,2001:db8::1"], familyPolicy: .requireDualStack)],
        expect: ["ns/x": .failed("requested addresses must come from one pool: 192.0.2.1 in pool \"a\", 2001:db8::1 in pool \"b\"")]),
]

// MARK: - Pools: annotation, serviceAllocation, autoAssign, exhaustion

let poolCases: [AllocationCase] = [
    AllocationCase(
        name: "the address-pool annotation picks a pool, even one without autoAssign",
        pools: [pool("a", "192.0.2.0/24"), pool("b", "198.51.100.0/24", autoAssign: false)],
        services: [lb("ns/x", annotations: ["metallb.universe.tf/address-pool": "b"]), lb("ns/y")],
        expect: ["ns/x": .got(["198.51.100.0"], pool: "b"), "ns/y": .got(["192.0.2.0"], pool: "a")]),
    AllocationCase(
        name: "an unknown pool",
        pools: [pool("a", "192.0.2.0/24")],
        services: [lb("ns/x", annotations: ["ballast.io/address-pool": "nope"])],
        expect: ["ns/x": .failed("requested pool \"nope\" does not exist")]),
    AllocationCase(
        name: "serviceAllocation priority: lower number first, unnumbered after, open pools last",
        pools: [pool("open", "10.0.0.0/24"),
                pool("twenty", "10.0.20.0/24", allocation: ServiceAllocation(priority: 20, namespaces: ["ns"])),
                pool("ten", "10.0.10.0/24", allocation: ServiceAllocation(priority: 10, namespaces: ["ns"])),
                pool("unnumbered", "10.0.30.0/24", allocation: ServiceAllocation(namespaces: ["ns"]))],
        services: [lb("ns/x")],
        expect: ["ns/x": .got(["10.0.10.0"], pool: "ten")]),
    AllocationCase(
        name: "pools selecting a namespace serve only it; others fall back to open pools",
        pools: [pool("open", "10.0.0.0/24"), pool("prod", "10.0.1.0/24", allocation: ServiceAllocation(namespaces: ["prod"]))],
        services: [lb("prod/x"), lb("dev/y")],
        expect: ["prod/x": .got(["10.0.1.0"], pool: "prod"), "dev/y": .got(["10.0.0.0"], pool: "open")]),
    AllocationCase(
        name: "namespaceSelectors match Namespace labels",
        pools: [pool("open", "10.0.0.0/24"),
                pool("team", "10.0.1.0/24", allocation: ServiceAllocation(namespaceSelectors: [LabelSelector(matchLabels: ["team": "red"])]))],
        services: [lb("red/x"), lb("blue/y")],
        namespaces: [Namespace(name: "red", labels: ["team": "red"]), Namespace(name: "blue", labels: ["team": "blue"])],
        expect: ["red/x": .got(["10.0.1.0"], pool: "team"), "blue/y": .got(["10.0.0.0"], pool: "open")]),
    AllocationCase(
        name: "serviceSelectors match Service labels",
        pools: [pool("open", "10.0.0.0/24"),
                pool("edge", "10.0.1.0/24", allocation: ServiceAllocation(serviceSelectors: [
                    LabelSelector(matchExpressions: [.init(key: "tier", operator: .in, values: ["edge"])])]))],
        services: [lb("ns/x", labels: ["tier": "edge"]), lb("ns/y", labels: ["tier": "core"])],
        expect: ["ns/x": .got(["10.0.1.0"], pool: "edge"), "ns/y": .got(["10.0.0.0"], pool: "open")]),
    AllocationCase(
        name: "an exhausted selecting pool falls back to open pools",
        pools: [pool("open", "10.0.0.0/24"), pool("small", "10.0.1.0/32", allocation: ServiceAllocation(namespaces: ["ns"]))],
        services: [lb("ns/a"), lb("ns/b")],
        expect: ["ns/a": .got(["10.0.1.0"], pool: "small"), "ns/b": .got(["10.0.0.0"], pool: "open")]),
    AllocationCase(
        name: "pools restricted to other Services are never a fallback",
        pools: [pool("prod", "10.0.1.0/24", allocation: ServiceAllocation(namespaces: ["prod"])),
                pool("manual", "10.0.2.0/24", autoAssign: false)],
        services: [lb("dev/y")],
        expect: ["dev/y": .failed("no pool assigns addresses to this Service automatically (pool \"manual\" has autoAssign off; pool \"prod\": its serviceAllocation does not select namespace \"dev\")")]),
    AllocationCase(
        name: "a named pool must still serve the Service",
        pools: [pool("prod", "10.0.1.0/24", allocation: ServiceAllocation(namespaces: ["prod"]))],
        services: [lb("dev/y", annotations: ["metallb.io/address-pool": "prod"])],
        expect: ["dev/y": .failed("pool \"prod\" does not serve this Service: its serviceAllocation does not select namespace \"dev\"")]),
    AllocationCase(
        name: "no pools at all",
        pools: [],
        services: [lb("ns/a")],
        expect: ["ns/a": .failed("no address pools are configured")]),
    AllocationCase(
        name: "an exhausted pool says how full it is",
        pools: [pool("public", "192.0.2.0/31")],
        services: [lb("ns/a"), lb("ns/b"), lb("ns/c")],
        expect: ["ns/a": .got(["192.0.2.0"]), "ns/b": .got(["192.0.2.1"]),
                 "ns/c": .failed("no free address: pool \"public\" is exhausted (2 of 2 in use)")]),
    AllocationCase(
        name: "open pools are tried by name",
        pools: [pool("b", "10.0.2.0/24"), pool("a", "10.0.1.0/32")],
        services: [lb("ns/x"), lb("ns/y")],
        expect: ["ns/x": .got(["10.0.1.0"], pool: "a"), "ns/y": .got(["10.0.2.0"], pool: "b")]),
]

// MARK: - Sharing (MetalLB's allow-shared-ip rule)

let sharingCases: [AllocationCase] = [
    AllocationCase(
        name: "same key, different ports: one address",
        pools: [pool("p", "192.0.2.0/24")],
        services: [lb("ns/a", ports: ["80"], annotations: shared("k")), lb("ns/b", ports: ["443"], annotations: shared("k"))],
        expect: ["ns/a": .got(["192.0.2.0"]), "ns/b": .got(["192.0.2.0"])]),
    AllocationCase(
        name: "TCP and UDP on one port do not collide",
        pools: [pool("p", "192.0.2.0/24")],
        services: [lb("ns/a", ports: ["tcp/53"], annotations: shared("dns")), lb("ns/b", ports: ["udp/53"], annotations: shared("dns"))],
        expect: ["ns/a": .got(["192.0.2.0"]), "ns/b": .got(["192.0.2.0"])]),
    AllocationCase(
        name: "same key, colliding port: the next free address",
        pools: [pool("p", "192.0.2.0/24")],
        services: [lb("ns/a", annotations: shared("k")), lb("ns/b", annotations: shared("k"))],
        expect: ["ns/a": .got(["192.0.2.0"]), "ns/b": .got(["192.0.2.1"])]),
    AllocationCase(
        name: "different keys never share",
        pools: [pool("p", "192.0.2.0/24")],
        services: [lb("ns/a", ports: ["80"], annotations: shared("k1")), lb("ns/b", ports: ["443"], annotations: shared("k2"))],
        expect: ["ns/a": .got(["192.0.2.0"]), "ns/b": .got(["192.0.2.1"])]),
    AllocationCase(
        name: "a Service without a key does not join a shared address",
        pools: [pool("p", "192.0.2.0/24")],
        services: [lb("ns/a", ports: ["80"], annotations: shared("k")), lb("ns/b", ports: ["443"])],
        expect: ["ns/a": .got(["192.0.2.0"]), "ns/b": .got(["192.0.2.1"])]),
    AllocationCase(
        name: "joining takes the lowest shareable address when it is below the lowest free one",
        pools: [pool("p", "192.0.2.0/24")],
        services: [lb("ns/a", annotations: shared("k")), lb("ns/b"), lb("ns/c", ports: ["443"], annotations: shared("k"))],
        expect: ["ns/a": .got(["192.0.2.0"]), "ns/b": .got(["192.0.2.1"]), "ns/c": .got(["192.0.2.0"])]),
    AllocationCase(
        name: "requesting a shared address: keys differ",
        pools: [pool("p", "192.0.2.0/24")],
        services: [lb("ns/a", annotations: shared("k1"), loadBalancerIP: "192.0.2.7"),
                   lb("ns/b", ports: ["443"], annotations: shared("k2"), loadBalancerIP: "192.0.2.7")],
        expect: ["ns/a": .got(["192.0.2.7"]),
                 "ns/b": .failed("address 192.0.2.7 is already used by ns/a (allow-shared-ip keys differ: \"k1\" vs \"k2\")")]),
    AllocationCase(
        name: "requesting a shared address: the requester has no key",
        pools: [pool("p", "192.0.2.0/24")],
        services: [lb("ns/a", annotations: shared("k1"), loadBalancerIP: "192.0.2.7"),
                   lb("ns/b", ports: ["443"], loadBalancerIP: "192.0.2.7")],
        expect: ["ns/b": .failed("address 192.0.2.7 is already used by ns/a (this Service sets no allow-shared-ip key)")]),
    AllocationCase(
        name: "requesting a shared address: a port collides",
        pools: [pool("p", "192.0.2.0/24")],
        services: [lb("ns/a", ports: ["80", "443"], annotations: shared("k"), loadBalancerIP: "192.0.2.7"),
                   lb("ns/b", ports: ["443"], annotations: shared("k"), loadBalancerIP: "192.0.2.7")],
        expect: ["ns/b": .failed("address 192.0.2.7 is already used by ns/a (port TCP/443 is used by both)")]),
    AllocationCase(
        name: "Local traffic policy with different selectors does not share",
        pools: [pool("p", "192.0.2.0/24")],
        services: [lb("ns/a", annotations: shared("k"), selector: web, policy: .local, loadBalancerIP: "192.0.2.7"),
                   lb("ns/b", ports: ["443"], annotations: shared("k"), selector: db, policy: .local, loadBalancerIP: "192.0.2.7")],
        expect: ["ns/b": .failed("address 192.0.2.7 is already used by ns/a (sharing needs both Services to use externalTrafficPolicy Cluster or to have identical selectors)")]),
    AllocationCase(
        name: "Local traffic policy with identical selectors shares",
        pools: [pool("p", "192.0.2.0/24")],
        services: [lb("ns/a", annotations: shared("k"), selector: web, policy: .local),
                   lb("ns/b", ports: ["443"], annotations: shared("k"), selector: web, policy: .local)],
        expect: ["ns/a": .got(["192.0.2.0"]), "ns/b": .got(["192.0.2.0"])]),
    AllocationCase(
        name: "Cluster and Local do not share",
        pools: [pool("p", "192.0.2.0/24")],
        services: [lb("ns/a", annotations: shared("k"), selector: web, policy: .cluster),
                   lb("ns/b", ports: ["443"], annotations: shared("k"), selector: web, policy: .local)],
        expect: ["ns/a": .got(["192.0.2.0"]), "ns/b": .got(["192.0.2.1"])]),
    AllocationCase(
        name: "Cluster policy shares whatever the selectors",
        pools: [pool("p", "192.0.2.0/24")],
        services: [lb("ns/a", annotations: shared("k"), selector: web), lb("ns/b", ports: ["443"], annotations: shared("k"), selector: db)],
        expect: ["ns/a": .got(["192.0.2.0"]), "ns/b": .got(["192.0.2.0"])]),
    AllocationCase(
        name: "the metallb.io sharing key is read too",
        pools: [pool("p", "192.0.2.0/24")],
        services: [lb("ns/a", annotations: ["metallb.io/allow-shared-ip": "k"]),
                   lb("ns/b", ports: ["443"], annotations: ["ballast.io/allow-shared-ip": "k"])],
        expect: ["ns/a": .got(["192.0.2.0"]), "ns/b": .got(["192.0.2.0"])]),
    AllocationCase(
        name: "a full pool still lets a Service join a shared address",
        pools: [pool("p", "192.0.2.0/32")],
        services: [lb("ns/a", annotations: shared("k")), lb("ns/b", ports: ["443"], annotations: shared("k"))],
        expect: ["ns/a": .got(["192.0.2.0"]), "ns/b": .got(["192.0.2.0"])]),
]

// MARK: - Families

let familyCases: [AllocationCase] = [
    AllocationCase(
        name: "RequireDualStack gets one address per family",
        pools: [pool("p", "192.0.2.0/24", "2001:db8::/120")],
        services: [lb("ns/a", familyPolicy: .requireDualStack)],
        expect: ["ns/a": .got(["192.0.2.0", "2001:db8::"])]),
    AllocationCase(
        name: "RequireDualStack fails without a second family",
        pools: [pool("p", "192.0.2.0/24")],
        services: [lb("ns/a", familyPolicy: .requireDualStack)],
        expect: ["ns/a": .failed("no free address: pool \"p\" has no IPv6 range")]),
    AllocationCase(
        name: "RequireDualStack fails when one family is exhausted",
        pools: [pool("p", "192.0.2.0/24", "2001:db8::/128")],
        services: [lb("ns/a", familyPolicy: .requireDualStack), lb("ns/b", familyPolicy: .requireDualStack)],
        expect: ["ns/a": .got(["192.0.2.0", "2001:db8::"]),
                 "ns/b": .failed("no free address: pool \"p\" has no free IPv6 address (1 of 1 in use)")]),
    AllocationCase(
        name: "PreferDualStack takes what a pool has",
        pools: [pool("p", "192.0.2.0/24")],
        services: [lb("ns/a", familyPolicy: .preferDualStack)],
        expect: ["ns/a": .got(["192.0.2.0"])]),
    AllocationCase(
        name: "PreferDualStack prefers a pool with both families over an earlier one with the primary only",
        pools: [pool("a", "192.0.2.0/24"), pool("b", "198.51.100.0/24", "2001:db8::/120")],
        services: [lb("ns/x", familyPolicy: .preferDualStack), lb("ns/y", familyPolicy: .requireDualStack)],
        expect: ["ns/x": .got(["198.51.100.0", "2001:db8::"], pool: "b"), "ns/y": .got(["198.51.100.1", "2001:db8::1"], pool: "b")]),
    AllocationCase(
        name: "PreferDualStack falls back to the primary family's pool before the secondary's",
        pools: [pool("a6", "2001:db8::/120"), pool("b4", "192.0.2.0/24")],
        services: [lb("ns/x", familyPolicy: .preferDualStack)],
        expect: ["ns/x": .got(["192.0.2.0"], pool: "b4")]),
    AllocationCase(
        name: "ipFamilies order puts the primary first",
        pools: [pool("p", "192.0.2.0/24", "2001:db8::/120")],
        services: [lb("ns/a", families: [.ipv6, .ipv4], familyPolicy: .preferDualStack)],
        expect: ["ns/a": .got(["2001:db8::", "192.0.2.0"])]),
    AllocationCase(
        name: "single-stack IPv6",
        pools: [pool("p", "192.0.2.0/24", "2001:db8::/120")],
        services: [lb("ns/a", families: [.ipv6])],
        expect: ["ns/a": .got(["2001:db8::"])]),
    AllocationCase(
        name: "single-stack without ipFamilies takes whatever family its pool has",
        pools: [pool("v6", "2001:db8::/120")],
        services: [lb("ns/a")],
        expect: ["ns/a": .got(["2001:db8::"])]),
    AllocationCase(
        name: "single-stack IPv4 cannot request an IPv6 address",
        pools: [pool("p", "192.0.2.0/24", "2001:db8::/120")],
        services: [lb("ns/a", loadBalancerIP: "2001:db8::5", families: [.ipv4])],
        expect: ["ns/a": .failed("requested address 2001:db8::5 is IPv6 but the Service is IPv4 single-stack")]),
    AllocationCase(
        name: "RequireDualStack must request both families",
        pools: [pool("p", "192.0.2.0/24", "2001:db8::/120")],
        services: [lb("ns/a", loadBalancerIP: "192.0.2.5", familyPolicy: .requireDualStack)],
        expect: ["ns/a": .failed("spec.loadBalancerIP must list one address per family: the Service is dual-stack (IPv4, IPv6) required")]),
    AllocationCase(
        name: "single-stack cannot request two families",
        pools: [pool("p", "192.0.2.0/24", "2001:db8::/120")],
        services: [lb("ns/a", annotations: ["metallb.io/loadBalancerIPs": "192.0.2.5,2001:db8::5"])],
        expect: ["ns/a": .failed("annotation metallb.io/loadBalancerIPs lists more addresses than the Service takes: it is single-stack")]),
    AllocationCase(
        name: "dual-stack requested addresses",
        pools: [pool("p", "192.0.2.0/24", "2001:db8::/120")],
        services: [lb("ns/a", annotations: ["metallb.io/loadBalancerIPs": "2001:db8::5, 192.0.2.5"], familyPolicy: .requireDualStack)],
        expect: ["ns/a": .got(["192.0.2.5", "2001:db8::5"])]),
]

// MARK: - Stickiness

let stickinessCases: [AllocationCase] = [
    AllocationCase(
        name: "a previous address stays although a lower one is free",
        pools: [pool("p", "192.0.2.0/24")],
        services: [lb("ns/a"), lb("ns/b")],
        previous: ["ns/b": ["192.0.2.5"]],
        expect: ["ns/a": .got(["192.0.2.0"]), "ns/b": .got(["192.0.2.5"])]),
    AllocationCase(
        name: "status.loadBalancer.ingress stands in for missing previous state",
        pools: [pool("p", "192.0.2.0/24")],
        services: [lb("ns/a"), lb("ns/b", ingress: ["192.0.2.9"]), lb("ns/c", ingress: ["192.0.2.10"])],
        previous: ["ns/c": []],
        expect: ["ns/a": .got(["192.0.2.0"]), "ns/b": .got(["192.0.2.9"]), "ns/c": .got(["192.0.2.10"])]),
    AllocationCase(
        name: "persisted state wins over ingress",
        pools: [pool("p", "192.0.2.0/24")],
        services: [lb("ns/a", ingress: ["192.0.2.9"])],
        previous: ["ns/a": ["192.0.2.3"]],
        expect: ["ns/a": .got(["192.0.2.3"])]),
    AllocationCase(
        name: "new Services never take a held address, whatever their name",
        pools: [pool("p", "192.0.2.0/30")],
        services: [lb("ns/a"), lb("ns/z")],
        previous: ["ns/z": ["192.0.2.0"]],
        expect: ["ns/a": .got(["192.0.2.1"]), "ns/z": .got(["192.0.2.0"])]),
    AllocationCase(
        name: "a Service requesting a held address waits, with the holder's name",
        pools: [pool("p", "192.0.2.0/24")],
        services: [lb("ns/a", loadBalancerIP: "192.0.2.5"), lb("ns/z")],
        previous: ["ns/z": ["192.0.2.5"]],
        expect: ["ns/a": .failed("address 192.0.2.5 is already used by ns/z (it sets no allow-shared-ip key)"),
                 "ns/z": .got(["192.0.2.5"])]),
    AllocationCase(
        name: "a shrunk pool withdraws only what it no longer covers",
        pools: [pool("p", "192.0.2.0/25")],
        services: [lb("ns/a"), lb("ns/b"), lb("ns/c")],
        previous: ["ns/a": ["192.0.2.200"], "ns/b": ["192.0.2.3"], "ns/c": ["192.0.2.0"]],
        expect: ["ns/a": .got(["192.0.2.1"]), "ns/b": .got(["192.0.2.3"]), "ns/c": .got(["192.0.2.0"])]),
    AllocationCase(
        name: "a renamed pool keeps the addresses",
        pools: [pool("renamed", "192.0.2.0/24")],
        services: [lb("ns/a")],
        previous: ["ns/a": ["192.0.2.42"]],
        expect: ["ns/a": .got(["192.0.2.42"], pool: "renamed")]),
    AllocationCase(
        name: "turning autoAssign off keeps assigned addresses",
        pools: [pool("p", "192.0.2.0/24", autoAssign: false)],
        services: [lb("ns/a")],
        previous: ["ns/a": ["192.0.2.42"]],
        expect: ["ns/a": .got(["192.0.2.42"])]),
    AllocationCase(
        name: "a pool that stops serving the Service withdraws it",
        pools: [pool("open", "10.0.0.0/24"), pool("prod", "10.0.1.0/24", allocation: ServiceAllocation(namespaces: ["prod"]))],
        services: [lb("dev/a")],
        previous: ["dev/a": ["10.0.1.5"]],
        expect: ["dev/a": .got(["10.0.0.0"], pool: "open")]),
    AllocationCase(
        name: "asking for another pool moves the Service",
        pools: [pool("a", "10.0.0.0/24"), pool("b", "10.0.1.0/24")],
        services: [lb("ns/x", annotations: ["metallb.io/address-pool": "b"])],
        previous: ["ns/x": ["10.0.0.5"]],
        expect: ["ns/x": .got(["10.0.1.0"], pool: "b")]),
    AllocationCase(
        name: "requesting another address moves the Service",
        pools: [pool("p", "192.0.2.0/24")],
        services: [lb("ns/a", loadBalancerIP: "192.0.2.9")],
        previous: ["ns/a": ["192.0.2.5"]],
        expect: ["ns/a": .got(["192.0.2.9"])]),
    AllocationCase(
        name: "PreferDualStack keeps its address and adds the family that appeared",
        pools: [pool("p", "192.0.2.0/24", "2001:db8::/120")],
        services: [lb("ns/a", familyPolicy: .preferDualStack)],
        previous: ["ns/a": ["192.0.2.9"]],
        expect: ["ns/a": .got(["192.0.2.9", "2001:db8::"])]),
    AllocationCase(
        name: "RequireDualStack keeps one family and replaces the withdrawn one",
        pools: [pool("p", "192.0.2.0/24", "2001:db8:1::/120")],
        services: [lb("ns/a", familyPolicy: .requireDualStack)],
        previous: ["ns/a": ["192.0.2.9", "2001:db8::9"]],
        expect: ["ns/a": .got(["192.0.2.9", "2001:db8:1::"])]),
    AllocationCase(
        name: "RequireDualStack fails when the withdrawn family cannot be replaced",
        pools: [pool("p", "192.0.2.0/24")],
        services: [lb("ns/a", familyPolicy: .requireDualStack), lb("ns/b")],
        previous: ["ns/a": ["192.0.2.0", "2001:db8::9"]],
        expect: ["ns/a": .failed("no free address: pool \"p\" has no IPv6 range"), "ns/b": .got(["192.0.2.0"])]),
    AllocationCase(
        name: "an address of a family the Service no longer has is replaced",
        pools: [pool("p", "192.0.2.0/24", "2001:db8::/120")],
        services: [lb("ns/a", families: [.ipv4])],
        previous: ["ns/a": ["2001:db8::9"]],
        expect: ["ns/a": .got(["192.0.2.0"])]),
    AllocationCase(
        name: "conflicting previous claims: the first by name keeps it",
        pools: [pool("p", "192.0.2.0/24")],
        services: [lb("ns/a"), lb("ns/b")],
        previous: ["ns/a": ["192.0.2.9"], "ns/b": ["192.0.2.9"]],
        expect: ["ns/a": .got(["192.0.2.9"]), "ns/b": .got(["192.0.2.0"])]),
    AllocationCase(
        name: "shared addresses stay shared",
        pools: [pool("p", "192.0.2.0/24")],
        services: [lb("ns/a", annotations: shared("k")), lb("ns/b", ports: ["443"], annotations: shared("k"))],
        previous: ["ns/a": ["192.0.2.9"], "ns/b": ["192.0.2.9"]],
        expect: ["ns/a": .got(["192.0.2.9"]), "ns/b": .got(["192.0.2.9"])]),
    AllocationCase(
        name: "avoidBuggyIPs turned on withdraws .0 and .255 only",
        pools: [pool("p", "192.0.2.0/24", avoidBuggyIPs: true)],
        services: [lb("ns/a"), lb("ns/b")],
        previous: ["ns/a": ["192.0.2.0"], "ns/b": ["192.0.2.1"]],
        expect: ["ns/a": .got(["192.0.2.2"]), "ns/b": .got(["192.0.2.1"])]),
]

@Suite struct AllocatorTests {
    static let all = selectionCases + poolCases + sharingCases + familyCases + stickinessCases

    @Test(arguments: all)
    func table(_ c: AllocationCase) {
        let result = allocate(c.services, pools: c.pools, namespaces: c.namespaces, previous: c.previous,
                              handleUnclassed: c.handleUnclassed)
        for (name, want) in c.expect.sorted(by: { $0.key < $1.key }) {
            var comparingPool = false
            if case .got(_, let p) = want, p != nil { comparingPool = true }
            #expect(outcome(of: name, in: result, comparingPool: comparingPool) == want, "\(name)")
        }
    }

    @Test func withdrawalsSayWhy() {
        let result = allocate([lb("ns/a"), lb("prod/b"), lb("ns/c", families: [.ipv4]), lb("ns/d", annotations: ["metallb.io/address-pool": "p"])],
                              pools: [pool("p", "192.0.2.0/25", "2001:db8::/120", avoidBuggyIPs: true),
                                      pool("q", "198.51.100.0/24", allocation: ServiceAllocation(namespaces: ["ns"]))],
                              previous: ["ns/a": ["192.0.2.200"], "prod/b": ["198.51.100.1"], "ns/c": ["2001:db8::1"],
                                         "ns/d": ["198.51.100.2"]])
        #expect(result.withdrawals[ref("ns/a")] == [Withdrawal(address: ip("192.0.2.200"), reason: "no address pool contains it any more")])
        #expect(result.withdrawals[ref("prod/b")]?.map(\.reason) == [
            "pool \"q\" no longer serves this Service: its serviceAllocation does not select namespace \"prod\""])
        #expect(result.withdrawals[ref("ns/c")]?.map(\.reason) == ["the Service is IPv4 single-stack"])
        #expect(result.withdrawals[ref("ns/d")]?.map(\.reason) == [
            "the Service asks for pool \"p\" but the address is in pool \"q\""])
        let buggy = allocate([lb("ns/a")], pools: [pool("p", "192.0.2.0/24", avoidBuggyIPs: true)], previous: ["ns/a": ["192.0.2.255"]])
        #expect(buggy.withdrawals[ref("ns/a")]?.map(\.reason) == ["pool \"p\" avoids addresses ending in .0 and .255 (avoidBuggyIPs)"])
        #expect(buggy.assignments[ref("ns/a")]?.addresses == [ip("192.0.2.1")])
    }

    @Test func aRequestedAddressIsGrantedOnceItsHolderIsGone() {
        let pools = [pool("p", "192.0.2.0/24")]
        let holder = lb("ns/holder")
        let wanting = lb("ns/wanting", loadBalancerIP: "192.0.2.0")
        let first = allocate([holder], pools: pools)
        #expect(first.assignments[holder.ref]?.addresses == [ip("192.0.2.0")])
        let second = Allocator(pools: pools).allocate(services: [holder, wanting], namespaces: [:], previous: first.addresses)
        #expect(second.failures[wanting.ref] == .addressInUse(ip("192.0.2.0"), by: holder.ref, .holderDoesNotShare))
        #expect(second.assignments[holder.ref]?.addresses == [ip("192.0.2.0")])
        let third = Allocator(pools: pools).allocate(services: [wanting], namespaces: [:], previous: second.addresses)
        #expect(third.assignments[wanting.ref]?.addresses == [ip("192.0.2.0")])
    }

    @Test func usageCountsUsableAddressesAndDistinctUse() {
        let result = allocate([lb("ns/a", annotations: shared("k")), lb("ns/b", ports: ["443"], annotations: shared("k")),
                               lb("ns/c", families: [.ipv6])],
                              pools: [pool("p", "192.0.2.0/24", "192.0.3.10-192.0.3.255", "2001:db8::/64", avoidBuggyIPs: true),
                                      pool("q", "198.51.100.0/30")])
        #expect(result.usage == [
            PoolUsage(pool: "p", family: .ipv4, size: 254 + 245, inUse: 1),
            PoolUsage(pool: "p", family: .ipv6, size: .max, inUse: 1),
            PoolUsage(pool: "q", family: .ipv4, size: 4, inUse: 0),
        ])
        #expect(result.usage[1].description == "p IPv6: 1 of 2^64 or more in use")
    }

    @Test(arguments: [
        ("192.0.2.0/24", 2), ("192.0.2.0/23", 4), ("192.0.2.1-192.0.2.254", 0), ("192.0.2.255-192.0.3.0", 2),
        ("10.0.0.0/8", 131_072), ("192.0.2.7/32", 0), ("2001:db8::/120", 0),
    ])
    func buggyAddressCount(range: String, count: UInt64) {
        #expect(addressRange(range).buggyAddressCount == count)
    }

    @Test func failureDescriptionsForUsers() {
        #expect(AllocationFailure.noFreeAddress([
            PoolShortage(pool: "public", family: .ipv4, hasFamily: true, onlyFamily: true, inUse: 256, size: 256),
        ]).description == "no free address: pool \"public\" is exhausted (256 of 256 in use)")
        #expect(AllocationFailure.addressInUse(ip("192.0.2.7"), by: ref("default/web"), .keysDiffer(holder: "a", requester: "b"))
            .description == "address 192.0.2.7 is already used by default/web (allow-shared-ip keys differ: \"a\" vs \"b\")")
    }
}
