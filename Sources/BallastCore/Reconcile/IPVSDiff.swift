// Desired vs observed IPVS table → the minimal ordered list of writes.
//
// Pure: no clock, no kernel. The reconciler feeds it one dump and `now`.
//
// Rules:
// - Only services the ownership rule owns are ever written. A desired service
//   that is not owned is a conflict and left alone, even if it exists.
// - A change of scheduler, flags or persistence is an edit of the service; a
//   change of weight, thresholds or forwarding is an edit of the destination.
//   Never delete-and-add for those: deleting resets the kernel's counters,
//   breaks established connections, and parks the object in the kernel's dest
//   trash list, which slows down every later add.
// - Order within a service is make-before-break: add its new destinations,
//   then edit, then remove, so the service never passes through "no
//   destination" while it is being moved to new backends.
// - Service adds and edits come first (in key order), service deletes last.
//   Keys are unique, so no add can clash with a delete; putting deletes last
//   means an interrupted batch leaves a superset of the desired table (a stale
//   service the next round removes) rather than a subset (an outage).
// - Removed services are deleted at once, without a drain, as kube-proxy
//   does: a service leaves the table when its VIP is withdrawn, so no client
//   reaches it any more, and keeping it would hold the key for nothing.
// - Removed destinations drain (see IPVSDrain.swift) unless the service is
//   UDP, where there are no connections to protect: kube-proxy removes UDP
//   destinations at once too. Firewall-mark services may carry TCP, so they
//   drain.

/// Tunables of a reconcile.
public struct IPVSReconcileSettings: Sendable, Hashable {
    /// How long a removed destination that still has connections stays at
    /// weight 0 before it is deleted anyway. Zero deletes at once; nil waits
    /// until it is idle, however long that takes.
    public var drainTimeout: Duration?

    public init(drainTimeout: Duration? = .seconds(300)) {
        self.drainTimeout = drainTimeout
    }
}

/// One field that differs between the kernel and the desired table.
public struct IPVSFieldChange: Sendable, Hashable, CustomStringConvertible {
    public var field: String
    public var old: String
    public var new: String

    public init(field: String, old: String, new: String) {
        self.field = field
        self.old = old
        self.new = new
    }

    /// "weight 1 → 0"
    public var description: String { "\(field) \(old) → \(new)" }
}

/// Why an operation is planned.
public enum IPVSChangeReason: Sendable, Hashable, CustomStringConvertible {
    /// Desired but not in the kernel.
    case missing
    /// In the kernel with other settings; edited in place.
    case changed([IPVSFieldChange])
    /// In the kernel but not desired: a service, a UDP destination, or an idle
    /// destination.
    case notDesired
    /// Not desired but has connections: set to weight 0 to drain.
    case startDrain(connections: UInt32)
    /// Was draining and is now idle.
    case drained
    /// Was draining and still has connections, but the drain timeout passed.
    case drainTimedOut(age: Duration, connections: UInt32)

    public var description: String {
        switch self {
        case .missing: "missing"
        case .changed(let changes): changes.map(\.description).joined(separator: ", ")
        case .notDesired: "not desired"
        case .startDrain(let n): "draining, \(connectionsText(n))"
        case .drained: "drained, idle"
        case let .drainTimedOut(age, n): "drain timeout after \(age.wholeSeconds)s, \(connectionsText(n)) dropped"
        }
    }
}

/// An operation with the reason it is planned.
public struct IPVSPlannedOperation: Sendable, Hashable, CustomStringConvertible {
    public var operation: IPVSOperation
    public var reason: IPVSChangeReason

    public init(_ operation: IPVSOperation, _ reason: IPVSChangeReason) {
        self.operation = operation
        self.reason = reason
    }

    /// "edit destination 10.0.0.5:8080 of TCP 192.0.2.10:80 (weight 1 → 0)"
    public var description: String { "\(operation) (\(reason))" }
}

