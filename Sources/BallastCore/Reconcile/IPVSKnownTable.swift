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

//
// Memory (issue 5): the table holds the same 100,000 destinations as the plan
// at 10,000 Services. Each service keeps its destinations as the plan's type
// (IPVSDestination) with the few non-zero connection counts beside them, so
// that once a round has made a service what the plan wants, the table takes
// the plan's array itself (`share`) instead of a copy: 5.7 MiB less at READY.
// Dump-form values (ObservedVirtualService) are built when asked for.
public struct IPVSKnownTable: Sendable, Hashable {
    /// Connection counts of one destination; only non-zero ones are kept.
    private struct Counts: Sendable, Hashable {
        var active: UInt32
        var inactive: UInt32
        var persistent: UInt32
    }

    private struct Entry: Sendable, Hashable {
        /// Destinations sorted by endpoint.
        var service: IPVSVirtualService
        var counts: [IPVSEndpoint: Counts] = [:]
    }

    private var byKey: [VirtualServiceKey: Entry]
    /// The keys in order, as a dump lists them.
    private var keys: [VirtualServiceKey]

    /// A dump, in any order.
    public init(_ dump: [ObservedVirtualService]) {
        byKey = Dictionary(dump.map { service in
            var entry = Entry(service: IPVSVirtualService(key: service.key, scheduler: service.scheduler,
                                                          flags: service.flags, persistence: service.persistence))
            Self.keep(service.destinations, in: &entry)
            return (service.key, entry)
        }, uniquingKeysWith: { first, _ in first })
        keys = byKey.keys.sorted()
    }

    /// Every virtual service, ordered by key, destinations ordered by endpoint.
    public var services: [ObservedVirtualService] { keys.map { Self.observed(byKey[$0]!) } }

    /// The same, built one at a time as they are read (no array of the whole table).
    public var lazyServices: LazyMapSequence<[VirtualServiceKey], ObservedVirtualService> {
        keys.lazy.map { [byKey] in Self.observed(byKey[$0]!) }
    }

    public var count: Int { keys.count }

    /// Services with a destination at weight 0 that still has connections:
    /// those draining (without building the dump form of the others).
    public var drainingKeys: [VirtualServiceKey] {
        keys.filter { key in
            let entry = byKey[key]!
            return !entry.counts.isEmpty && entry.service.destinations.contains { $0.weight == 0 && entry.counts[$0.endpoint] != nil }
        }
    }

    public subscript(key: VirtualServiceKey) -> ObservedVirtualService? { byKey[key].map(Self.observed) }

    /// How many destinations a service has (nil: not in the table), without
    /// building its dump form: the status counts 100,000 of them.
    public func destinationCount(of key: VirtualServiceKey) -> Int? { byKey[key]?.service.destinations.count }

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
                byKey[service.key] = Entry(service: IPVSVirtualService(key: service.key, scheduler: service.scheduler,
                                                                       flags: service.flags, persistence: service.persistence))
                added = true
            case .editService(let service):
                byKey[service.key]?.service.scheduler = service.scheduler
                byKey[service.key]?.service.flags = service.flags
                byKey[service.key]?.service.persistence = service.persistence
            case .deleteService(let key):
                if byKey.removeValue(forKey: key) != nil { deleted = true }
            case .addDestination(let key, let destination):
                guard var entry = byKey[key] else { continue }
                let index = entry.service.destinations.partitioningIndex { !($0 < destination) }
                guard index == entry.service.destinations.endIndex
                    || entry.service.destinations[index].endpoint != destination.endpoint else { continue }
                // Out of the dictionary while it changes: a copy left there would make the insert copy the array.
                byKey[key] = nil
                entry.service.destinations.insert(destination, at: index)
                entry.counts[destination.endpoint] = nil
                byKey[key] = entry
            case .editDestination(let key, let destination):
                guard let index = byKey[key]?.service.destinations.firstIndex(where: {
                    $0.endpoint == destination.endpoint
                }) else { continue }
                byKey[key]?.service.destinations[index] = destination
            case .deleteDestination(let key, let endpoint):
                byKey[key]?.service.destinations.removeAll { $0.endpoint == endpoint }
                byKey[key]?.counts[endpoint] = nil
            }
        }
        // One pass for the whole batch: a cold start adds 10,000 services.
        if deleted { keys.removeAll { byKey[$0] == nil } }
        if added { keys = byKey.keys.sorted() }
    }

    /// A fresh read of one service's destinations (with live counts). A
    /// service not in the table is left out: only a full dump adds others'.
    public mutating func replaceDestinations(of key: VirtualServiceKey, with destinations: [ObservedDestination]) {
        guard var entry = byKey[key] else { return }
        Self.keep(destinations, in: &entry)
        byKey[key] = entry
    }

    /// Takes the destination arrays of `desired` (the plan) for the services
    /// whose destinations are exactly those, so that the table and the plan
    /// hold one array between them. Changes no value.
    public mutating func share(_ desired: some Sequence<IPVSVirtualService>) {
        for service in desired {
            guard let index = byKey.index(forKey: service.key) else { continue }
            let entry = byKey.values[index]
            guard entry.service.destinations == service.destinations else { continue }
            byKey.values[index].service.destinations = service.destinations
        }
    }

    /// Sorted by endpoint, without traffic counters.
    private static func keep(_ destinations: [ObservedDestination], in entry: inout Entry) {
        entry.service.destinations = destinations.map(\.destination).sorted()
        entry.counts = [:]
        for observed in destinations
        where observed.activeConnections != 0 || observed.inactiveConnections != 0 || observed.persistentConnections != 0 {
            entry.counts[observed.destination.endpoint] = Counts(active: observed.activeConnections,
                                                                 inactive: observed.inactiveConnections,
                                                                 persistent: observed.persistentConnections)
        }
    }

    private static func observed(_ entry: Entry) -> ObservedVirtualService {
        let service = entry.service
        return ObservedVirtualService(key: service.key, scheduler: service.scheduler, flags: service.flags,
                                      persistence: service.persistence,
                                      destinations: service.destinations.map { destination in
                                          let counts = entry.counts[destination.endpoint]
                                          return ObservedDestination(destination: destination,
                                                                     activeConnections: counts?.active ?? 0,
                                                                     inactiveConnections: counts?.inactive ?? 0,
                                                                     persistentConnections: counts?.persistent ?? 0)
                                      })
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
