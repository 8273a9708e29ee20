import BallastCore
import BallastFakes
import Testing

/// The whole round (dump → diff → one batched perform) against FakeIPVS.
@Suite struct IPVSReconcilerTests {
    let own = owning("192.0.2.0/24")
    let web = service(tcp("192.0.2.10", 80), [dest("10.0.0.5:8080"), dest("10.0.0.6:8080")])
    let dns = service(udp("192.0.2.10", 53), .wlc, [dest("10.0.0.5:53", weight: 2)])

    func reconciler(_ fake: FakeIPVS, drainTimeout: Duration = .seconds(60)) -> IPVSReconciler {
        IPVSReconciler(control: fake, ownership: own, settings: IPVSReconcileSettings(drainTimeout: drainTimeout))
    }

    @Test func coldApplyThenNoOpWritesNothing() throws {
        let fake = FakeIPVS()
        let r = reconciler(fake)
        var book = IPVSDrainBook()
        let first = try r.reconcile(desired: [web, dns], drainBook: &book, now: t0)
        #expect(first.writes == 5 && first.isClean && first.dumps == 1)
        #expect(fake.performCalls.count == 1, "all writes go in one batch")

        let second = try r.reconcile(desired: [web, dns], drainBook: &book, now: t0)
        #expect(second.writes == 0 && second.outcomes.isEmpty)
        #expect(fake.performCalls.count == 1, "a no-op round must not call perform")
        #expect(fake.dumpCount == 2, "one dump per round")
    }

    @Test func dryRunPlansWithoutWriting() throws {
        let fake = FakeIPVS()
        let plan = try reconciler(fake).plan(desired: [web], now: t0)
        #expect(plan.operations.count == 3)
        #expect(fake.performCalls.isEmpty && fake.table.isEmpty)
    }

