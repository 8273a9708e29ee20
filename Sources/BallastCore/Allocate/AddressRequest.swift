// What one Service asks of the allocator, read from its spec and annotations.

/// Which families a Service wants addresses of, from ipFamilyPolicy and ipFamilies.
struct FamilyRequirement: Sendable, Hashable, CustomStringConvertible {
    /// Acceptable families, preferred first.
    var families: [AddressFamily]
    /// Fewest addresses that satisfy the Service (2 only for RequireDualStack).
    var minimum: Int
    /// Most addresses the Service takes (1 for SingleStack).
    var maximum: Int

    /// Families come from spec.ipFamilies, else from the clusterIPs (as MetalLB
    /// derives them). Hand-written manifests often set neither: then a
    /// single-stack Service takes whichever family its pool has, IPv4 first.
    init(_ service: Service) {
        var listed: [AddressFamily] = []
        for family in service.ipFamilies.isEmpty ? service.clusterIPs.map(\.family) : service.ipFamilies
        where !listed.contains(family) {
            listed.append(family)
        }
        let policy = service.ipFamilyPolicy ?? .singleStack
        let both: [AddressFamily] = listed.isEmpty ? [.ipv4, .ipv6] : (listed + [listed[0].other]).uniqued()
        switch policy {
        case .singleStack:
            families = listed.isEmpty ? both : [listed[0]]
            minimum = 1
            maximum = 1
        case .preferDualStack:
            // A Service the API server made single-stack lists one family; honour it.
            families = listed.isEmpty ? both : listed
            minimum = 1
            maximum = families.count
        case .requireDualStack:
            families = both
            minimum = 2
            maximum = 2
        }
    }

    /// "IPv4 single-stack", "dual-stack (IPv6, IPv4) required", ...
    var description: String {
        let names = families.map(\.displayName).joined(separator: ", ")
        if maximum == 1 { return families.count == 1 ? "\(names) single-stack" : "single-stack" }
        return minimum == 2 ? "dual-stack (\(names)) required" : "dual-stack (\(names)) preferred"
    }
}

/// Sharing identity of a Service on an address (MetalLB's sharing and backend keys).
struct ShareKey: Sendable, Hashable {
    /// allow-shared-ip; nil = never shares.
    var sharingKey: String?
    /// "" for Cluster traffic policy (any backends may share); the selector
    /// rendered as "k=v,k2=v2" (sorted) for Local, so only Services reaching
    /// the same pods share an announcer.
    var backendKey: String

    init(_ service: Service) {
        sharingKey = ServiceAnnotations.value(ServiceAnnotations.allowSharedIP, in: service.annotations)?.value
        if service.externalTrafficPolicy == .local {
            backendKey = (service.selector ?? [:]).sorted { $0.key < $1.key }
                .map { "\($0.key)=\($0.value)" }.joined(separator: ",")
        } else {
            backendKey = ""
        }
    }
}

/// Immutable, and a class so that the allocator passes and reorders requests
/// without copying every Service's strings and dictionaries.
final class AddressRequest: Sendable {
    let ref: ObjectRef
    let service: Service
    let families: FamilyRequirement
    /// Requested addresses, at most one per family, primary first; empty = allocate automatically.
    let requested: [IPAddress]
    /// Where the request came from, for messages ("spec.loadBalancerIP", an annotation key).
    let requestSource: String
    let poolName: String?
    let share: ShareKey
    let ports: [ServicePortKey]

    init(_ service: Service) throws(AllocationFailure) {
        ref = service.ref
        self.service = service
        let families = FamilyRequirement(service)
        poolName = ServiceAnnotations.value(ServiceAnnotations.addressPool, in: service.annotations)?.value
        share = ShareKey(service)
        ports = service.ports.map { ServicePortKey(protocol: $0.protocol, port: $0.port) }.uniqued().sorted()

        let specIP = service.loadBalancerIP.flatMap { $0.isEmpty ? nil : $0 }
        let annotation = ServiceAnnotations.value(ServiceAnnotations.loadBalancerIPs, in: service.annotations)
            .flatMap { $0.value.isEmpty ? nil : $0 }
        let texts: [String]
        switch (specIP, annotation) {
        case (.some, .some(let a)):
            throw .conflictingRequests(annotation: a.key)
        case (.some(let ip), nil):
            requestSource = "spec.loadBalancerIP"
            texts = [ip]
        case (nil, .some(let a)):
            requestSource = "annotation \(a.key)"
            texts = a.value.split(separator: ",").map { String($0).trimmingSpaces }
        case (nil, nil):
            requestSource = ""
            texts = []
        }

        var addresses: [IPAddress] = []
        for text in texts {
            guard let address = IPAddress(text) else { throw .invalidRequestedAddress(source: requestSource, text: text) }
            guard !addresses.contains(where: { $0.family == address.family }) else {
                throw .twoAddressesOfOneFamily(source: requestSource, address.family)
            }
            guard families.families.contains(address.family) else {
                throw .requestedFamilyNotAllowed(address, families: families.description)
            }
            addresses.append(address)
        }
        if !addresses.isEmpty {
            if addresses.count < families.minimum {
                throw .tooFewRequestedAddresses(source: requestSource, families: families.description)
            }
            if addresses.count > families.maximum {
                throw .tooManyRequestedAddresses(source: requestSource, families: families.description)
            }
        }
        requested = addresses.sorted { families.rank($0.family) < families.rank($1.family) }
        self.families = families
    }
}

extension FamilyRequirement {
    /// Position in the preference order (unknown families sort last).
    func rank(_ family: AddressFamily) -> Int { families.firstIndex(of: family) ?? families.count }
}

extension Array where Element: Hashable {
    func uniqued() -> [Element] {
        var seen = Set<Element>()
        return filter { seen.insert($0).inserted }
    }
}

extension String {
    /// Without leading and trailing blanks (no Foundation here).
    var trimmingSpaces: String {
        let isBlank: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
        guard let start = firstIndex(where: { !isBlank($0) }), let end = lastIndex(where: { !isBlank($0) }) else { return "" }
        return String(self[start...end])
    }
}
