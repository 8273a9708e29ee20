import BallastConfig
import BallastCore
import BallastFakes
@testable import Daemon
import Foundation
import Logging
import SourceFiles
import Synchronization
import Testing

@Suite struct CleanupTests {
    @Test func removesOnlyWhatIsBallasts() throws {
        let ours = VirtualServiceKey.address(IPAddress("192.0.2.10")!, port: 80, protocol: .tcp)
        let onLinkOnly = VirtualServiceKey.address(IPAddress("203.0.113.7")!, port: 80, protocol: .tcp)
        let kubeProxy = VirtualServiceKey.address(IPAddress("10.96.0.1")!, port: 443, protocol: .tcp)
        let mark = VirtualServiceKey.firewallMark(1, family: .ipv4)
        let ipvs = FakeIPVS([ours, onLinkOnly, kubeProxy, mark].map { ObservedVirtualService(key: $0, scheduler: .rr) })
        let vips = FakeVIPControl(linkExists: true, addresses: [IPAddress("203.0.113.7")!])
        let snat = FakeSNATControl(table: SNATTable())

        let report = Cleanup.run(ipvs: ipvs, vips: vips, snat: snat, pools: testConfiguration().pools, logger: quietLogger)
        #expect(report.deletedServices == [ours, onLinkOnly])
        #expect(report.removedLink && report.removedTable && report.errors.isEmpty)
        #expect(ipvs.table.map(\.key) == [kubeProxy, mark])
        #expect(!vips.linkExists)
        #expect(snat.table == nil)
    }
}

@Suite struct ReloadTests {
    @Test func restartOnlyFieldsKeepTheirRunningValues() {
        let running = testConfiguration()
        var loaded = running
        loaded.ipvs.scheduler = .wlc
        loaded.statusSocket = "/tmp/elsewhere.sock"
        loaded.vipInterface = "lb0"
        loaded.announce.burstCount = 3
        let (applied, ignored) = ReloadService.merge(loaded, into: running)
        #expect(applied.ipvs.scheduler == .wlc)
        #expect(applied.statusSocket == running.statusSocket)
        #expect(applied.vipInterface == running.vipInterface)
        #expect(applied.announce == running.announce)
        #expect(ignored == ["statusSocket", "vipInterface", "announce"])
    }

    @Test func invalidConfigurationIsRejectedAndMarkedStale() async {
        let h = LoopHarness()
        let loop = h.loop()
        let reload = ReloadService(
            path: "/etc/ballast/ballast.yaml", running: testConfiguration(),
            load: { path in throw TestDecodeError(path: path, line: 7, message: "unknown field \"pool\"") },
            loop: loop, reconciler: nil, board: h.board, metrics: nil, notifier: SystemdNotifier(environment: [:]), logger: quietLogger)
        await reload.reload()
        let config = h.board.answer(.status).status?.config
        #expect(config?.state == .stale)
        #expect(config?.error == "/etc/ballast/ballast.yaml:7: unknown field \"pool\"")
        #expect(await loop.currentConfiguration == testConfiguration())
    }

    @Test func validConfigurationApplies() async {
        let h = LoopHarness()
        let loop = h.loop()
        h.board.configRejected("earlier failure")
        var next = testConfiguration()
        next.ipvs.scheduler = .lc
        let reload = ReloadService(path: "c.yaml", running: testConfiguration(), load: { [next] _ in LoadedConfiguration(configuration: next) },
                                   loop: loop, reconciler: nil, board: h.board, metrics: nil, notifier: SystemdNotifier(environment: [:]),
                                   logger: quietLogger)
        await reload.reload()
        #expect(await loop.currentConfiguration.ipvs.scheduler == .lc)
        #expect(h.board.answer(.status).status?.config.state == .current)
        #expect(h.board.answer(.status).status?.config.error == nil)
    }
}