/// A desired entry the reconciler refuses to apply.
public enum IPVSConflict: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// Desired, but outside the ownership rule: someone else's service.
    case notOwned(VirtualServiceKey)
    /// The desired table names this service more than once; the first wins.
    case duplicateService(VirtualServiceKey)
    /// The service names this destination more than once (after the
    /// route/tunnel port is normalised); the first wins.
    case duplicateDestination(IPVSDestinationID)

    public var serviceKey: VirtualServiceKey {
        switch self {
        case .notOwned(let k), .duplicateService(let k): k
        case .duplicateDestination(let id): id.service
        }
    }

    public var description: String {
        switch self {
        case .notOwned(let k): "\(k) is desired but not owned; left untouched"
        case .duplicateService(let k): "\(k) is desired more than once; the first definition is used"
        case .duplicateDestination(let id): "destination \(id) is desired more than once; the first definition is used"
        }
    }

    public static func < (a: Self, b: Self) -> Bool {
        func rank(_ c: Self) -> (VirtualServiceKey, Int, IPVSEndpoint?) {
            switch c {
            case .notOwned(let k): (k, 0, nil)
            case .duplicateService(let k): (k, 1, nil)
            case .duplicateDestination(let id): (id.service, 2, id.endpoint)
            }
        }
        let (x, y) = (rank(a), rank(b))
        if x.0 != y.0 { return x.0 < y.0 }
        if x.1 != y.1 { return x.1 < y.1 }
        switch (x.2, y.2) {
        case let (l?, r?): return l < r
        default: return false
        }
    }
}

/// The difference between a desired and an observed IPVS table: the writes
/// that turn one into the other, in the order they must be performed.
public struct IPVSDiff: Sendable, Hashable {
    public private(set) var steps: [IPVSPlannedOperation] = []
    /// Destinations kept at weight 0 until idle, sorted.
    public private(set) var draining: [IPVSDrainingDestination] = []
    /// Desired entries that are not applied, sorted.
    public private(set) var conflicts: [IPVSConflict] = []
    /// The drain book to hand to the next round: exactly the destinations in
    /// `draining`, with the time each drain started.
    public private(set) var drainBook = IPVSDrainBook()

    public var operations: [IPVSOperation] { steps.map(\.operation) }
    /// Nothing to write (draining destinations and conflicts may remain).
    public var isEmpty: Bool { steps.isEmpty }

    /// Services with a destination on its way out: deleted, set to weight 0
    /// to drain (also when the plan itself sets weight 0: a terminating
    /// endpoint), or still draining. Their connection counts decide between
    /// draining and deleting, so a diff against a remembered table
    /// (IPVSKnownTable) is redone with these services read afresh.
    public var servicesWithLeavingDestinations: Set<VirtualServiceKey> {
        var keys = Set(draining.map(\.id.service))
        for step in steps {
            switch (step.operation, step.reason) {
            case (.deleteDestination(let key, _), _), (.editDestination(let key, _), .startDrain):
                keys.insert(key)
            case (.editDestination(let key, let destination), _) where destination.weight == 0:
                // A terminating endpoint the planner keeps at weight 0 drains
                // too: what depends on its connections (the VIP of a Service
                // nobody announces any more) needs live counts.
                keys.insert(key)
            default:
                continue
            }
        }
        return keys
    }

    public init(desired: [IPVSVirtualService], observed: [ObservedVirtualService], ownership: IPVSOwnership,
                drainBook: IPVSDrainBook = IPVSDrainBook(), settings: IPVSReconcileSettings = IPVSReconcileSettings(),
                now: ContinuousClock.Instant) {
        let wanted = acceptDesired(desired, ownership: ownership)
        var current: [VirtualServiceKey: ObservedVirtualService] = [:]
        current.reserveCapacity(observed.count)
        for service in observed where ownership.owns(service.key) {
            current[service.key] = service
        }

        for key in wanted.keys.sorted() {
            let want = wanted[key]!
            if let have = current[key] {
                planUpdate(of: have, to: want, book: drainBook, settings: settings, now: now)
            } else {
                var bare = want
                bare.destinations = []
                steps.append(IPVSPlannedOperation(.addService(bare), .missing))
                for d in want.destinations {
                    steps.append(IPVSPlannedOperation(.addDestination(key, d), .missing))
                }
            }
        }
        for key in current.keys.sorted() where wanted[key] == nil {
            steps.append(IPVSPlannedOperation(.deleteService(key), .notDesired))
        }
        draining.sort()
        conflicts.sort()
    }

