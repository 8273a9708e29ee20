// `ballastd cleanup`: remove everything Ballast put in the kernel, and
// nothing else. Used when uninstalling, or to start from a clean slate.
// The state file stays: addresses remain sticky if Ballast is started again.
import BallastCore
import Logging

public struct CleanupReport: Sendable, Hashable {
    public var deletedServices: [VirtualServiceKey] = []
    public var removedLink = false
    public var removedTable = false
    public var errors: [String] = []

    public init() {}
}

public enum Cleanup {
    /// Deletes Ballast's IPVS virtual services (address in a configured pool
    /// or on Ballast's link), then the link with its VIPs, then the nftables table.
    public static func run(ipvs: any IPVSControl, vips: any VIPControl, snat: any SNATControl, pools: [AddressPool],
                           logger: Logger) -> CleanupReport {
        var report = CleanupReport()
        // ENODEV: no such link, i.e. nothing of ours to find there.
        let onLink: Set<IPAddress>
        do {
            onLink = try vips.addresses()
        } catch {
            onLink = []
            if !isAbsent(error) { report.errors.append(error.description) }
        }
        do {
            let keys = try ipvs.dump().map(\.key).filter { key in
                guard case .address(let address, _, _) = key else { return false }
                return onLink.contains(address) || pools.contains { $0.contains(address) }
            }.sorted()
            for (key, result) in zip(keys, ipvs.perform(keys.map { .deleteService($0) })) {
                switch result {
                case .success:
                    report.deletedServices.append(key)
                    logger.info("deleted IPVS virtual service", metadata: ["ipvs.service": "\(key)"])
                case .failure(let error):
                    report.errors.append(error.description)
                }
            }
        } catch {
            report.errors.append(error.description)
        }
        do {
            try vips.removeLink()
            report.removedLink = true
        } catch {
            if !isAbsent(error) { report.errors.append(error.description) }
        }
        do {
            try snat.removeTable()
            report.removedTable = true
        } catch {
            if !isAbsent(error) { report.errors.append(error.description) }
        }
        return report
    }

    /// ENOENT / ENODEV: the object was not there, which is what cleanup wants.
    static func isAbsent(_ error: DataPlaneError) -> Bool { error.errno == 2 || error.errno == 19 }
}
