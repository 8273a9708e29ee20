// The kernel's IPVS table as Ballast last knew it: a full dump, then every
// write of Ballast's that the kernel accepted, applied in memory the way the
// kernel applies it. Between full dumps it stands in for the dump, so that a
// change to one Service costs its writes rather than a read of the whole
// table (one request per virtual service: 10,001 at 10,000 Services).
//
// What it cannot know: changes made by others (an operator's ipvsadm, a
// flushed table) until the next full dump, and live counters. Connection
// counts matter where a destination leaves (drain or delete), so the caller
// reads those services again (`replaceDestinations`) before acting on them.
// Traffic counters are not kept at all: nothing reads them from here, and
// they would be most of the table's memory (see IPVSStatsBox).

public struct IPVSKnownTable: Sendable, Hashable {
    private var byKey: [VirtualServiceKey: ObservedVirtualService]
    /// The keys in order, as a dump lists them.
    private var keys: [VirtualServiceKey]

    /// A dump, in any order.
    public init(_ dump: [ObservedVirtualService]) {
        byKey = Dictionary(dump.map { service in
            var kept = service
            kept.stats = IPVSStats()
            kept.destinations = Self.kept(service.destinations)
            return (service.key, kept)
        }, uniquingKeysWith: { first, _ in first })
        keys = byKey.keys.sorted()
    }

    /// Every virtual service, ordered by key, destinations ordered by endpoint.
    public var services: [ObservedVirtualService] { keys.map { byKey[$0]! } }

    public var count: Int { keys.count }

    public subscript(key: VirtualServiceKey) -> ObservedVirtualService? { byKey[key] }

    /// Records writes the kernel accepted, in the order they were performed.
    /// The operations are in kernel form, as IPVSDiff plans them (direct-routing
    /// ports already the service's, persistence of 0 already none). Counters of
    /// a new destination start at 0, as in the kernel; an edit keeps them.
    public mutating func apply(_ operations: some Sequence<IPVSOperation>) {
        var added = false
        var deleted = false
        for operation in operations {
            switch operation {
            case .addService(let service):
                guard byKey[service.key] == nil else { continue }
                byKey[service.key] = ObservedVirtualService(key: service.key, scheduler: service.scheduler,
                                                            flags: service.flags, persistence: service.persistence)
                added = true
            case .editService(let service):
                byKey[service.key]?.scheduler = service.scheduler
                byKey[service.key]?.flags = service.flags
                byKey[service.key]?.persistence = service.persistence
            case .deleteService(let key):
                if byKey.removeValue(forKey: key) != nil { deleted = true }
            case .addDestination(let key, let destination):
                guard var service = byKey[key] else { continue }
                let index = service.destinations.partitioningIndex { !($0.destination < destination) }
                guard index == service.destinations.endIndex
                    || service.destinations[index].destination.endpoint != destination.endpoint else { continue }
                service.destinations.insert(ObservedDestination(destination: destination), at: index)
                byKey[key] = service
            case .editDestination(let key, let destination):
                guard let index = byKey[key]?.destinations.firstIndex(where: {
                    $0.destination.endpoint == destination.endpoint
                }) else { continue }
                byKey[key]?.destinations[index].destination = destination
            case .deleteDestination(let key, let endpoint):
                byKey[key]?.destinations.removeAll { $0.destination.endpoint == endpoint }
            }
        }
        // One pass for the whole batch: a cold start adds 10,000 services.
        if deleted { keys.removeAll { byKey[$0] == nil } }
        if added { keys = byKey.keys.sorted() }
    }

    /// A fresh read of one service's destinations (with live counts). A
    /// service not in the table is left out: only a full dump adds others'.
    public mutating func replaceDestinations(of key: VirtualServiceKey, with destinations: [ObservedDestination]) {
        guard byKey[key] != nil else { return }
        byKey[key]?.destinations = Self.kept(destinations)
    }

    /// Sorted by endpoint, without traffic counters.
    private static func kept(_ destinations: [ObservedDestination]) -> [ObservedDestination] {
        destinations.map { observed in
            var kept = observed
            kept.stats = IPVSStats()
            return kept
        }.sorted { $0.destination < $1.destination }
    }
}

extension Array {
    /// The first index whose element satisfies `belongs`, for a predicate that
    /// is false for a prefix of the array and true for the rest (binary search).
    fileprivate func partitioningIndex(where belongs: (Element) -> Bool) -> Int {
        var low = startIndex
        var high = endIndex
        while low < high {
            let middle = low + (high - low) / 2
            if belongs(self[middle]) { high = middle } else { low = middle + 1 }
        }
        return low
    }
}