    /// Owned, deduplicated, normalised desired services by key; the rest
    /// becomes conflicts.
    private mutating func acceptDesired(_ desired: [IPVSVirtualService],
                                        ownership: IPVSOwnership) -> [VirtualServiceKey: IPVSVirtualService] {
        var wanted: [VirtualServiceKey: IPVSVirtualService] = [:]
        wanted.reserveCapacity(desired.count)
        for service in desired {
            guard ownership.owns(service.key) else {
                conflicts.append(.notOwned(service.key))
                continue
            }
            guard wanted[service.key] == nil else {
                conflicts.append(.duplicateService(service.key))
                continue
            }
            var normal = service.normalizedForKernel
            var seen: Set<IPVSEndpoint> = []
            seen.reserveCapacity(normal.destinations.count)
            normal.destinations = normal.destinations.filter { d in
                if seen.insert(d.endpoint).inserted { return true }
                conflicts.append(.duplicateDestination(IPVSDestinationID(service: service.key, endpoint: d.endpoint)))
                return false
            }
            normal.destinations.sort()
            wanted[service.key] = normal
        }
        return wanted
    }

    private mutating func planUpdate(of have: ObservedVirtualService, to want: IPVSVirtualService,
                                     book: IPVSDrainBook, settings: IPVSReconcileSettings,
                                     now: ContinuousClock.Instant) {
        let key = want.key
        let changes = IPVSDiff.serviceChanges(from: have.service.normalizedSettings, to: want)
        if !changes.isEmpty {
            var bare = want
            bare.destinations = []
            steps.append(IPVSPlannedOperation(.editService(bare), .changed(changes)))
        }

        var existing: [IPVSEndpoint: ObservedDestination] = [:]
        existing.reserveCapacity(have.destinations.count)
        for d in have.destinations { existing[d.destination.endpoint] = d }

        var edits: [IPVSPlannedOperation] = []
        var wantedEndpoints: Set<IPVSEndpoint> = []
        wantedEndpoints.reserveCapacity(want.destinations.count)
        for d in want.destinations {
            wantedEndpoints.insert(d.endpoint)
            if let old = existing[d.endpoint] {
                let changes = IPVSDiff.destinationChanges(from: old.destination, to: d)
                if !changes.isEmpty { edits.append(IPVSPlannedOperation(.editDestination(key, d), .changed(changes))) }
            } else {
                steps.append(IPVSPlannedOperation(.addDestination(key, d), .missing))
            }
        }
        steps += edits

        let leaving = have.destinations.filter { !wantedEndpoints.contains($0.destination.endpoint) }
        for old in leaving.sorted(by: { $0.destination.endpoint < $1.destination.endpoint }) {
            planRemoval(of: old, from: key, book: book, settings: settings, now: now)
        }
    }

    private mutating func planRemoval(of old: ObservedDestination, from key: VirtualServiceKey,
                                      book: IPVSDrainBook, settings: IPVSReconcileSettings,
                                      now: ContinuousClock.Instant) {
        let endpoint = old.destination.endpoint
        let id = IPVSDestinationID(service: key, endpoint: endpoint)
        let connections = old.connectionCount
        guard IPVSDiff.drains(key), settings.drainTimeout != .zero, connections > 0 else {
            // Idle at weight 0 is the end of a drain, also one this process
            // did not start (ballastctl keeps no book between runs).
            let drained = IPVSDiff.drains(key) && connections == 0
                && (book[id] != nil || old.destination.weight == 0)
            let reason: IPVSChangeReason = drained ? .drained : .notDesired
            steps.append(IPVSPlannedOperation(.deleteDestination(key, endpoint), reason))
            return
        }
        let since = book[id] ?? now
        let age = now - since
        if let timeout = settings.drainTimeout, age >= timeout {
            steps.append(IPVSPlannedOperation(.deleteDestination(key, endpoint),
                                              .drainTimedOut(age: age, connections: connections)))
            return
        }
        drainBook[id] = since
        draining.append(IPVSDrainingDestination(
            id: id, since: since, age: age, activeConnections: old.activeConnections,
            inactiveConnections: old.inactiveConnections, persistentConnections: old.persistentConnections))
        if old.destination.weight != 0 {
            var quiet = old.destination
            quiet.weight = 0
            steps.append(IPVSPlannedOperation(.editDestination(key, quiet), .startDrain(connections: connections)))
        }
    }

