// A full IPVS dump held from the moment it is read until a round uses it.
//
// ballastd reads the kernel's table ahead, on its kernel thread, while the
// manifests are decoded (seconds at 10,000 files), and the first round uses
// that dump once the plan exists. Held as one array per virtual service, it
// was 10,000 small arrays made among the decoded objects and dropped after
// the first round. Here every service's destinations are in one flat array
// that comes and goes as one block, without traffic counters, and
// `IPVSKnownTable(_:sharing:)` takes the plan's arrays for the services that
// are as planned instead of making its own. (A warm start still ends a few
// MiB above a cold one: docs/performance.md, "Memory: 10,000 Services in
// about 60 MiB".)
public struct CompactIPVSDump: Sendable {
    /// A virtual service without its destinations, and where they end in
    /// `destinations` (they start where the previous service's end).
    private struct Header: Sendable {
        var service: IPVSVirtualService
        var end: Int
    }

    private var headers: [Header] = []
    private var destinations: [ObservedDestination] = []

    public init(_ dump: [ObservedVirtualService]) {
        headers.reserveCapacity(dump.count)
        destinations.reserveCapacity(dump.reduce(0) { $0 + $1.destinations.count })
        for service in dump {
            // Without traffic counters, which the known table does not keep:
            // each non-zero one is an object of its own.
            destinations.append(contentsOf: service.destinations.lazy.map {
                ObservedDestination(destination: $0.destination, activeConnections: $0.activeConnections,
                                    inactiveConnections: $0.inactiveConnections,
                                    persistentConnections: $0.persistentConnections)
            })
            headers.append(Header(service: IPVSVirtualService(key: service.key, scheduler: service.scheduler,
                                                              flags: service.flags, persistence: service.persistence),
                                  end: destinations.count))
        }
    }

    /// How many virtual services the dump holds.
    public var count: Int { headers.count }

    /// Each service (without destinations) with its destinations, in the dump's order.
    var services: some Collection<(IPVSVirtualService, ArraySlice<ObservedDestination>)> {
        headers.indices.lazy.map { [headers, destinations] index in
            let start = index == 0 ? 0 : headers[index - 1].end
            return (headers[index].service, destinations[start..<headers[index].end])
        }
    }
}