    @Test func editsInPlaceKeepCounters() throws {
        let fake = FakeIPVS([observed(web)])
        var stats = IPVSStats()
        stats.connections = 42
        fake.setStats(web.key, stats)
        fake.setStats(web.key, ep("10.0.0.5:8080"), stats)
        var book = IPVSDrainBook()
        let changed = service(web.key, .wlc, flags: [], persistence: IPVSPersistence(timeout: 60, netmaskPrefix: 24),
                              [dest("10.0.0.5:8080", weight: 7, upper: 10, lower: 5), dest("10.0.0.6:8080")])
        let result = try reconciler(fake).reconcile(desired: [changed], drainBook: &book, now: t0)
        #expect(result.outcomes.map(\.step.operation.description) == [
            "edit service TCP 192.0.2.10:80",
            "edit destination 10.0.0.5:8080 of TCP 192.0.2.10:80",
        ])
        let after = try #require(fake[web.key])
        #expect(after.stats.connections == 42)
        #expect(after.destinations.first { $0.destination.endpoint == ep("10.0.0.5:8080") }?.stats.connections == 42)
        #expect(after.service.scheduler == .wlc && after.persistence?.netmaskPrefix == 24)
        #expect(!fake.writes.contains { if case .deleteService = $0 { true } else { false } })
    }

    @Test func foreignServicesAreUntouched() throws {
        let foreign = observed(service(tcp("198.51.100.7", 443), .sh, [dest("10.9.9.9:443")]))
        let fake = FakeIPVS([foreign])
        var book = IPVSDrainBook()
        let result = try reconciler(fake).reconcile(desired: [], drainBook: &book, now: t0)
        #expect(result.writes == 0)
        #expect(fake.table == [foreign])

        let claim = try reconciler(fake).reconcile(desired: [service(foreign.key, .rr)], drainBook: &book, now: t0)
        #expect(claim.writes == 0)
        #expect(claim.conflicts == [.notOwned(foreign.key)])
        #expect(!claim.isClean)
        #expect(fake.table == [foreign])
    }

    /// One failing write does not stop the others; the next round retries it.
    @Test func failuresAreReportedAndRetried() throws {
        let fake = FakeIPVS()
        fake.fail(FakeIPVS.Errno.EEXIST, times: 1) { op in
            if case .addDestination(_, let d) = op { return d.endpoint == ep("10.0.0.5:8080") }
            return false
        }
        var book = IPVSDrainBook()
        let r = reconciler(fake)
        let first = try r.reconcile(desired: [web], drainBook: &book, now: t0)
        #expect(first.writes == 3)
        #expect(first.failures.map(\.description) == [
            "FAILED add destination 10.0.0.5:8080 to TCP 192.0.2.10:80 (missing): File exists (EEXIST)",
        ])
        #expect(first.failures.first?.error?.errno == FakeIPVS.Errno.EEXIST)
        #expect(fake[web.key]?.destinations.count == 1)

        let second = try r.reconcile(desired: [web], drainBook: &book, now: t0)
        #expect(second.outcomes.map(\.step.operation.description) == [
            "add destination 10.0.0.5:8080 to TCP 192.0.2.10:80",
        ])
        #expect(second.isClean)
    }

    /// The kernel's own errnos when the table changed under us (ESRCH: the
    /// service vanished between dump and write).
    @Test func kernelErrnosFromRaces() throws {
        let fake = FakeIPVS([observed(web)])
        var book = IPVSDrainBook()
        fake.fail(FakeIPVS.Errno.ESRCH) { if case .editService = $0 { true } else { false } }
        let result = try reconciler(fake).reconcile(desired: [service(web.key, .lc, web.destinations)],
                                                    drainBook: &book, now: t0)
        #expect(result.failures.map { $0.error?.description } == [
            "edit service TCP 192.0.2.10:80: No such process (ESRCH)",
        ])

        // Without injection the fake answers like the kernel does.
        let plain = FakeIPVS()
        let results = plain.perform([.deleteService(web.key), .addService(web), .addService(web),
                                     .deleteDestination(web.key, ep("10.0.0.1:1")),
                                     .addDestination(web.key, dest("10.0.0.1:1", upper: 1, lower: 2))])
        #expect(results.map { (try? $0.get()) == nil ? "fail" : "ok" } == ["fail", "ok", "fail", "fail", "fail"])
        #expect(results.compactMap { if case .failure(let e) = $0 { e.errno } else { nil } }
            == [FakeIPVS.Errno.ESRCH, FakeIPVS.Errno.EEXIST, FakeIPVS.Errno.ENOENT, FakeIPVS.Errno.ERANGE])
    }

    @Test func failedDumpWritesNothing() {
        let fake = FakeIPVS()
        fake.failDumps(FakeIPVS.Errno.EINVAL)
        var book = IPVSDrainBook()
        #expect(throws: IPVSError.self) {
            _ = try reconciler(fake).reconcile(desired: [web], drainBook: &book, now: t0)
        }
        #expect(fake.performCalls.isEmpty)
    }

    /// Route destinations converge although the kernel rewrites their port.
    @Test func routePortQuirkConverges() throws {
        let fake = FakeIPVS()
        let dr = service(tcp("192.0.2.20", 80), [dest("10.0.0.5:8080", forward: .directRoute),
                                                 dest("10.0.0.6:8080", forward: .tunnel)])
        var book = IPVSDrainBook()
        let r = reconciler(fake)
        _ = try r.reconcile(desired: [dr], drainBook: &book, now: t0)
        #expect(fake[dr.key]?.destinations.map(\.destination.port) == [80, 80])
        let again = try r.reconcile(desired: [dr], drainBook: &book, now: t0)
        #expect(again.writes == 0)
    }

    @Test func drainAcrossRounds() throws {
        let fake = FakeIPVS([observed(web)])
        fake.setConnections(web.key, ep("10.0.0.6:8080"), active: 1)
        let r = reconciler(fake)
        let desired = [service(web.key, [dest("10.0.0.5:8080")])]
        var book = IPVSDrainBook()

        let first = try r.reconcile(desired: desired, drainBook: &book, now: t0)
        #expect(first.outcomes.map(\.step.operation.description) == [
            "edit destination 10.0.0.6:8080 of TCP 192.0.2.10:80",
        ])
        #expect(fake[web.key]?.destinations.map(\.destination.weight) == [1, 0])
        #expect(book.count == 1)

        let waiting = try r.reconcile(desired: desired, drainBook: &book, now: t0 + .seconds(5))
        #expect(waiting.writes == 0 && waiting.draining.count == 1)

        // The delete fails once: the drain start survives so the timeout is not restarted.
        fake.setConnections(web.key, ep("10.0.0.6:8080"), active: 0)
        fake.fail(FakeIPVS.Errno.ENOENT, times: 1) { if case .deleteDestination = $0 { true } else { false } }
        let failed = try r.reconcile(desired: desired, drainBook: &book, now: t0 + .seconds(10))
        #expect(failed.failures.count == 1)
        #expect(book[IPVSDestinationID(service: web.key, endpoint: ep("10.0.0.6:8080"))] == t0)

        let done = try r.reconcile(desired: desired, drainBook: &book, now: t0 + .seconds(11))
        #expect(done.outcomes.map(\.step.description) == [
            "delete destination 10.0.0.6:8080 from TCP 192.0.2.10:80 (drained, idle)",
        ])
        #expect(book.isEmpty)
        #expect(fake[web.key]?.destinations.map(\.destination.endpoint) == [ep("10.0.0.5:8080")])
    }

    @Test func largeColdApplyIsOneBatchAndNoOpIsFree() throws {
        let desired = (0..<1000).map { i in
            service(tcp("192.0.2.\(i % 200 + 1)", UInt16(2000 + i / 200)),
                    (0..<10).map { j in dest("10.1.\(i % 200).\(j + 1):80") })
        }
        let fake = FakeIPVS()
        var book = IPVSDrainBook()
        let r = reconciler(fake)
        let cold = try r.reconcile(desired: desired, drainBook: &book, now: t0)
        #expect(cold.writes == 11_000 && cold.isClean && fake.performCalls.count == 1)
        let noop = try r.reconcile(desired: desired, drainBook: &book, now: t0)
        #expect(noop.writes == 0 && fake.performCalls.count == 1)

        var one = desired
        one[500].destinations[3].weight = 5
        let change = try r.reconcile(desired: one, drainBook: &book, now: t0)
        #expect(change.writes == 1)
    }
}
