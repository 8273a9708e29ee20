import BallastCore
import Testing
@testable import BallastConfig

/// Kubernetes manifests as kubectl prints them, into BallastCore values.
@Suite struct ManifestTests {
    private func decode(_ name: String) throws -> ManifestSet {
        try ManifestSet.decode(yaml: try Fixture.text("manifests/\(name)"), file: name)
    }

    private func ip(_ text: String) -> IPAddress { IPAddress(text)! }
    private func at(_ file: String, _ line: Int, _ column: Int) -> Location { Location(file: file, line: line, column: column) }

    @Test func dualStackService() throws {
        let set = try decode("service-dualstack.yaml")
        #expect(set.services.count == 1 && set.diagnostics.isEmpty)
        let s = try #require(set.services.first)
        #expect(s.ref == ObjectRef(namespace: "shop", name: "web"))
        #expect(s.labels == ["app.kubernetes.io/name": "web"])
        // kubectl's last-applied-configuration is not kept: Ballast reads no annotation outside its and MetalLB's prefixes.
        #expect(s.annotations == ["metallb.universe.tf/ip-allocated-from-pool": "public"])
        #expect(s.type == .loadBalancer)
        #expect(s.ports == [ServicePort(name: "http", protocol: .tcp, port: 80, targetPort: .number(8080), nodePort: 31847)])
        #expect(s.selector == ["app.kubernetes.io/name": "web"])
        #expect(s.clusterIPs == [ip("10.96.142.17"), ip("fd00:10:96::5a1c")])
        #expect(s.externalTrafficPolicy == .cluster && s.internalTrafficPolicy == .cluster)
        #expect(s.sessionAffinity == .none)
        #expect(s.ipFamilies == [.ipv4, .ipv6] && s.ipFamilyPolicy == .preferDualStack)
        #expect(s.ingressIPs == [ip("192.0.2.10"), ip("2001:db8::10")])
        #expect(s.loadBalancerIP == nil && s.loadBalancerClass == nil && s.externalIPs.isEmpty)
        #expect(s.location == at("service-dualstack.yaml", 1, 1))
    }

