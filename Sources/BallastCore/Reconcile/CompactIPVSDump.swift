// A full IPVS dump held from the moment it is read until a round uses it.
//
// ballastd reads the kernel's table ahead, on its kernel thread, while the
// manifests are decoded (seconds at 10,000 files), and the first round uses
// that dump once the plan exists. Here every service's destinations are in
// one flat array that comes and goes as one block, without traffic counters,
// and `IPVSKnownTable(_:sharing:)` takes the plan's arrays for the services
// that are as planned instead of making its own.
//
// It is also built as the dump is read (`IPVSControl.compactDump()`, which
// the netlink client streams into `append`): a dump read as one array per
// virtual service made 10,000 small arrays among the objects the decoding
// threads were making at the same time, and freeing them after the copy
// left 10,000 holes between long-lived objects that malloc could not give
// back: a warm start ended 5–6 MiB above a cold one with the same live heap
// (heaptrack, 10,000 Services: 42.4 against 42.2 MB live).
public struct CompactIPVSDump: Sendable {
    /// A virtual service without its destinations, and where they end in
    /// `destinations` (they start where the previous service's end).
    private struct Header: Sendable {
        var service: IPVSVirtualService
        var end: Int
    }

    private var headers: [Header] = []
    private var destinations: [ObservedDestination] = []

    /// An empty dump with room for `services` virtual services.
    public init(reservingCapacity services: Int = 0) {
        headers.reserveCapacity(services)
    }

    public init(_ dump: [ObservedVirtualService]) {
        self.init(reservingCapacity: dump.count)
        destinations.reserveCapacity(dump.reduce(0) { $0 + $1.destinations.count })
        for service in dump {
            append(service.withoutDestinations, destinations: service.destinations)
        }
    }

    /// Adds one virtual service (its own destinations, if any, are ignored)
    /// with `serviceDestinations`, without their traffic counters: the known
    /// table does not keep them, and each non-zero one is an object of its own.
    public mutating func append(_ service: IPVSVirtualService,
                                destinations serviceDestinations: some Collection<ObservedDestination>) {
        destinations.append(contentsOf: serviceDestinations.lazy.map {
            ObservedDestination(destination: $0.destination, activeConnections: $0.activeConnections,
                                inactiveConnections: $0.inactiveConnections,
                                persistentConnections: $0.persistentConnections)
        })
        var bare = service
        bare.destinations = []
        headers.append(Header(service: bare, end: destinations.count))
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
