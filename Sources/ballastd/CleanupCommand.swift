import ArgumentParser
import BallastConfig
import BallastCore
import Daemon
import FoundationEssentials
import Logging

struct CleanupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cleanup",
        abstract: "Remove everything Ballast put in the kernel: its IPVS virtual services, its VIP link, its nftables table.",
        discussion: """
            Stop ballastd first. IPVS virtual services are Ballast's when their address is in a configured pool \
            or on Ballast's link; nothing else in the table is touched. The state file stays, so Services get \
            their addresses back if Ballast starts again.
            """)

    @OptionGroup var options: CommonOptions

    func run() async throws {
        LoggingBootstrap.bootstrap(level: options.logLevel, environment: ProcessInfo.processInfo.environment)
        let logger = Logger(label: "ballastd.cleanup")
        let configuration: Configuration
        do {
            configuration = try ConfigurationFile.load(path: options.config).configuration
        } catch {
            // Without the pools, only services whose address is on the link are known to be ours.
            logger.warning("configuration unreadable; cleaning up with default settings (link ballast0, no pools)",
                           metadata: ["config.path": "\(options.config)", "error": "\(error)"])
            configuration = Configuration()
        }
        let kernel: KernelControls
        do {
            kernel = try Wiring.daemon().makeKernel(configuration, logger)
        } catch {
            throw StartupFailure(description: "open the kernel interfaces: \(error)")
        }
        let report = Cleanup.run(ipvs: kernel.ipvs, vips: kernel.vips, snat: kernel.snat, pools: configuration.pools,
                                 logger: logger)
        print("deleted \(report.deletedServices.count) IPVS virtual service\(report.deletedServices.count == 1 ? "" : "s")")
        for key in report.deletedServices { print("  \(key)") }
        print(report.removedLink ? "deleted link \(configuration.vipInterface) and its addresses" : "no link \(configuration.vipInterface)")
        print(report.removedTable ? "deleted the SNAT table" : "no SNAT table")
        for error in report.errors { print("error: \(error)") }
        if !report.errors.isEmpty { throw ExitCode(1) }
    }
}