    @Test func localPolicyWithNamedTargetPorts() throws {
        let set = try decode("service-local-named-port.yaml")
        #expect(set.services == [Service(
            ref: ObjectRef(namespace: "ingress-nginx", name: "ingress-nginx-controller"),
            labels: ["app": "ingress-nginx", "app.kubernetes.io/component": "controller"],
            annotations: ["ballast.io/address-pool": "internal"], type: .loadBalancer,
            ports: [ServicePort(name: "http", protocol: .tcp, port: 80, targetPort: .name("http"), nodePort: 30080),
                    ServicePort(name: "https", protocol: .tcp, port: 443, targetPort: .name("https"), nodePort: 30443)],
            selector: ["app.kubernetes.io/component": "controller", "app.kubernetes.io/instance": "ingress-nginx"],
            clusterIPs: [ip("10.96.7.201")], externalTrafficPolicy: .local, internalTrafficPolicy: .cluster,
            sessionAffinity: .clientIP(timeoutSeconds: 600), loadBalancerIP: "198.51.100.20", loadBalancerClass: "ballast.io/lb",
            ipFamilies: [.ipv4], ipFamilyPolicy: .singleStack, location: at("service-local-named-port.yaml", 1, 1))])
    }

    /// UDP, TCP and SCTP; legacy "Global" policy; default affinity timeout; hostname-only ingress.
    @Test func multiPortService() throws {
        let set = try decode("service-multiport.yaml")
        #expect(set.services == [Service(
            ref: ObjectRef(namespace: "kube-system", name: "dns-public"),
            labels: ["k8s-app": "kube-dns"],
            annotations: ["metallb.universe.tf/allow-shared-ip": "dns", "metallb.universe.tf/loadBalancerIPs": "192.0.2.53"],
            type: .loadBalancer,
            ports: [ServicePort(name: "dns", protocol: .udp, port: 53, targetPort: .number(53), nodePort: 31053),
                    ServicePort(name: "dns-tcp", protocol: .tcp, port: 53, targetPort: .number(53), nodePort: 31054),
                    ServicePort(name: "sctp-probe", protocol: .sctp, port: 9999),
                    ServicePort(name: "metrics", protocol: .tcp, port: 9153, targetPort: .number(9153))],
            selector: ["k8s-app": "kube-dns"], clusterIPs: [ip("10.96.0.53")], externalTrafficPolicy: .cluster,
            sessionAffinity: .clientIP(timeoutSeconds: 10800), externalIPs: [ip("203.0.113.53")],
            location: at("service-multiport.yaml", 1, 1))])
    }

    @Test func endpointSlicesWithTerminatingEndpoints() throws {
        let set = try decode("endpointslices-terminating.yaml")
        let ref = { (name: String) in ObjectRef(namespace: "ingress-nginx", name: name) }
        #expect(set.endpointSlices == [EndpointSlice(
            ref: ref("ingress-nginx-controller-x7k2p"), serviceName: "ingress-nginx-controller", addressType: .ipv4,
            endpoints: [
                Endpoint(address: ip("10.244.1.17"), conditions: .init(ready: true, serving: true, terminating: false),
                         nodeName: "node-a", target: .pod(ref("ingress-nginx-controller-5c8d66c76d-4xq9z"))),
                Endpoint(address: ip("10.244.2.9"), conditions: .init(ready: false, serving: true, terminating: true),
                         nodeName: "node-b", target: .pod(ref("ingress-nginx-controller-5c8d66c76d-m2w8k"))),
                Endpoint(address: ip("10.244.3.4"), conditions: .init(ready: false, serving: false, terminating: true),
                         nodeName: "node-c", target: .pod(ref("ingress-nginx-controller-5c8d66c76d-p0o9i"))),
                Endpoint(address: ip("10.244.1.23"), nodeName: "node-a"),
            ],
            ports: [EndpointPort(name: "http", port: 80, protocol: .tcp), EndpointPort(name: "https", port: 443, protocol: .tcp)],
            location: at("endpointslices-terminating.yaml", 1, 1))])
        // The FQDN slice is dropped, with a note saying so.
        #expect(set.diagnostics.map(\.description) == [
            "endpointslices-terminating.yaml:85:14: note: EndpointSlice shop/external-db-fqdn: addressType: FQDN slice dropped: IPVS needs endpoint addresses",
        ])
    }

    /// Endpoints become one slice per subset and family; notReadyAddresses are not ready.
    @Test func legacyEndpoints() throws {
        let set = try decode("endpoints-legacy.yaml")
        let ref = { (name: String) in ObjectRef(namespace: "backoffice", name: name) }
        let api = [EndpointPort(name: "api", port: 8080, protocol: .tcp)]
        #expect(set.endpointSlices.isEmpty)
        #expect(set.legacyEndpointSlices == [
            EndpointSlice(ref: ref("legacy-api-endpoints-0"), serviceName: "legacy-api", addressType: .ipv4, endpoints: [
                Endpoint(address: ip("10.244.1.31"), conditions: .init(ready: true), nodeName: "node-a",
                         target: .pod(ref("legacy-api-6f7d9c8b5-abcde"))),
                Endpoint(address: ip("10.244.2.44"), conditions: .init(ready: false), nodeName: "node-b",
                         target: .pod(ref("legacy-api-6f7d9c8b5-fghij"))),
            ], ports: api, location: at("endpoints-legacy.yaml", 14, 3)),
            EndpointSlice(ref: ref("legacy-api-endpoints-1"), serviceName: "legacy-api", addressType: .ipv6, endpoints: [
                Endpoint(address: ip("fd00:10:244:1::31"), conditions: .init(ready: true), nodeName: "node-a"),
            ], ports: api, location: at("endpoints-legacy.yaml", 14, 3)),
            EndpointSlice(ref: ref("legacy-api-endpoints-2"), serviceName: "legacy-api", addressType: .ipv4, endpoints: [
                Endpoint(address: ip("10.244.3.12"), conditions: .init(ready: true), nodeName: "node-c"),
            ], ports: [EndpointPort(name: "admin", port: 9090, protocol: .tcp)], location: at("endpoints-legacy.yaml", 35, 3)),
        ])
    }

    @Test func nodes() throws {
        let set = try decode("nodes.yaml")
        #expect(set.nodes == [
            Node(name: "node-a", labels: [
                "beta.kubernetes.io/arch": "amd64", "beta.kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
                "kubernetes.io/hostname": "node-a", "kubernetes.io/os": "linux", "topology.kubernetes.io/zone": "rack-1",
            ], ready: true, unschedulable: false, addresses: [ip("192.0.2.201"), ip("2001:db8::201")]),
            // Ready=Unknown is not ready.
            Node(name: "node-b", labels: ["kubernetes.io/hostname": "node-b", Node.excludeFromLoadBalancersLabel: ""],
                 ready: false, unschedulable: true, addresses: [ip("192.0.2.202"), ip("203.0.113.202")]),
        ])
    }

    /// A List with other kinds (a Deployment, a Knative Service): only core kinds are read.
    @Test func listWithOtherKinds() throws {
        let set = try decode("list-mixed.yaml")
        #expect(set.namespaces == [Namespace(name: "payments", labels: ["kubernetes.io/metadata.name": "payments", "team": "payments"])])
        #expect(set.services == [Service(
            ref: ObjectRef(namespace: "payments", name: "checkout"), type: .loadBalancer,
            ports: [ServicePort(port: 443, targetPort: .name("https"))], selector: ["app": "checkout"],
            location: at("list-mixed.yaml", 39, 3))])
        #expect(set.endpointSlices == [EndpointSlice(
            ref: ObjectRef(namespace: "payments", name: "checkout-8vq2d"), serviceName: "checkout", addressType: .ipv6,
            endpoints: [Endpoint(address: ip("fd00:10:244:2::1f"), conditions: .init(ready: true), nodeName: "node-b")],
            ports: [EndpointPort(port: 8443, protocol: .tcp)], location: at("list-mixed.yaml", 58, 3))])
        #expect(set.diagnostics.isEmpty)
    }

    @Test func json() throws {
        let set = try decode("grafana.json")
        let s = try #require(set.services.first)
        #expect(s.annotations == ["metallb.io/loadBalancerIPs": "192.0.2.80,2001:db8::80"])
        #expect(s.clusterIPs == [ip("10.96.33.3"), ip("fd00:10:96::33")])
        #expect(s.internalTrafficPolicy == .local && s.ipFamilyPolicy == .requireDualStack)
        #expect(s.ports == [ServicePort(name: "http", protocol: .tcp, port: 80, targetPort: .number(3000), nodePort: 30300)])
        #expect(s.location == at("grafana.json", 4, 9))
        #expect(set.endpointSlices.map(\.endpoints) == [[Endpoint(
            address: ip("10.244.2.50"), conditions: .init(ready: true, serving: true, terminating: false), nodeName: "node-b",
            target: .pod(ObjectRef(namespace: "monitoring", name: "grafana-7d9c-q8x2v")))]])
    }

    /// An endpoint keeps its first address, inline; the others are checked, not kept.
    @Test func endpointKeepsItsFirstAddress() throws {
        let set = try ManifestSet.decode(yaml: """
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata: {name: web-1, namespace: shop, labels: {kubernetes.io/service-name: web}}
        addressType: IPv6
        endpoints:
        - addresses: ["2001:db8::7", "2001:db8::8"]
          nodeName: node-a
          zone: rack-1
          hostname: web-0
          targetRef: {kind: Pod, name: web-0}
        """, file: "m.yaml")
        #expect(set.diagnostics.isEmpty)
        #expect(set.endpointSlices.map(\.endpoints) == [[Endpoint(
            address: ip("2001:db8::7"), nodeName: "node-a", target: .pod(ObjectRef(namespace: "shop", name: "web-0")))]])
    }

    /// Only annotations under Ballast's and MetalLB's prefixes are kept: nothing
    /// reads the others, and kubectl's last-applied-configuration is the whole
    /// object again. The others are not read at all, so a value that is not a
    /// string there is no error either.
    @Test func serviceKeepsOnlyTheAnnotationsBallastReads() throws {
        let set = try ManifestSet.decode(yaml: """
        apiVersion: v1
        kind: Service
        metadata:
          name: web
          annotations:
            kubectl.kubernetes.io/last-applied-configuration: |
              {"apiVersion":"v1","kind":"Service","metadata":{"annotations":{"metallb.io/address-pool":"public"},"name":"web"}}
            metallb.io/address-pool: public
            ballast.io/allow-shared-ip: web
            metallb.universe.tf/loadBalancerIPs: 192.0.2.7
            metallb.io.example.com/address-pool: other
            ballast.iox/address-pool: other
            example.com/metallb.io/address-pool: other
            prometheus.io/scrape: {not: a string}
        spec: {type: LoadBalancer, ports: [{port: 80}]}
        """, file: "m.yaml")
        #expect(set.diagnostics.isEmpty)
        #expect(set.services.map(\.annotations) == [[
            "metallb.io/address-pool": "public", "ballast.io/allow-shared-ip": "web",
            "metallb.universe.tf/loadBalancerIPs": "192.0.2.7",
        ]])
    }

    @Test(arguments: [
        ("metallb.io/address-pool", true), ("ballast.io/x", true), ("metallb.universe.tf/allow-shared-ip", true),
        ("kubectl.kubernetes.io/last-applied-configuration", false), ("metallb.io", false), ("metallb.iox/pool", false),
        ("x.metallb.io/pool", false), ("", false),
    ])
    func knownAnnotationKeys(key: String, known: Bool) {
        #expect(Array(key.utf8).withUnsafeBufferPointer(ServiceAnnotations.isKnown) == known)
    }

    /// The targetRef is kept as a hash of its kind, namespace (the slice's when
    /// left out) and name, read from the manifest's bytes.
    @Test func targetRefBecomesAHash() throws {
        let set = try ManifestSet.decode(yaml: """
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata: {name: web-1, namespace: shop, labels: {kubernetes.io/service-name: web}}
        addressType: IPv4
        endpoints:
        - {addresses: [10.0.0.1], targetRef: {kind: Pod, name: web-7d9f8b6c5d-x2k4q, namespace: shop, uid: 1b4e28ba}}
        - {addresses: [10.0.0.2], targetRef: {kind: Pod, name: web-7d9f8b6c5d-m2w8k}}
        - {addresses: [10.0.0.3], targetRef: {kind: Pod, name: "web-\\x41", namespace: other}}
        - {addresses: [10.0.0.4], targetRef: {name: web-0}}
        - {addresses: [10.0.0.5]}
        """, file: "m.yaml")
        #expect(set.diagnostics.isEmpty)
        #expect(set.endpointSlices.first?.endpoints.map(\.target) == [
            .pod(ObjectRef(namespace: "shop", name: "web-7d9f8b6c5d-x2k4q")),
            .pod(ObjectRef(namespace: "shop", name: "web-7d9f8b6c5d-m2w8k")),
            .pod(ObjectRef(namespace: "other", name: "web-A")),
            EndpointTarget(kind: "", namespace: "shop", name: "web-0"),
            .none,
        ])
    }

    @Test func ignoredDocumentsAreWarnings() throws {
        let yaml = """
        just: a mapping
        ---
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata: {name: orphan}
        addressType: IPv4
        endpoints: [{addresses: [10.0.0.1]}]
        ---
        apiVersion: discovery.k8s.io/v1beta1
        kind: EndpointSlice
        metadata: {name: old}
        ---
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: ignored-silently}
        spec: {replicas: many}
        """
        let set = try ManifestSet.decode(yaml: yaml, file: "m.yaml")
        #expect(set == ManifestSet(diagnostics: set.diagnostics))
        #expect(set.diagnostics.map(\.description) == [
            "m.yaml:1:1: warning: not a Kubernetes object (no apiVersion and kind); ignored",
            "m.yaml:3:1: warning: EndpointSlice default/orphan: has no kubernetes.io/service-name label, so it belongs to no Service; ignored",
            "m.yaml:9:1: warning: discovery.k8s.io/v1beta1 EndpointSlice is no longer served by Kubernetes (since 1.25); ignored\n  hint: use apiVersion: discovery.k8s.io/v1",
        ])
    }

    /// A known kind with a bad field rejects the file, with the field's position.
    @Test(arguments: [
        ("""
        apiVersion: v1
        kind: Service
        metadata: {name: web}
        spec:
          type: Loadbalancer
          externalTrafficPolicy: local
          clusterIPs: [10.96.0.300]
          ports:
            - port: 70000
            - port: 80
              protocol: tcp
              targetPort: HTTP_PORT
          sessionAffinity: ClientIP
          sessionAffinityConfig: {clientIP: {timeoutSeconds: 0}}
          externalIPs: [example.com]
        """, [
            "m.yaml:5:9: error: Service default/web: spec.type: \"Loadbalancer\" is not valid\n  hint: did you mean \"LoadBalancer\"? (valid values: ClusterIP, NodePort, LoadBalancer, ExternalName)",
            "m.yaml:6:26: error: Service default/web: spec.externalTrafficPolicy: \"local\" is not valid\n  hint: did you mean \"Local\"? (valid values: Cluster, Local, Global)",
            "m.yaml:7:16: error: Service default/web: spec.clusterIPs[0]: \"10.96.0.300\" is not an IPv4 or IPv6 address",
            "m.yaml:9:13: error: Service default/web: spec.ports[0].port: 70000 is out of range 1-65535",
            "m.yaml:11:17: error: Service default/web: spec.ports[1].protocol: \"tcp\" is not valid\n  hint: did you mean \"TCP\"? (valid values: TCP, UDP, SCTP)",
            "m.yaml:12:19: error: Service default/web: spec.ports[1].targetPort: \"HTTP_PORT\" is neither a port number nor a valid port name\n  hint: a port name has at most 15 lower-case letters, digits and \"-\", with at least one letter",
            "m.yaml:14:54: error: Service default/web: spec.sessionAffinityConfig.clientIP.timeoutSeconds: 0 is out of range 1-86400",
            "m.yaml:15:17: error: Service default/web: spec.externalIPs[0]: \"example.com\" is not an IPv4 or IPv6 address",
        ]),
        ("""
        apiVersion: v1
        kind: List
        items:
        - apiVersion: discovery.k8s.io/v1
          kind: EndpointSlice
          metadata:
            name: web-1
            namespace: shop
            labels: {kubernetes.io/service-name: web}
          addressType: IPv4
          endpoints:
          - addresses: ["2001:db8::1"]
            conditions: {ready: yes}
          ports:
          - port: "80"
        """, [
            "m.yaml:12:17: error: EndpointSlice shop/web-1: endpoints[0].addresses[0]: 2001:db8::1 is not an IPv4 address, as the slice's addressType says",
            "m.yaml:13:25: error: EndpointSlice shop/web-1: endpoints[0].conditions.ready: expected true or false, found \"yes\"\n  hint: write true or false",
            "m.yaml:15:11: error: EndpointSlice shop/web-1: ports[0].port: expected an integer, found \"80\"\n  hint: remove the quotes",
        ]),
        ("""
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata: {name: web-2, namespace: shop, labels: {kubernetes.io/service-name: web}}
        addressType: IPv4
        endpoints:
        - addresses: []
        """, [
            "m.yaml:6:14: error: EndpointSlice shop/web-2: endpoints[0].addresses: lists no address; an endpoint has at least one",
        ]),
        ("""
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata: {name: web-3, namespace: shop, labels: {kubernetes.io/service-name: web}}
        addressType: IPv4
        endpoints:
        - {addresses: [10.0.0.1], targetRef: {kind: Pod, name: ""}}
        - {addresses: [10.0.0.2], targetRef: {kind: [Pod], name: web-0}}
        - {addresses: [10.0.0.3], targetRef: {kind: Pod, namespace: "", name: web-0}}
        - {addresses: [10.0.0.4], targetRef: {kind: Pod}}
        - {addresses: [10.0.0.5], targetRef: web-0}
        """, [
            "m.yaml:6:56: error: EndpointSlice shop/web-3: endpoints[0].targetRef.name: must not be empty",
            "m.yaml:7:45: error: EndpointSlice shop/web-3: endpoints[1].targetRef.kind: expected a string, found a list",
            "m.yaml:8:61: error: EndpointSlice shop/web-3: endpoints[2].targetRef.namespace: must not be empty",
            "m.yaml:9:38: error: EndpointSlice shop/web-3: endpoints[3].targetRef: missing required key \"name\"",
            "m.yaml:10:38: error: EndpointSlice shop/web-3: endpoints[4].targetRef: expected a mapping of keys to values, found \"web-0\"",
        ]),
        ("""
        apiVersion: v1
        kind: Service
        metadata:
          namespace: shop
        ---
        apiVersion: v1
        kind: Endpoints
        metadata: {name: legacy}
        subsets:
        - addresses: [{ip: 10.0.0.256}, {hostname: x}]
        ---
        apiVersion: v1
        kind: Node
        metadata: {name: n1, labels: {a: [b]}}
        status:
          conditions: [{type: Ready}]
          addresses: [{type: InternalIP, address: node-1}]
        ---
        kind: Namespace
        metadata: {name: x}
        """, [
            "m.yaml:4:3: error: metadata: missing required key \"name\"",
            "m.yaml:10:20: error: Endpoints default/legacy: subsets[0].addresses[0].ip: \"10.0.0.256\" is not an IPv4 or IPv6 address",
            "m.yaml:10:33: error: Endpoints default/legacy: subsets[0].addresses[1]: missing required key \"ip\"",
            "m.yaml:14:34: error: metadata.labels.a: expected a string, found a list",
            "m.yaml:19:1: error: an object needs both apiVersion and kind",
        ]),
        ("""
        apiVersion: v1
        kind: Service
        metadata: {name: web}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: web, namespace: default}
        """, [
            "m.yaml:5:1: error: Service default/web is defined twice in this file\n  hint: the first definition is at m.yaml:1:1; keep one",
        ]),
    ])
    func errors(yaml: String, expected: [String]) {
        #expect(messages { () throws(Diagnostics) in try ManifestSet.decode(yaml: yaml, file: "m.yaml") } == expected)
    }

    @Test func headlessAndSelectorless() throws {
        let yaml = """
        apiVersion: v1
        kind: Service
        metadata: {name: db}
        spec:
          clusterIP: None
          ports: [{port: 5432, name: ""}]
        """
        let s = try #require(try ManifestSet.decode(yaml: yaml, file: "m.yaml").services.first)
        #expect(s.clusterIPs.isEmpty && s.selector == nil && s.type == .clusterIP)
        #expect(s.ports == [ServicePort(port: 5432)])
    }
}

