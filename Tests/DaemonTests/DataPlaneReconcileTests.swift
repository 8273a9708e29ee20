import BallastCore
import BallastFakes
import Testing

private func ip(_ text: String) -> IPAddress { IPAddress(text)! }
private func ips(_ texts: [String]) -> Set<IPAddress> { Set(texts.map(ip)) }

@Suite struct VIPReconcileTests {
    @Test(arguments: [
        ([], [], [], []),
        (["192.0.2.10"], [], ["192.0.2.10"], []),
        ([], ["192.0.2.10"], [], ["192.0.2.10"]),
        (["192.0.2.10", "2001:db8::10"], ["192.0.2.10", "192.0.2.11"], ["2001:db8::10"], ["192.0.2.11"]),
        (["2001:db8::2", "192.0.2.3", "2001:db8::1"], [], ["192.0.2.3", "2001:db8::1", "2001:db8::2"], []),
    ] as [([String], [String], [String], [String])])
    func changesAreTheSortedDifference(desired: [String], current: [String], add: [String], remove: [String]) {
        let changes = VIPChanges(desired: ips(desired), current: ips(current))
        #expect(changes.add == add.map(ip))
        #expect(changes.remove == remove.map(ip))
        #expect(changes.isEmpty == (add.isEmpty && remove.isEmpty))
    }

    @Test func createsTheLinkAndAddsEveryVIP() throws {
        let fake = FakeVIPControl()
        let outcome = try VIPReconcile.apply(desired: ips(["192.0.2.10", "2001:db8::10"]), to: fake)
        #expect(outcome.failures.isEmpty)
        #expect(fake.linkExists)
        #expect(fake.currentAddresses == ips(["192.0.2.10", "2001:db8::10"]))
        #expect(fake.calls == [.ensureLink, .addresses, .add(ip("192.0.2.10")), .add(ip("2001:db8::10"))])
    }

    @Test func readsOnceAndWritesNothingWhenAlreadyRight() throws {
        let fake = FakeVIPControl(linkExists: true, addresses: ips(["192.0.2.10", "192.0.2.11"]))
        let outcome = try VIPReconcile.apply(desired: ips(["192.0.2.10", "192.0.2.11"]), to: fake)
        #expect(outcome.changes.isEmpty)
        #expect(fake.calls == [.ensureLink, .addresses])
    }

    @Test func removesWhatIsNoLongerWanted() throws {
        let fake = FakeVIPControl(linkExists: true, addresses: ips(["192.0.2.10", "192.0.2.11", "2001:db8::10"]))
        _ = try VIPReconcile.apply(desired: ips(["192.0.2.11"]), to: fake)
        #expect(fake.currentAddresses == ips(["192.0.2.11"]))
        #expect(fake.writes == [.remove(ip("192.0.2.10")), .remove(ip("2001:db8::10"))])
    }

    @Test func oneFailedAddressDoesNotStopTheOthers() throws {
        let fake = FakeVIPControl(linkExists: true, addresses: ips(["192.0.2.99"]))
        fake.fail(.add(ip("192.0.2.10")), errno: 1, reason: "Operation not permitted (EPERM)")
        let outcome = try VIPReconcile.apply(desired: ips(["192.0.2.10", "192.0.2.11"]), to: fake)
        #expect(outcome.failures.map(\.description)
                    == ["add address 192.0.2.10/32 to ballast0: Operation not permitted (EPERM)"])
        #expect(fake.currentAddresses == ips(["192.0.2.11"]))
    }

    @Test func aLinkThatCannotBeReadIsAnError() {
        let fake = FakeVIPControl(linkExists: true)
        fake.fail(.addresses, errno: 13)
        let error = #expect(throws: DataPlaneError.self) {
            try VIPReconcile.apply(desired: ips(["192.0.2.10"]), to: fake)
        }
        #expect(error?.operation == "list addresses of ballast0")
        #expect(fake.writes.isEmpty)
    }
}

@Suite struct SNATReconcileTests {
    static func rule(_ address: String, _ port: UInt16, _ proto: IPVSProtocol, _ destinations: [String]) -> SNATRule {
        SNATRule(address: ip(address), port: port, protocol: proto, destinations: destinations.map(ip))
    }

    /// TCP 192.0.2.10:80 masqueraded towards `destinations`.
    static func web(_ destinations: [String]) -> SNATRule { rule("192.0.2.10", 80, .tcp, destinations) }

    @Test func canonicalFormMergesDeduplicatesSortsAndDropsWhatCannotBeMasqueraded() {
        let rules = [
            Self.rule("2001:db8::10", 443, .tcp, ["2001:db8:1::5"]),
            Self.rule("192.0.2.10", 80, .tcp, ["10.0.0.6", "10.0.0.5"]),
            Self.rule("192.0.2.10", 53, .udp, []),
            Self.rule("192.0.2.10", 80, .tcp, ["10.0.0.5", "10.0.0.7", "2001:db8:1::9"]),
            Self.rule("192.0.2.9", 80, .sctp, ["2001:db8:1::9"]),
        ]
        #expect(SNATRule.canonical(rules) == [
            Self.rule("192.0.2.10", 80, .tcp, ["10.0.0.5", "10.0.0.6", "10.0.0.7"]),
            Self.rule("2001:db8::10", 443, .tcp, ["2001:db8:1::5"]),
        ])
        #expect(SNATRule.canonical(SNATRule.canonical(rules)) == SNATRule.canonical(rules))
    }

    @Test func writesAMissingTable() throws {
        let fake = FakeSNATControl()
        #expect(try SNATReconcile.apply(desired: [Self.web(["10.0.0.5"])], to: fake))
        #expect(fake.table == [Self.web(["10.0.0.5"])])
        #expect(fake.writeCount == 1)
    }

    @Test func writesNothingWhenTheTableIsAlreadyRight() throws {
        let fake = FakeSNATControl(table: [Self.web(["10.0.0.5", "10.0.0.6"])])
        // Same rules in another order and with a duplicate: same canonical table.
        #expect(try !SNATReconcile.apply(desired: [Self.web(["10.0.0.6", "10.0.0.5", "10.0.0.5"])], to: fake))
        #expect(fake.calls == [.current])
    }

    @Test func replacesADifferentTableAsAWhole() throws {
        let fake = FakeSNATControl(table: [Self.web(["10.0.0.5"])])
        #expect(try SNATReconcile.apply(desired: [Self.web(["10.0.0.6"]), Self.rule("192.0.2.10", 443, .tcp, ["10.0.0.6"])], to: fake))
        #expect(fake.table == [Self.web(["10.0.0.6"]), Self.rule("192.0.2.10", 443, .tcp, ["10.0.0.6"])])
    }

    @Test func nothingToMasqueradeStillWritesAnEmptyTableOnce() throws {
        let fake = FakeSNATControl()
        #expect(try SNATReconcile.apply(desired: [], to: fake))
        #expect(fake.table == [])
        #expect(try !SNATReconcile.apply(desired: [Self.rule("192.0.2.10", 53, .udp, [])], to: fake))
    }

    @Test func aTableThatCannotBeReadIsNotOverwritten() {
        let fake = FakeSNATControl(table: [])
        fake.fail(.current, errno: 1)
        #expect(throws: DataPlaneError.self) { try SNATReconcile.apply(desired: [Self.web(["10.0.0.5"])], to: fake) }
        #expect(fake.writeCount == 0)
    }
}
