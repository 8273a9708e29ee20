// An IPVS table in memory that behaves like the kernel's where the reconciler
// can tell: the same errnos for the same mistakes, the route/tunnel port
// rewrite, counters that survive edits and reset on delete. Tests inject
// failures and live connection counts, and read back every call made.

import BallastCore
import Synchronization

public final class FakeIPVS: IPVSControl {
    /// Kernel errnos the fake returns, as the kernel returns them.
    public enum Errno {
        public static let ENOENT: Int32 = 2
        public static let ESRCH: Int32 = 3
        public static let EEXIST: Int32 = 17
        public static let EINVAL: Int32 = 22
        public static let ERANGE: Int32 = 34

        static func reason(_ errno: Int32) -> String {
            switch errno {
            case ENOENT: "No such file or directory (ENOENT)"
            case ESRCH: "No such process (ESRCH)"
            case EEXIST: "File exists (EEXIST)"
            case EINVAL: "Invalid argument (EINVAL)"
            case ERANGE: "Numerical result out of range (ERANGE)"
            default: "errno \(errno)"
            }
        }
    }

    fileprivate struct Injected {
        var errno: Int32
        var remaining: Int?
        var matches: @Sendable (IPVSOperation) -> Bool
    }

    fileprivate struct State {
        /// Services in the order they were added, like the kernel's lists.
        var order: [VirtualServiceKey] = []
        var services: [VirtualServiceKey: ObservedVirtualService] = [:]
        var injected: [Injected] = []
        var dumpFailure: Int32?
        var dumps = 0
        var destinationDumps: [VirtualServiceKey] = []
        var performCalls: [[IPVSOperation]] = []
    }

    private let state = Mutex(State())

    public init(_ services: [ObservedVirtualService] = []) {
        state.withLock { s in
            for service in services {
                s.order.append(service.key)
                s.services[service.key] = service
            }
        }
    }

    // MARK: IPVSControl

    public func dump() throws(IPVSError) -> [ObservedVirtualService] {
        let outcome: Result<[ObservedVirtualService], IPVSError> = state.withLock { s in
            s.dumps += 1
            if let errno = s.dumpFailure {
                return .failure(IPVSError(operation: "dump services", errno: errno, reason: Errno.reason(errno)))
            }
            return .success(s.order.compactMap { s.services[$0] })
        }
        return try outcome.get()
    }

    public func destinations(of service: VirtualServiceKey) throws(IPVSError) -> [ObservedDestination] {
        let outcome: Result<[ObservedDestination], IPVSError> = state.withLock { s in
            s.destinationDumps.append(service)
            if let errno = s.dumpFailure {
                return .failure(IPVSError(operation: "dump destinations of \(service)", errno: errno,
                                          reason: Errno.reason(errno)))
            }
            // Like the kernel: an unknown service has no destinations, not an error.
            return .success(s.services[service]?.destinations ?? [])
        }
        return try outcome.get()
    }

    public func perform(_ operations: [IPVSOperation]) -> [Result<Void, IPVSError>] {
        state.withLock { s in
            s.performCalls.append(operations)
            return operations.map { op in
                if let errno = s.takeInjected(for: op) ?? s.apply(op) {
                    return .failure(IPVSError(operation: op.description, errno: errno, reason: Errno.reason(errno)))
                }
                return .success(())
            }
        }
    }

    // MARK: Test controls

    /// The table as a dump would return it.
    public var table: [ObservedVirtualService] { state.withLock { s in s.order.compactMap { s.services[$0] } } }

    public subscript(key: VirtualServiceKey) -> ObservedVirtualService? { state.withLock { $0.services[key] } }

    /// Number of dumps of the whole table so far.
    public var dumpCount: Int { state.withLock { $0.dumps } }
    /// The service of every one-service destination dump so far, in order.
    public var destinationDumps: [VirtualServiceKey] { state.withLock { $0.destinationDumps } }
    /// Every `perform` call so far with its operations.
    public var performCalls: [[IPVSOperation]] { state.withLock { $0.performCalls } }
    /// Every write so far, in order.
    public var writes: [IPVSOperation] { performCalls.flatMap { $0 } }

    /// Fails the next `times` operations (every one when nil) that match with `errno`.
    public func fail(_ errno: Int32, times: Int? = nil, when matches: @escaping @Sendable (IPVSOperation) -> Bool) {
        state.withLock { $0.injected.append(Injected(errno: errno, remaining: times, matches: matches)) }
    }

    /// Makes every dump, of the table or of one service, fail with `errno` (nil: dumps work again).
    public func failDumps(_ errno: Int32?) {
        state.withLock { $0.dumpFailure = errno }
    }

    /// Sets the live connection counts of a destination, as traffic would.
    public func setConnections(_ service: VirtualServiceKey, _ endpoint: IPVSEndpoint,
                               active: UInt32, inactive: UInt32 = 0, persistent: UInt32 = 0) {
        updateDestination(service, endpoint) { d in
            d.activeConnections = active
            d.inactiveConnections = inactive
            d.persistentConnections = persistent
        }
    }