/// A directory of manifest files, and the snapshot made from its files.
@Suite struct ManifestDirectoryTests {
    private let service = "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {type: LoadBalancer, ports: [{port: 80}]}\n"
    private let slice = """
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata: {name: web-1, labels: {kubernetes.io/service-name: web}}
        addressType: IPv4
        endpoints: [{addresses: [10.0.0.1]}]
        """
    private let endpoints = "apiVersion: v1\nkind: Endpoints\nmetadata: {name: web}\nsubsets: [{addresses: [{ip: 10.0.0.9}]}]\n"

    @Test func eachFileHasItsOwnResult() throws {
        let fs = Fixture.fileSystem([
            "/srv/services/a.yaml": service,
            "/srv/services/b.yml": "apiVersion: v1\nkind: Service\nmetadata: {name: bad}\nspec: {ports: [{port: 0}]}\n",
            "/srv/services/c.json": "{\"apiVersion\": \"v1\", \"kind\": \"Namespace\", \"metadata\": {\"name\": \"shop\"}}",
            "/srv/services/notes.txt": "not a manifest",
            "/srv/services/.a.yaml.swp": "editor swap file",
            "/srv/services/sub/d.yaml": service,
        ])
        let files = try ManifestDirectory.load(directory: "/srv/services", fileSystem: fs).get()
        #expect(files.map(\.path) == ["/srv/services/a.yaml", "/srv/services/b.yml", "/srv/services/c.json"])
        #expect((try? files[0].result.get())?.services.map(\.ref.name) == ["web"])
        #expect(files[1].result == .failure(Diagnostics([Diagnostic(
            .error, "Service default/bad: spec.ports[0].port: 0 is out of range 1-65535",
            at: Location(file: "/srv/services/b.yml", line: 4, column: 23))])))
        #expect((try? files[2].result.get())?.namespaces == [Namespace(name: "shop")])
    }

    @Test func missingDirectory() {
        #expect(ManifestDirectory.load(directory: "/nowhere", fileSystem: Fixture.fileSystem([:]))
            == .failure(Diagnostics([Diagnostic(.error, "manifest directory /nowhere no such directory", at: nil)])))
    }

    /// Real slices win over converted Endpoints; the first file (by path) wins a duplicate.
    @Test func snapshot() throws {
        let a = try ManifestSet.decode(yaml: service + "---\n" + endpoints, file: "a.yaml")
        let b = try ManifestSet.decode(yaml: slice + "\n---\n" + service, file: "b.yaml")
        let web = ObjectRef(namespace: "default", name: "web")

        let (withSlice, diagnostics) = ManifestSet.snapshot(of: ["b.yaml": b, "a.yaml": a])
        #expect(withSlice.services[web]?.location?.file == "a.yaml")
        #expect(withSlice.slices(for: web).map(\.ref.name) == ["web-1"])
        #expect(diagnostics.map(\.description) == [
            "b.yaml:7:1: warning: Service default/web is defined in a.yaml and in b.yaml; the one in b.yaml is ignored\n  hint: keep one definition",
        ])

        let (legacyOnly, none) = ManifestSet.snapshot(of: ["a.yaml": a])
        #expect(legacyOnly.slices(for: web).map(\.endpoints) == [[Endpoint(address: IPAddress("10.0.0.9")!, conditions: .init(ready: true))]])
        #expect(none.isEmpty)
    }
}
