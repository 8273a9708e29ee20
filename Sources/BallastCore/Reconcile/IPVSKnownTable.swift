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
// Dump-form values (ObservedVirtualService) are built when asked for. The
// services are one array sorted by key, found by binary search: a dictionary
// by key beside the ordered keys held every key three times (in the entry,
// as the dictionary's key and in the order) and a quarter of its buckets
// empty, 1.8 MiB against 0.7 at 10,000 services.
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

        var key: VirtualServiceKey { service.key }
    }

    /// Strictly increasing by key, as a dump lists them.
    private var entries: [Entry]

    /// A dump, in any order. Should a key appear twice, the first is kept.
    /// With `desired` (the plan), the services whose destinations are exactly
    /// the plan's take the plan's arrays: the same table as without it and
    /// then `share(_:)`, without making the arrays that `share` would drop
    /// (10,000 arrays made and freed on every full dump).
    public init(_ dump: [ObservedVirtualService], sharing desired: [IPVSVirtualService] = []) {
        self.init(services: dump.lazy.map { ($0.withoutDestinations, $0.destinations) }, sharing: desired)
    }

    /// The same, from a dump held compactly until now.
    public init(_ dump: CompactIPVSDump, sharing desired: [IPVSVirtualService]) {
        self.init(services: dump.services, sharing: desired)
    }

    private init<Destinations: Collection<ObservedDestination>>(
        services dump: some Collection<(IPVSVirtualService, Destinations)>, sharing desired: [IPVSVirtualService]
    ) {
        let planned = PlannedDestinations(desired)
        // One buffer to sort each service's destinations in, reused: a
        // service the plan has as it is takes the plan's array, and only the
        // others get an array of their own.
        var scratch: [IPVSDestination] = []
        var entries: [Entry] = []
        entries.reserveCapacity(dump.count)
        for (service, destinations) in dump {
            var entry = Entry(service: service)
            scratch.removeAll(keepingCapacity: true)
            scratch.append(contentsOf: destinations.lazy.map(\.destination))
            scratch.sort()
            if let plan = planned[service.key], plan == scratch {
                entry.service.destinations = plan
            } else {
                entry.service.destinations = Array(scratch[...])  // exactly its size, scratch keeps its buffer
            }
            Self.keepCounts(destinations, in: &entry)
            entries.append(entry)
        }
        if !Self.isStrictlyIncreasing(entries) {
            // The dump's position breaks ties, so the first of a repeated key stays first.
            let order = entries.indices.sorted { (entries[$0].key, $0) < (entries[$1].key, $1) }
            var unique: [Entry] = []
            unique.reserveCapacity(entries.count)
            for index in order where unique.last?.key != entries[index].key { unique.append(entries[index]) }
            entries = unique
        }
        self.entries = entries
    }

    /// Every virtual service, ordered by key, destinations ordered by endpoint.
    public var services: [ObservedVirtualService] { entries.map(Self.observed) }

    /// The same, built one at a time as they are read (no array of the whole table).
    public var lazyServices: some Collection<ObservedVirtualService> { entries.lazy.map(Self.observed) }

    public var count: Int { entries.count }

    /// Services with a destination at weight 0 that still has connections:
    /// those draining (without building the dump form of the others).
    public var drainingKeys: [VirtualServiceKey] {
        entries.compactMap { entry in
            let draining = !entry.counts.isEmpty
                && entry.service.destinations.contains { $0.weight == 0 && entry.counts[$0.endpoint] != nil }
            return draining ? entry.key : nil
        }
    }

    public subscript(key: VirtualServiceKey) -> ObservedVirtualService? { index(of: key).map { Self.observed(entries[$0]) } }

    /// How many destinations a service has (nil: not in the table), without
    /// building its dump form: the status counts 100,000 of them.
    public func destinationCount(of key: VirtualServiceKey) -> Int? {
        index(of: key).map { entries[$0].service.destinations.count }
    }

    /// Records writes the kernel accepted, in the order they were performed.
    /// The operations are in kernel form, as IPVSDiff plans them (direct-routing
    /// ports already the service's, persistence of 0 already none). Counters of
    /// a new destination start at 0, as in the kernel; an edit keeps them.
    public mutating func apply(_ operations: some Sequence<IPVSOperation>) {
        // Services added and deleted are merged into the sorted entries once,
        // after the batch: a cold start adds 10,000 services, and inserting
        // or removing them one by one would move the array each time.
        var added: [VirtualServiceKey: Entry] = [:]
        var deleted: Set<Int> = []
        func position(of key: VirtualServiceKey) -> Int? {
            index(of: key).flatMap { deleted.contains($0) ? nil : $0 }
        }
        func modify(_ key: VirtualServiceKey, _ body: (inout Entry) -> Void) {
            if added[key] != nil {
                body(&added[key]!)
            } else if let index = position(of: key) {
                body(&entries[index])
            }
        }
        for operation in operations {
            switch operation {
            case .addService(let service):
                guard added[service.key] == nil, position(of: service.key) == nil else { continue }
                added[service.key] = Entry(service: IPVSVirtualService(key: service.key, scheduler: service.scheduler,
                                                                       flags: service.flags, persistence: service.persistence))
            case .editService(let service):
                modify(service.key) { entry in
                    entry.service.scheduler = service.scheduler
                    entry.service.flags = service.flags
                    entry.service.persistence = service.persistence
                }
            case .deleteService(let key):
                if added.removeValue(forKey: key) == nil, let index = position(of: key) { deleted.insert(index) }
            case .addDestination(let key, let destination):
                modify(key) { entry in
                    let index = entry.service.destinations.partitioningIndex { !($0 < destination) }
                    guard index == entry.service.destinations.endIndex
                        || entry.service.destinations[index].endpoint != destination.endpoint else { return }
                    entry.service.destinations.insert(destination, at: index)
                    entry.counts[destination.endpoint] = nil
                }
            case .editDestination(let key, let destination):
                modify(key) { entry in
                    guard let index = entry.service.destinations.firstIndex(where: {
                        $0.endpoint == destination.endpoint
                    }) else { return }
                    entry.service.destinations[index] = destination
                }
            case .deleteDestination(let key, let endpoint):
                modify(key) { entry in
                    entry.service.destinations.removeAll { $0.endpoint == endpoint }
                    entry.counts[endpoint] = nil
                }
            }
        }
        guard !added.isEmpty || !deleted.isEmpty else { return }
        let new = added.values.sorted { $0.key < $1.key }
        var merged: [Entry] = []
        merged.reserveCapacity(entries.count - deleted.count + new.count)
        var next = new.startIndex
        for (index, entry) in entries.enumerated() where !deleted.contains(index) {
            while next < new.endIndex && new[next].key < entry.key {
                merged.append(new[next])
                next += 1
            }
            merged.append(entry)
        }
        merged.append(contentsOf: new[next...])
        entries = merged
    }

    /// A fresh read of one service's destinations (with live counts). A
    /// service not in the table is left out: only a full dump adds others'.
    public mutating func replaceDestinations(of key: VirtualServiceKey, with destinations: [ObservedDestination]) {
        guard let index = index(of: key) else { return }
        Self.keep(destinations, in: &entries[index])
    }

    /// Takes the destination arrays of `desired` (the plan) for the services
    /// whose destinations are exactly those, so that the table and the plan
    /// hold one array between them. Changes no value.
    public mutating func share(_ desired: some Sequence<IPVSVirtualService>) {
        // The plan is sorted by key as the entries are: look at the entry
        // after the last one found before searching.
        var next = 0
        for service in desired {
            let index: Int
            if next < entries.count && entries[next].key == service.key {
                index = next
            } else if let found = self.index(of: service.key) {
                index = found
            } else {
                continue
            }
            next = index + 1
            guard entries[index].service.destinations == service.destinations else { continue }
            entries[index].service.destinations = service.destinations
        }
    }

    private func index(of key: VirtualServiceKey) -> Int? {
        let index = entries.partitioningIndex { !($0.key < key) }
        return index < entries.endIndex && entries[index].key == key ? index : nil
    }

    private static func isStrictlyIncreasing(_ entries: [Entry]) -> Bool {
        guard entries.count > 1 else { return true }
        for index in 1..<entries.count where !(entries[index - 1].key < entries[index].key) { return false }
        return true
    }

    /// Sorted by endpoint, without traffic counters.
    private static func keep(_ destinations: [ObservedDestination], in entry: inout Entry) {
        // Sorted in place: `sorted()` would copy the mapped array, one
        // throwaway array per service on every full dump.
        var kept = destinations.map(\.destination)
        kept.sort()
        entry.service.destinations = kept
        keepCounts(destinations, in: &entry)
    }

    /// The non-zero connection counts of `destinations`.
    private static func keepCounts(_ destinations: some Sequence<ObservedDestination>, in entry: inout Entry) {
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

/// The plan's destination arrays by service key, for `IPVSKnownTable`'s
/// sharing initializer. The plan lists its services sorted by key: found by
/// binary search then, through a dictionary otherwise.
private struct PlannedDestinations {
    private let services: [IPVSVirtualService]
    private let byKey: [VirtualServiceKey: Int]?

    init(_ services: [IPVSVirtualService]) {
        self.services = services
        let sorted = zip(services, services.dropFirst()).allSatisfy { $0.key < $1.key }
        byKey = sorted ? nil
            : Dictionary(services.indices.map { (services[$0].key, $0) }, uniquingKeysWith: { first, _ in first })
    }

    subscript(key: VirtualServiceKey) -> [IPVSDestination]? {
        if let byKey { return byKey[key].map { services[$0].destinations } }
        let index = services.partitioningIndex { !($0.key < key) }
        return index < services.endIndex && services[index].key == key ? services[index].destinations : nil
    }
}

extension ObservedVirtualService {
    /// Key, scheduler, flags and persistence, as a service without destinations.
    var withoutDestinations: IPVSVirtualService {
        IPVSVirtualService(key: key, scheduler: scheduler, flags: flags, persistence: persistence)
    }
}
