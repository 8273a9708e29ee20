import BallastCore
import BallastFakes
import Daemon
import Testing

@Suite struct RememberedSNATControlTests {
    static let rule = SNATRule(address: IPAddress("192.0.2.10")!, port: 80, protocol: .tcp,
                               destinations: [IPAddress("10.0.0.6")!, IPAddress("10.0.0.5")!])

    static let table = SNATTable(rules: [rule])

    @Test func readsTheKernelOnceThenAnswersFromMemory() throws {
        let fake = FakeSNATControl(table: Self.table)
        let snat = RememberedSNATControl(wrapping: fake)
        #expect(try snat.current() == Self.table)
        #expect(try snat.current() == Self.table)
        #expect(fake.calls == [.current])
    }

    @Test func aReplaceIsRemembered() throws {
        let fake = FakeSNATControl()
        let snat = RememberedSNATControl(wrapping: fake)
        try snat.replace(with: Self.table)
        #expect(try snat.current() == Self.table)
        #expect(fake.calls == [.replace(Self.table)])
    }

    @Test func anUpdateIsAppliedToWhatWasRemembered() throws {
        let fake = FakeSNATControl(table: Self.table)
        let snat = RememberedSNATControl(wrapping: fake)
        _ = try snat.current()
        let change = SNATTableChange(addMasquerades: [SNATPair(address: IPAddress("192.0.2.10")!,
                                                               destination: IPAddress("10.0.0.7")!)])
        try snat.update(change)
        #expect(try snat.current() == Self.table.applying(change))
        #expect(fake.calls == [.current, .update(change)])
    }

    @Test func aFailedUpdateReadsTheKernelAgain() throws {
        let fake = FakeSNATControl(table: Self.table)
        let snat = RememberedSNATControl(wrapping: fake)
        _ = try snat.current()
        // Deleted by hand: the delete in the update fails and changes nothing.
        fake.edit { $0 = SNATTable(marks: Self.table.marks) }
        let change = SNATTableChange(deleteMasquerades: Self.table.masquerades)
        #expect(throws: DataPlaneError.self) { try snat.update(change) }
        #expect(try snat.current() == SNATTable(marks: Self.table.marks))
        #expect(fake.calls == [.current, .update(change), .current])
    }

    @Test func forgetReadsTheKernelAgain() throws {
        let fake = FakeSNATControl(table: Self.table)
        let snat = RememberedSNATControl(wrapping: fake)
        _ = try snat.current()
        snat.forget()
        #expect(try snat.current() == Self.table)
        #expect(fake.calls == [.current, .current])
    }

    @Test func aFailedWriteIsNotRemembered() throws {
        let fake = FakeSNATControl()
        let snat = RememberedSNATControl(wrapping: fake)
        #expect(try snat.current() == nil)
        fake.fail(.replace, errno: 1)
        #expect(throws: DataPlaneError.self) { try snat.replace(with: Self.table) }
        #expect(try snat.current() == nil)
        #expect(fake.calls.filter { $0 == .current }.count == 2)
    }

    @Test func theLoopRereadsOnResyncOnly() async throws {
        let fake = FakeSNATControl()
        let snat = RememberedSNATControl(wrapping: fake)
        let h = LoopHarness()
        let loop = ReconcileLoop(
            stages: SyncStages(ipvs: h.ipvs, vips: h.vips, snat: snat, announcer: h.announcer,
                               forgetKernelView: { snat.forget() }),
            configuration: testConfiguration(), nodeName: "n1", assignments: [:], persist: nil,
            board: h.board, metrics: nil, logger: quietLogger)
        await loop.sourceChanged(snapshot("default/web"))
        _ = await loop.sync(reasons: [.start])
        _ = await loop.sync(reasons: [.source])
        #expect(fake.calls.filter { $0 == .current }.count == 1)
        _ = await loop.sync(reasons: [.resync])
        #expect(fake.calls.filter { $0 == .current }.count == 2)
    }

    // MARK: - Start

    @Test func atStartTheDigestStandsInForTheListing() throws {
        let fake = FakeSNATControl(table: Self.table)
        let snat = RememberedSNATControl(wrapping: fake)
        #expect(try SNATReconcile.apply(desired: [Self.rule], to: snat) == false)
        #expect(try SNATReconcile.apply(desired: [Self.rule], to: snat) == false)
        #expect(fake.calls == [.holdsAsWritten(Self.table)])
    }

    @Test func atStartAnotherDesiredTableIsListedAndUpdated() throws {
        let fake = FakeSNATControl(table: Self.table)
        let snat = RememberedSNATControl(wrapping: fake)
        let moved = SNATRule(address: Self.rule.address, port: 80, protocol: .tcp, destinations: [IPAddress("10.0.0.7")!])
        #expect(try SNATReconcile.apply(desired: [moved], to: snat))
        let change = SNATTableChange(from: Self.table, to: SNATTable(rules: [moved]))
        #expect(fake.calls == [.holdsAsWritten(SNATTable(rules: [moved])), .current, .update(change)])
        #expect(fake.table == SNATTable(rules: [moved]))
    }

    /// The limitation: an element deleted by hand while no daemon ran keeps
    /// the digest, so the start trusts the table; the first resync lists it
    /// and repairs it.
    @Test func driftWhileDownIsRepairedByTheFirstResync() throws {
        let fake = FakeSNATControl(table: Self.table)
        fake.edit { $0 = SNATTable(marks: Self.table.marks, masquerades: [Self.table.masquerades.first!]) }
        let snat = RememberedSNATControl(wrapping: fake)
        #expect(try SNATReconcile.apply(desired: [Self.rule], to: snat) == false)
        #expect(fake.writeCount == 0)
        snat.forget()
        #expect(try SNATReconcile.apply(desired: [Self.rule], to: snat))
        #expect(fake.table == Self.table)
        #expect(fake.calls.filter { if case .holdsAsWritten = $0 { true } else { false } }.count == 1)
    }

    @Test func theDigestIsNotTrustedAfterForgetOrAFailedRead() throws {
        let fake = FakeSNATControl(table: Self.table)
        let forgotten = RememberedSNATControl(wrapping: fake)
        forgotten.forget()
        #expect(try SNATReconcile.apply(desired: [Self.rule], to: forgotten) == false)
        #expect(fake.calls == [.current])

        let failing = FakeSNATControl(table: Self.table)
        failing.fail(.holdsAsWritten, errno: 4)
        let snat = RememberedSNATControl(wrapping: failing)
        #expect(throws: DataPlaneError.self) { try SNATReconcile.apply(desired: [Self.rule], to: snat) }
        failing.clearFailures()
        #expect(try SNATReconcile.apply(desired: [Self.rule], to: snat) == false)
        #expect(failing.calls == [.holdsAsWritten(Self.table), .current])
    }
}
