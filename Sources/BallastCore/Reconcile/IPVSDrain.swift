// Graceful removal of destinations (kube-proxy's "graceful termination").
//
// Deleting an IPVS destination breaks its established connections: the
// kernel keeps their entries but drops their packets once the destination is
// gone (unless the expire_nodest_conn sysctl expires them first). So a
// destination that leaves the desired table while it still has connections is
// first set to weight 0 — no new connections are scheduled to it, existing
// ones keep flowing — and only deleted once it is idle or has drained for the
// drain timeout. The reconciler is otherwise stateless; this book is the one
// piece of memory it needs between rounds: when each drain started.

/// One destination of one virtual service.
public struct IPVSDestinationID: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var service: VirtualServiceKey
    public var endpoint: IPVSEndpoint

    public init(service: VirtualServiceKey, endpoint: IPVSEndpoint) {
        self.service = service
        self.endpoint = endpoint
    }

    /// "10.0.0.5:8080 of TCP 192.0.2.10:80"
    public var description: String { "\(endpoint) of \(service)" }

    public static func < (a: Self, b: Self) -> Bool { (a.service, a.endpoint) < (b.service, b.endpoint) }
}

/// When each draining destination started draining. Owned by the caller of
/// the reconciler (the daemon keeps it in memory; `ballastctl ipvs apply
/// --wait` for the length of one invocation) and handed back updated after
/// every round.
public struct IPVSDrainBook: Sendable, Hashable {
    public private(set) var started: [IPVSDestinationID: ContinuousClock.Instant]

    public init(started: [IPVSDestinationID: ContinuousClock.Instant] = [:]) {
        self.started = started
    }

    public subscript(id: IPVSDestinationID) -> ContinuousClock.Instant? {
        get { started[id] }
        set { started[id] = newValue }
    }

    public var isEmpty: Bool { started.isEmpty }
    public var count: Int { started.count }
}

/// A destination that is not desired any more but still has connections, kept
/// at weight 0 until it is idle or the drain timeout passes.
public struct IPVSDrainingDestination: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var id: IPVSDestinationID
    public var since: ContinuousClock.Instant
    /// How long it has drained so far (`now - since` at planning time).
    public var age: Duration
    public var activeConnections: UInt32
    public var inactiveConnections: UInt32
    public var persistentConnections: UInt32

    public init(id: IPVSDestinationID, since: ContinuousClock.Instant, age: Duration,
                activeConnections: UInt32, inactiveConnections: UInt32, persistentConnections: UInt32) {
        self.id = id
        self.since = since
        self.age = age
        self.activeConnections = activeConnections
        self.inactiveConnections = inactiveConnections
        self.persistentConnections = persistentConnections
    }

    public var connectionCount: UInt32 { activeConnections &+ inactiveConnections &+ persistentConnections }

    /// "draining 10.0.0.5:8080 of TCP 192.0.2.10:80: 3 connections (1 active, 2 inactive, 0 persistent), 12s"
    public var description: String {
        "draining \(id): \(connectionsText(connectionCount)) (\(activeConnections) active, "
            + "\(inactiveConnections) inactive, \(persistentConnections) persistent), \(age.wholeSeconds)s"
    }

    public static func < (a: Self, b: Self) -> Bool { a.id < b.id }
}

/// "1 connection", "3 connections".
func connectionsText(_ n: UInt32) -> String { n == 1 ? "1 connection" : "\(n) connections" }

extension Duration {
    /// Whole seconds, rounded down: the unit every drain message uses.
    var wholeSeconds: Int64 { components.seconds }
}