    /// UDP has no connections to protect; every other protocol, and
    /// firewall-mark services (which may carry TCP), drain.
    static func drains(_ key: VirtualServiceKey) -> Bool {
        if case .address(_, _, .udp) = key { return false }
        return true
    }

    static func serviceChanges(from old: IPVSVirtualService, to new: IPVSVirtualService) -> [IPVSFieldChange] {
        var out: [IPVSFieldChange] = []
        if old.scheduler != new.scheduler {
            out.append(IPVSFieldChange(field: "scheduler", old: old.scheduler.rawValue, new: new.scheduler.rawValue))
        }
        if old.flags != new.flags {
            func text(_ f: IPVSServiceFlags, _ s: IPVSScheduler) -> String {
                let names = f.names(scheduler: s)
                return names.isEmpty ? "none" : names.joined(separator: ",")
            }
            out.append(IPVSFieldChange(field: "flags", old: text(old.flags, old.scheduler),
                                       new: text(new.flags, new.scheduler)))
        }
        if old.persistence != new.persistence {
            func text(_ p: IPVSPersistence?) -> String { p.map { "\($0.timeout)s/\($0.netmaskPrefix)" } ?? "none" }
            out.append(IPVSFieldChange(field: "persistence", old: text(old.persistence), new: text(new.persistence)))
        }
        return out
    }

    static func destinationChanges(from old: IPVSDestination, to new: IPVSDestination) -> [IPVSFieldChange] {
        var out: [IPVSFieldChange] = []
        if old.forwarding != new.forwarding {
            out.append(IPVSFieldChange(field: "forward", old: old.forwarding.rawValue, new: new.forwarding.rawValue))
        }
        if old.weight != new.weight {
            out.append(IPVSFieldChange(field: "weight", old: "\(old.weight)", new: "\(new.weight)"))
        }
        if old.upperThreshold != new.upperThreshold {
            out.append(IPVSFieldChange(field: "upper threshold", old: "\(old.upperThreshold)",
                                       new: "\(new.upperThreshold)"))
        }
        if old.lowerThreshold != new.lowerThreshold {
            out.append(IPVSFieldChange(field: "lower threshold", old: "\(old.lowerThreshold)",
                                       new: "\(new.lowerThreshold)"))
        }
        return out
    }
}

extension IPVSVirtualService {
    /// This service as the kernel will report it back, so that comparing it
    /// with a dump converges:
    /// - Direct-routing and tunnel destinations of an address service get the
    ///   service's port: that traffic reaches the real server unchanged, so
    ///   ipvsadm and the kernel record the service port whatever was asked
    ///   for. Comparing the requested port would differ forever.
    /// - Kernel-owned flag bits (PERSISTENT, HASHED) are dropped, and a
    ///   persistence timeout of 0 means not persistent.
    public var normalizedForKernel: IPVSVirtualService {
        var s = normalizedSettings
        if case .address(_, let port, _) = key {
            s.destinations = destinations.map { d in
                guard d.forwarding != .masquerade else { return d }
                var copy = d
                copy.port = port
                return copy
            }
        }
        return s
    }

    /// Service-level fields normalised; destinations untouched.
    var normalizedSettings: IPVSVirtualService {
        var s = self
        s.flags = IPVSServiceFlags(rawValue: flags.rawValue & ~IPVSServiceFlags.kernelOwnedMask)
        if let p = persistence, p.timeout == 0 { s.persistence = nil }
        return s
    }
}
