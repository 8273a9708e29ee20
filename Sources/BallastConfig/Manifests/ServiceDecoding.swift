import BallastCore

/// Decoders of the Kubernetes kinds Ballast reads. Each returns nil after
/// reporting what is wrong; field rules follow the API server's validation
/// where a wrong value would otherwise be misread.
enum ManifestDecoding {
    static let protocols: [(String, IPVSProtocol)] = [("TCP", .tcp), ("UDP", .udp), ("SCTP", .sctp)]
    static let families: [(String, AddressFamily)] = [("IPv4", .ipv4), ("IPv6", .ipv6)]

    static func service(_ object: KubernetesObject) -> Service? {
        let sink = object.fields.value.sink
        guard let meta = object.fields.objectMeta() else { return nil }
        return sink.about(object.subject(meta)) {
            sink.clean {
                guard let spec = object.fields.section("spec") else { return nil }
                let type = spec["type"]?.choice(ServiceType.self) ?? .clusterIP
                let ports = spec["ports"]?.list(servicePort) ?? []
                let selector = spec["selector"]?.stringMap()
                // "Global" is the pre-1.15 spelling of Cluster, still accepted by the API server.
                let externalTrafficPolicy = spec["externalTrafficPolicy"]?
                    .choice([("Cluster", TrafficPolicy.cluster), ("Local", .local), ("Global", .cluster)]) ?? .cluster
                let internalTrafficPolicy = spec["internalTrafficPolicy"]?.choice(TrafficPolicy.self) ?? .cluster
                let affinity = sessionAffinity(spec)
                let externalIPs = spec["externalIPs"]?.list(address) ?? []
                return Service(
                    ref: meta.ref, labels: meta.labels, annotations: meta.annotations, type: type,
                    ports: ports, selector: selector, clusterIPs: clusterIPs(spec),
                    externalTrafficPolicy: externalTrafficPolicy, internalTrafficPolicy: internalTrafficPolicy,
                    sessionAffinity: affinity ?? .none,
                    loadBalancerIP: spec["loadBalancerIP"]?.string().flatMap { $0.isEmpty ? nil : $0 },
                    loadBalancerClass: spec["loadBalancerClass"]?.name(),
                    ipFamilies: spec["ipFamilies"]?.list { $0.choice(families) } ?? [],
                    ipFamilyPolicy: spec["ipFamilyPolicy"]?.choice(IPFamilyPolicy.self), externalIPs: externalIPs,
                    ingressIPs: ingressIPs(object.fields), location: object.location)
            }
        }
    }

    private static func servicePort(_ value: Value) -> ServicePort? {
        value.sink.clean {
            guard let m = value.mapping() else { return nil }
            guard let port = m.required("port")?.int(in: 1...65535) else { return nil }
            return ServicePort(name: m["name"]?.string().flatMap { $0.isEmpty ? nil : $0 },
                               protocol: m["protocol"]?.choice(protocols) ?? .tcp, port: UInt16(port),
                               targetPort: m["targetPort"].flatMap(targetPort),
                               nodePort: m["nodePort"]?.int(in: 1...65535).map(UInt16.init))
        }
    }

    /// IntOrString: a port number, or the name of a container port (IANA_SVC_NAME).
    private static func targetPort(_ value: Value) -> TargetPort? {
        guard let scalar = value.node.scalar else {
            value.mismatch(expected: "a port number or a port name")
            return nil
        }
        if let n = Int(scalar.text) {
            guard (1...65535).contains(n) else {
                value.error("\(n) is out of range 1-65535")
                return nil
            }
            return .number(UInt16(n))
        }
        let name = scalar.text
        // Kubernetes IsValidPortName (IANA_SVC_NAME).
        guard (1...15).contains(name.count), name.allSatisfy({ Validation.isLowerAlphanumeric($0) || $0 == "-" }),
              name.contains(where: \.isLetter), !name.hasPrefix("-"), !name.hasSuffix("-"), !name.contains("--") else {
            value.error("\"\(name)\" is neither a port number nor a valid port name",
                        hint: "a port name has at most 15 lower-case letters, digits and \"-\", with at least one letter")
            return nil
        }
        return .name(name)
    }

    /// sessionAffinity with sessionAffinityConfig.clientIP.timeoutSeconds (default 10800, at most a day).
    private static func sessionAffinity(_ spec: MappingReader) -> SessionAffinity? {
        guard let clientIP = spec["sessionAffinity"]?.choice([("None", false), ("ClientIP", true)]) else { return nil }
        guard clientIP else { return SessionAffinity.none }
        let timeout = spec["sessionAffinityConfig"]?.mapping()?["clientIP"]?.mapping()?["timeoutSeconds"]?.int(in: 1...86400)
        return .clientIP(timeoutSeconds: timeout.map(UInt32.init) ?? SessionAffinity.defaultClientIPTimeout)
    }

    /// spec.clusterIPs, or spec.clusterIP from before dual-stack; "None" marks a headless Service.
    private static func clusterIPs(_ spec: MappingReader) -> [IPAddress] {
        let values = spec["clusterIPs"]?.list() ?? spec["clusterIP"].map { [$0] } ?? []
        return values.compactMap { value in
            guard let text = value.string(), text != "None", !text.isEmpty else { return nil }
            return address(value)
        }
    }

    /// status.loadBalancer.ingress[].ip: what a load balancer controller assigned earlier.
    private static func ingressIPs(_ object: MappingReader) -> [IPAddress] {
        guard let entries = object.section("status")?.section("loadBalancer")?["ingress"]?.list() else { return [] }
        // Entries with only a hostname (cloud load balancers) carry no address.
        return entries.compactMap { $0.mapping()?["ip"].flatMap(address) }
    }

    static func address(_ value: Value) -> IPAddress? {
        // Most addresses are dotted quads: read on the tree's bytes, no String made.
        if let v4 = value.node.withScalarBytes(dottedQuad) ?? nil { return .v4(v4) }
        guard let text = value.string() else { return nil }
        guard let address = dottedQuad(text).map(IPAddress.v4) ?? IPAddress(text) else {
            value.error("\"\(text)\" is not an IPv4 or IPv6 address")
            return nil
        }
        return address
    }

    /// The common case of `IPAddress(text)`, on bytes: four decimal fields of
    /// at most 255 without leading zeros (Kubernetes' rule). Anything else is
    /// nil and goes through `IPAddress`, which decides (and reads IPv6).
    /// A manifest directory holds hundreds of thousands of endpoint addresses,
    /// and parsing them by Character took a sixth of the time to load one.
    static func dottedQuad(_ text: String) -> IPv4Address? {
        var text = text
        return text.withUTF8(dottedQuad)
    }

    static func dottedQuad(_ bytes: UnsafeBufferPointer<UInt8>) -> IPv4Address? {
        var value: UInt32 = 0
        var n = 0
        for field in 0..<4 {
            if field > 0 {
                guard n < bytes.count, bytes[n] == UInt8(ascii: ".") else { return nil }
                n += 1
            }
            let start = n
            var number: UInt32 = 0
            while n < bytes.count, n - start < 4, (0x30...0x39).contains(bytes[n]) {
                number = number * 10 + UInt32(bytes[n] - 0x30)
                n += 1
            }
            // One to three digits, at most 255, and no leading zero ("010" reads as octal elsewhere).
            let digits = n - start
            guard (1...3).contains(digits), number <= 255, digits == 1 || bytes[start] != 0x30 else { return nil }
            value = value << 8 | number
        }
        return n == bytes.count ? IPv4Address(value) : nil
    }
}