    /// Sets the counters of a destination, as traffic would.
    public func setStats(_ service: VirtualServiceKey, _ endpoint: IPVSEndpoint, _ stats: IPVSStats) {
        updateDestination(service, endpoint) { $0.stats = stats }
    }

    /// Sets the counters of a service, as traffic would.
    public func setStats(_ service: VirtualServiceKey, _ stats: IPVSStats) {
        state.withLock { s in s.services[service]?.stats = stats }
    }

    private func updateDestination(_ service: VirtualServiceKey, _ endpoint: IPVSEndpoint,
                                   _ change: (inout ObservedDestination) -> Void) {
        state.withLock { s in
            guard var svc = s.services[service],
                  let i = svc.destinations.firstIndex(where: { $0.destination.endpoint == endpoint }) else { return }
            change(&svc.destinations[i])
            s.services[service] = svc
        }
    }
}

extension FakeIPVS.State {
    mutating func takeInjected(for op: IPVSOperation) -> Int32? {
        guard let i = injected.firstIndex(where: { $0.matches(op) }) else { return nil }
        let errno = injected[i].errno
        if let n = injected[i].remaining {
            if n <= 1 { injected.remove(at: i) } else { injected[i].remaining = n - 1 }
        }
        return errno
    }

    /// Applies one write as the kernel would; returns its errno on failure.
    mutating func apply(_ op: IPVSOperation) -> Int32? {
        typealias E = FakeIPVS.Errno
        switch op {
        case .addService(let svc):
            guard services[svc.key] == nil else { return E.EEXIST }
            if let p = svc.persistence, !validNetmask(p.netmaskPrefix, svc.key.family) { return E.EINVAL }
            order.append(svc.key)
            // The kernel adds a service without destinations; they are separate commands.
            services[svc.key] = ObservedVirtualService(key: svc.key, scheduler: svc.scheduler, flags: svc.flags,
                                                       persistence: persistence(svc.persistence))
        case .editService(let svc):
            guard var old = services[svc.key] else { return E.ESRCH }
            if let p = svc.persistence, !validNetmask(p.netmaskPrefix, svc.key.family) { return E.EINVAL }
            old.scheduler = svc.scheduler
            old.flags = svc.flags
            old.persistence = persistence(svc.persistence)
            services[svc.key] = old
        case .deleteService(let key):
            guard services.removeValue(forKey: key) != nil else { return E.ESRCH }
            order.removeAll { $0 == key }
        case .addDestination(let key, let dest):
            guard var svc = services[key] else { return E.ESRCH }
            if let errno = invalid(dest) { return errno }
            let stored = kernelForm(dest, of: key)
            guard !svc.destinations.contains(where: { $0.destination.endpoint == stored.endpoint }) else {
                return E.EEXIST
            }
            svc.destinations.append(ObservedDestination(destination: stored))
            services[key] = svc
        case .editDestination(let key, let dest):
            guard var svc = services[key] else { return E.ESRCH }
            if let errno = invalid(dest) { return errno }
            let stored = kernelForm(dest, of: key)
            guard let i = svc.destinations.firstIndex(where: { $0.destination.endpoint == stored.endpoint }) else {
                return E.ENOENT
            }
            svc.destinations[i].destination = stored
            services[key] = svc
        case .deleteDestination(let key, let endpoint):
            guard var svc = services[key] else { return E.ESRCH }
            guard let i = svc.destinations.firstIndex(where: { $0.destination.endpoint == endpoint }) else {
                return E.ENOENT
            }
            svc.destinations.remove(at: i)
            services[key] = svc
        }
        return nil
    }

    /// The project's VM notes: for direct-routing and tunnel destinations of
    /// an address service the kernel reports the service port, whatever port
    /// was asked for.
    private func kernelForm(_ dest: IPVSDestination, of key: VirtualServiceKey) -> IPVSDestination {
        guard dest.forwarding != .masquerade, case .address(_, let port, _) = key else { return dest }
        var d = dest
        d.port = port
        return d
    }

    private func invalid(_ dest: IPVSDestination) -> Int32? {
        if dest.weight < 0 { return FakeIPVS.Errno.EINVAL }
        // ip_vs_ctl.c: "lower threshold is higher than upper threshold".
        if dest.lowerThreshold > dest.upperThreshold { return FakeIPVS.Errno.ERANGE }
        return nil
    }

    private func validNetmask(_ prefix: Int, _ family: AddressFamily) -> Bool {
        family == .ipv4 ? (0...32).contains(prefix) : (1...128).contains(prefix)
    }

    /// A timeout of 0 is how the kernel says "not persistent".
    private func persistence(_ p: IPVSPersistence?) -> IPVSPersistence? {
        guard let p, p.timeout > 0 else { return nil }
        return p
    }
}
