// The production implementations behind the daemon's seams, built from the
// configuration: the Linux kernel objects and the manifest-directory source.
import BallastConfig
import BallastCore
import L2Announce
import LinkAddress
import Logging
import NFTables
import NetlinkIPVS
import SourceFiles

public enum LinuxKernel {
    /// IPVS over generic netlink, VIPs on a dummy link, SNAT in an nftables
    /// table, ARP/NDP on packet sockets. Throws when a kernel interface is
    /// missing (no IPVS, an invalid link name).
    public static func controls(for configuration: Configuration, logger: Logger) throws -> KernelControls {
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
                // Forwarding only for the families Ballast serves: with IPv6
                // forwarding on, the kernel ignores router advertisements.
                for family in families.sorted() {
                    do { try DataPlaneSysctl.enableForwarding(family) } catch { failures.append("\(error)") }
                }
                return failures
            })
    }

    /// Where Services come from. Only the manifest directory is built in.
    public static func source(_ source: ServiceSource, logger: Logger) throws -> any ServiceSourcing {
        switch source {
        case .files(let directory):
            return ManifestFilesSource(directory: directory, decoder: kubernetesManifestDecoder, logger: logger)
        case .kubernetes:
            throw DaemonStartupError(
                what: "read Services from the Kubernetes API",
                cause: "this ballastd reads them from a manifest directory only (source: files)")
        }
    }
}
