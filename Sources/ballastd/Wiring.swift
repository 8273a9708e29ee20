// The real implementations behind the Daemon's seams. Everything here is
// construction; behaviour lives in the targets named.
import BallastConfig
import BallastCore
import Daemon
import L2Announce
import LinkAddress
import Logging
import NFTables
import NetlinkIPVS
import SourceFiles

enum Wiring {
    static func daemon() -> DaemonWiring {
        DaemonWiring(
            loadConfiguration: { path in try ConfigurationFile.load(path: path) },
            allocate: DefaultStages.allocate,
            plan: DefaultStages.plan,
            makeSource: source,
            makeKernel: kernel)
    }

    @Sendable static func source(_ source: ServiceSource, logger: Logger) throws -> any ServiceSourcing {
        switch source {
        case .files(let directory):
            return ManifestFilesSource(directory: directory, decoder: kubernetesManifestDecoder, logger: logger)
        case .kubernetes:
            throw StartupFailure(description: "this ballastd reads Services from a manifest directory only "
                                 + "(source: files); the Kubernetes API source is not built in")
        }
    }

    @Sendable static func kernel(_ configuration: Configuration, logger: Logger) throws -> KernelControls {
        let announce = configuration.announce
        let announcer = L2Announcer(
            settings: L2AnnounceSettings(garpCount: announce.burstCount, garpInterval: announce.burstInterval,
                                         refreshInterval: announce.refreshInterval),
            logger: logger)
        let families = Set(configuration.pools.flatMap { $0.ranges.map(\.family) })
        return KernelControls(
            ipvs: try IPVSNetlinkClient(),
            vips: try DummyLinkVIPs(linkName: configuration.vipInterface, logger: logger),
            snat: try NFTablesSNAT(logger: logger),
            announcer: L2AnnouncerAdapter(announcer),
            ensureSysctls: {
                var failures: [String] = []
                do { try DataPlaneSysctl.enableIPVSConntrack() } catch { failures.append("\(error)") }
                // Forwarding only for families Ballast serves: turning on IPv6
                // forwarding makes the kernel ignore router advertisements.
                for family in families.sorted() {
                    do { try DataPlaneSysctl.enableForwarding(family) } catch { failures.append("\(error)") }
                }
                return failures
            })
    }
}