@Suite(.serialized, .timeLimit(.minutes(1))) struct DaemonRunTests {
    /// The whole daemon with fake kernel objects: manifests in a temp directory,
    /// status socket, state file and notify socket in another.
    func wiring(ipvs: FakeIPVS, vips: FakeVIPControl, snat: FakeSNATControl, announcer: TestAnnouncer,
                config: Configuration) -> DaemonWiring {
        DaemonWiring(
            loadConfiguration: { _ in LoadedConfiguration(configuration: config) },
            allocate: DefaultStages.allocate, plan: DefaultStages.plan,
            makeSource: { source, logger in
                guard case .files(let directory) = source else { throw TestDecodeError(path: "", line: 0, message: "files only") }
                return ManifestFilesSource(directory: directory, decoder: testDecoder, logger: logger)
            },
            makeKernel: { _, _ in
                KernelControls(ipvs: ipvs, vips: vips, snat: snat, announcer: announcer, ensureSysctls: { [] })
            })
    }

    @Test(arguments: [false, true])
    func runsServesStatusNotifiesAndPersists(dryRun: Bool) async throws {
        let run = try TemporaryDirectory("ballast-run")
        let manifests = try TemporaryDirectory("ballast-manifests")
        try manifests.write("web.yaml", "service default/web")
        var configuration = testConfiguration()
        configuration.source = .files(directory: manifests.path)
        configuration.stateDirectory = run.path
        configuration.statusSocket = run.file("ballastd.sock")
        configuration.metricsAddress = nil
        configuration.nodeName = "n1"
        let config = configuration
        let notify = try DatagramReceiver(name: run.file("notify"))
        let (ipvs, vips, snat, announcer) = (FakeIPVS(), FakeVIPControl(), FakeSNATControl(), TestAnnouncer())

        let wiring = self.wiring(ipvs: ipvs, vips: vips, snat: snat, announcer: announcer, config: config)
        let options = DaemonOptions(configPath: run.file("ballast.yaml"), dryRun: dryRun,
                                    environment: ["NOTIFY_SOCKET": run.file("notify")], metricsRegistry: nil)
        let daemon = Task {
            try await BallastDaemon.run(configuration: config, options: options, wiring: wiring, logger: quietLogger)
        }
        let ready = notify.receive()
        #expect(ready?.hasPrefix("READY=1\nSTATUS=1 Services (1 with an address), 1 announced here") == true)

        let status = try StatusClient(path: config.statusSocket).send(.status).status
        #expect(status?.node == "n1")
        #expect(status?.dryRun == dryRun)
        #expect(status?.source == "files \(manifests.path)")
        #expect(status?.counts.services == 1)

        let web = IPAddress("192.0.2.10")!
        if dryRun {
            #expect(vips.writes.isEmpty && ipvs.writes.isEmpty && snat.writeCount == 0)
            #expect(await announcer.current.isEmpty)
            #expect(access(run.file(AssignmentStore.fileName), F_OK) != 0)
        } else {
            #expect(vips.currentAddresses == [web])
            #expect(ipvs.table.map(\.key) == [.address(web, port: 80, protocol: .tcp)])
            #expect(await announcer.addresses == [web])
            #expect(try AssignmentStore(directory: run.path).load()
                        == .loaded([ref("default/web"): Assignment(pool: "public", addresses: [web])]))
        }

        daemon.cancel()
        _ = try? await daemon.value
        #expect(access(config.statusSocket, F_OK) != 0, "the status socket is removed on exit")
    }

    /// `ballastd --dry-run` where the kernel cannot be opened (a machine
    /// without IPVS) still plans, against an empty kernel, and says so.
    @Test func dryRunWithoutKernelPlansAgainstAnEmptyKernel() async throws {
        let run = try TemporaryDirectory("ballast-run")
        let manifests = try TemporaryDirectory("ballast-manifests")
        try manifests.write("web.yaml", "service default/web")
        var configuration = testConfiguration()
        configuration.source = .files(directory: manifests.path)
        configuration.stateDirectory = run.path
        configuration.statusSocket = run.file("ballastd.sock")
        configuration.metricsAddress = nil
        configuration.nodeName = "n1"
        let config = configuration
        let notify = try DatagramReceiver(name: run.file("notify"))
        var wiring = self.wiring(ipvs: FakeIPVS(), vips: FakeVIPControl(), snat: FakeSNATControl(), announcer: TestAnnouncer(),
                                 config: config)
        struct NoIPVS: Error {}
        wiring.makeKernel = { _, _ in throw NoIPVS() }
        let options = DaemonOptions(configPath: run.file("ballast.yaml"), dryRun: true,
                                    environment: ["NOTIFY_SOCKET": run.file("notify")], metricsRegistry: nil)
        let daemon = Task {
            try await BallastDaemon.run(configuration: config, options: options, wiring: wiring, logger: quietLogger)
        }
        #expect(notify.receive()?.hasPrefix("READY=1\nSTATUS=1 Services (1 with an address)") == true)

        let status = try StatusClient(path: config.statusSocket).send(.status).status
        #expect(status?.dryRun == true)
        #expect(status?.lastSync?.errors == [])
        #expect(status?.problems.contains { $0.hasPrefix("dry run against an empty kernel") } == true)

        daemon.cancel()
        _ = try? await daemon.value
    }
}
