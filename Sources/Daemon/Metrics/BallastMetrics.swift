// The daemon's metrics, through swift-metrics so that whatever backend main
// bootstraps (Prometheus, below) receives them. Labels are bounded: pool
// names and address families come from the configuration, operation kinds
// are a fixed list; nothing is labelled per Service or per address.
import BallastCore
import CoreMetrics
import FoundationEssentials
import Metrics
import Synchronization

/// The kind of an IPVS write, as the `op` label of ballast_ipvs_operations_total.
public enum IPVSOperationKind: String, Sendable, Hashable, CaseIterable {
    case addService = "add_service"
    case editService = "edit_service"
    case deleteService = "delete_service"
    case addDestination = "add_destination"
    case editDestination = "edit_destination"
    case deleteDestination = "delete_destination"

    public init(_ operation: IPVSOperation) {
        switch operation {
        case .addService: self = .addService
        case .editService: self = .editService
        case .deleteService: self = .deleteService
        case .addDestination: self = .addDestination
        case .editDestination: self = .editDestination
        case .deleteDestination: self = .deleteDestination
        }
    }
}

public final class BallastMetrics: Sendable {
    private struct PoolKey: Hashable { var pool: String; var family: AddressFamily }
    private struct PoolGauges { var size: Gauge; var inUse: Gauge }

    private let factory: any MetricsFactory
    private let servicesAllocated: Gauge
    private let announcedAddresses: Gauge
    private let syncDuration: CoreMetrics.Timer
    private let operations: [IPVSOperationKind: Counter]
    private let ipvsErrors: Counter
    private let lastSuccessfulSync: Gauge
    private let configStale: Gauge
    private let pools = Mutex<[PoolKey: PoolGauges]>([:])

    public init(factory: any MetricsFactory = MetricsSystem.factory) {
        self.factory = factory
        servicesAllocated = Gauge(label: "ballast_services_allocated", factory: factory)
        announcedAddresses = Gauge(label: "ballast_announced_addresses", factory: factory)
        syncDuration = CoreMetrics.Timer(label: "ballast_ipvs_sync_duration_seconds", factory: factory)
        operations = Dictionary(uniqueKeysWithValues: IPVSOperationKind.allCases.map {
            ($0, Counter(label: "ballast_ipvs_operations_total", dimensions: [("op", $0.rawValue)], factory: factory))
        })
        ipvsErrors = Counter(label: "ballast_ipvs_errors_total", factory: factory)
        lastSuccessfulSync = Gauge(label: "ballast_last_successful_sync_timestamp_seconds", factory: factory)
        configStale = Gauge(label: "ballast_config_stale", factory: factory)
        configStale.record(0)
    }

    /// Sets ballast_pool_addresses and ballast_pool_addresses_in_use; series
    /// of pools that are no longer configured are removed, not left frozen.
    public func update(pools rows: [PoolRow]) {
        pools.withLock { gauges in
            let wanted = Set(rows.map { PoolKey(pool: $0.name, family: $0.family) })
            for (key, old) in gauges where !wanted.contains(key) {
                old.size.destroy()
                old.inUse.destroy()
                gauges[key] = nil
            }
            for row in rows {
                let key = PoolKey(pool: row.name, family: row.family)
                let g = gauges[key] ?? {
                    let dims = [("pool", row.name), ("family", row.family.rawValue)]
                    return PoolGauges(size: Gauge(label: "ballast_pool_addresses", dimensions: dims, factory: factory),
                                      inUse: Gauge(label: "ballast_pool_addresses_in_use", dimensions: dims, factory: factory))
                }()
                gauges[key] = g
                g.size.record(Double(row.size))
                g.inUse.record(Double(row.inUse))
            }
        }
    }

    public func record(servicesAllocated count: Int) { servicesAllocated.record(count) }
    public func record(announcedAddresses count: Int) { announcedAddresses.record(count) }
    public func record(configStale stale: Bool) { configStale.record(stale ? 1 : 0) }

    /// One reconcile pass of the IPVS table: its duration, the writes it made, the ones that failed.
    public func recordIPVSSync(duration: Duration, operations performed: [IPVSOperationKind: Int], errors: Int) {
        syncDuration.record(duration: duration)
        for (kind, count) in performed where count > 0 { operations[kind]?.increment(by: count) }
        if errors > 0 { ipvsErrors.increment(by: errors) }
    }

    public func record(successfulSyncAt date: Date) {
        lastSuccessfulSync.record(date.timeIntervalSince1970)
    }
}
