// The one door to the kernel's IPVS table. NetlinkIPVS implements it over
// generic netlink; BallastFakes.FakeIPVS implements it as a map so the whole
// reconcile runs in unit tests (the idea of kube-proxy's FakeIPVS).

/// One write to the IPVS table. Services are written without destinations;
/// destinations are separate operations, as in the kernel's API.
public enum IPVSOperation: Sendable, Hashable, CustomStringConvertible {
    case addService(IPVSVirtualService)
    case editService(IPVSVirtualService)
    case deleteService(VirtualServiceKey)
    case addDestination(VirtualServiceKey, IPVSDestination)
    case editDestination(VirtualServiceKey, IPVSDestination)
    case deleteDestination(VirtualServiceKey, IPVSEndpoint)

    /// The service this operation touches.
    public var serviceKey: VirtualServiceKey {
        switch self {
        case .addService(let s), .editService(let s): s.key
        case .deleteService(let k): k
        case .addDestination(let k, _), .editDestination(let k, _), .deleteDestination(let k, _): k
        }
    }

    /// "add destination 10.0.0.5:8080 to TCP 192.0.2.10:80" — the prefix of every
    /// error about this operation, and the line `ballastctl ipvs apply` prints.
    public var description: String {
        switch self {
        case .addService(let s): "add service \(s.key)"
        case .editService(let s): "edit service \(s.key)"
        case .deleteService(let k): "delete service \(k)"
        case .addDestination(let k, let d): "add destination \(d.endpoint) to \(k)"
        case .editDestination(let k, let d): "edit destination \(d.endpoint) of \(k)"
        case .deleteDestination(let k, let e): "delete destination \(e) from \(k)"
        }
    }
}

/// A failed IPVS operation: what was attempted and the kernel's errno.
/// Prints as "add destination 10.0.0.5:8080 to TCP 192.0.2.10:80: No such process (ESRCH)".
public struct IPVSError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What was being done, e.g. "add destination 10.0.0.5:8080 to TCP 192.0.2.10:80" or "dump services".
    public var operation: String
    /// Positive errno value (ESRCH = 3), or 0 when the failure is not an errno.
    public var errno: Int32
    /// Human text of the cause: strerror plus the errno name, or a sentence.
    public var reason: String

    public init(operation: String, errno: Int32, reason: String) {
        self.operation = operation
        self.errno = errno
        self.reason = reason
    }

    public var description: String { "\(operation): \(reason)" }
}

/// Reads and writes the IPVS table of one network namespace.
public protocol IPVSControl: Sendable {
    /// Every virtual service with its destinations and counters, in as few
    /// round trips as the kernel allows.
    func dump() throws(IPVSError) -> [ObservedVirtualService]

    /// The same table held compactly, without traffic counters: what the
    /// reconciler keeps from a full dump. Implementations that read the
    /// table in parts should build it as they read (see CompactIPVSDump).
    func compactDump() throws(IPVSError) -> CompactIPVSDump

    /// Performs `operations` in order. Implementations may batch them into few
    /// system calls. One failure does not stop the rest; the result has one
    /// entry per operation, in order.
    func perform(_ operations: [IPVSOperation]) -> [Result<Void, IPVSError>]

    /// The destinations of one virtual service with their live counts: one
    /// destination dump instead of the whole table. A service the kernel does
    /// not have reads as no destinations (the kernel answers its dump empty).
    func destinations(of service: VirtualServiceKey) throws(IPVSError) -> [ObservedDestination]
}

extension IPVSControl {
    /// Through a full dump, for implementations that hold the table whole anyway.
    public func compactDump() throws(IPVSError) -> CompactIPVSDump {
        CompactIPVSDump(try dump())
    }

    /// Through a full dump, for implementations that cannot ask about one service.
    public func destinations(of service: VirtualServiceKey) throws(IPVSError) -> [ObservedDestination] {
        try dump().first { $0.key == service }?.destinations ?? []
    }
}
