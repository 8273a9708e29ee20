// --dry-run: read everything, change nothing. Each kernel protocol is
// wrapped so that reads pass through (the plan is diffed against the real
// kernel) and writes are logged instead of performed.
import BallastCore
import Logging

public struct DryRunIPVSControl: IPVSControl {
    let wrapped: any IPVSControl
    let logger: Logger

    public init(wrapping wrapped: any IPVSControl, logger: Logger) {
        self.wrapped = wrapped
        self.logger = logger
    }

    public func dump() throws(IPVSError) -> [ObservedVirtualService] { try wrapped.dump() }

    public func compactDump() throws(IPVSError) -> CompactIPVSDump { try wrapped.compactDump() }

    public func destinations(of service: VirtualServiceKey) throws(IPVSError) -> [ObservedDestination] {
        try wrapped.destinations(of: service)
    }

    public func perform(_ operations: [IPVSOperation]) -> [Result<Void, IPVSError>] {
        for operation in operations { logger.notice("dry run: would \(operation)") }
        return operations.map { _ in .success(()) }
    }
}

public struct DryRunVIPControl: VIPControl {
    let wrapped: any VIPControl
    let logger: Logger

    public init(wrapping wrapped: any VIPControl, logger: Logger) {
        self.wrapped = wrapped
        self.logger = logger
    }

    public func ensureLink() throws(DataPlaneError) {}
    /// A missing link reads as no addresses: that is what a first real run would find.
    public func addresses() throws(DataPlaneError) -> Set<IPAddress> { (try? wrapped.addresses()) ?? [] }
    public func add(_ address: IPAddress) throws(DataPlaneError) { logger.notice("dry run: would add VIP \(address)") }
    public func remove(_ address: IPAddress) throws(DataPlaneError) { logger.notice("dry run: would remove VIP \(address)") }
    public func removeLink() throws(DataPlaneError) { logger.notice("dry run: would delete the VIP link") }
}

public struct DryRunSNATControl: SNATControl {
    let wrapped: any SNATControl
    let logger: Logger

    public init(wrapping wrapped: any SNATControl, logger: Logger) {
        self.wrapped = wrapped
        self.logger = logger
    }

    public func current() throws(DataPlaneError) -> SNATTable? { try wrapped.current() }

    public func replace(with table: SNATTable) throws(DataPlaneError) {
        logger.notice("dry run: would replace the SNAT table", metadata: ["snat.table": "\(table)"])
    }

    public func update(_ change: SNATTableChange) throws(DataPlaneError) {
        logger.notice("dry run: would update the SNAT table", metadata: ["snat.change": "\(change)"])
    }

    public func removeTable() throws(DataPlaneError) { logger.notice("dry run: would delete the SNAT table") }
}

/// Announces nothing; logs what would be announced when the set changes.
public actor DryRunAnnouncer: Announcing {
    private let logger: Logger
    private var current: [Announcement] = []

    public init(logger: Logger) { self.logger = logger }

    /// Nothing runs; waits for cancellation like a real announcer.
    public func run() async throws {
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(3600))
        }
    }

    public func announce(_ announcements: [Announcement]) {
        guard announcements != current else { return }
        current = announcements
        logger.notice("dry run: would announce", metadata: [
            "announce.addresses": "\(announcements.map(\.description))",
        ])
    }

    public func stopAll() { current = [] }
}

/// What a dry run reads when the kernel interfaces cannot be opened (no IPVS
/// in this kernel, no CAP_NET_ADMIN): nothing at all. Only the dry-run
/// wrappers above hold it, and they never write; a write reaching it fails.
struct EmptyKernel: IPVSControl, VIPControl, SNATControl {
    static let reason = "no kernel interface is open (dry run against an empty kernel)"

    func dump() throws(IPVSError) -> [ObservedVirtualService] { [] }

    func perform(_ operations: [IPVSOperation]) -> [Result<Void, IPVSError>] {
        operations.map { .failure(IPVSError(operation: $0.description, errno: 0, reason: Self.reason)) }
    }

    func ensureLink() throws(DataPlaneError) { throw DataPlaneError(operation: "create the VIP link", reason: Self.reason) }
    func addresses() throws(DataPlaneError) -> Set<IPAddress> { [] }
    func add(_ address: IPAddress) throws(DataPlaneError) { throw DataPlaneError(operation: "add VIP \(address)", reason: Self.reason) }
    func remove(_ address: IPAddress) throws(DataPlaneError) { throw DataPlaneError(operation: "remove VIP \(address)", reason: Self.reason) }
    func removeLink() throws(DataPlaneError) { throw DataPlaneError(operation: "delete the VIP link", reason: Self.reason) }

    func current() throws(DataPlaneError) -> SNATTable? { nil }
    func replace(with table: SNATTable) throws(DataPlaneError) { throw DataPlaneError(operation: "replace the SNAT table", reason: Self.reason) }
    func update(_ change: SNATTableChange) throws(DataPlaneError) { throw DataPlaneError(operation: "update the SNAT table", reason: Self.reason) }
    func removeTable() throws(DataPlaneError) { throw DataPlaneError(operation: "delete the SNAT table", reason: Self.reason) }
}
