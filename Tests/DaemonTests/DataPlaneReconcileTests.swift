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

    static func mark(_ address: String, _ port: UInt16, _ proto: IPVSProtocol) -> SNATMatch {
        SNATMatch(address: ip(address), protocol: proto, port: port)
    }

    static func pair(_ address: String, _ destination: String) -> SNATPair {
        SNATPair(address: ip(address), destination: ip(destination))
    }

    @Test func rulesBecomeMarksAndPairsDroppingWhatCannotBeMasqueraded() {
        let rules = [
            Self.rule("2001:db8::10", 443, .tcp, ["2001:db8:1::5"]),
            Self.rule("192.0.2.10", 80, .tcp, ["10.0.0.6", "10.0.0.5"]),
            Self.rule("192.0.2.10", 53, .udp, []),
            Self.rule("192.0.2.10", 80, .tcp, ["10.0.0.5", "10.0.0.7", "2001:db8:1::9"]),
            Self.rule("192.0.2.10", 8080, .tcp, ["10.0.0.5"]),
            Self.rule("192.0.2.9", 80, .sctp, ["2001:db8:1::9"]),
        ]
        #expect(SNATTable(rules: rules) == SNATTable(
            marks: [Self.mark("192.0.2.10", 80, .tcp), Self.mark("192.0.2.10", 8080, .tcp),
                    Self.mark("2001:db8::10", 443, .tcp)],
            masquerades: [Self.pair("192.0.2.10", "10.0.0.5"), Self.pair("192.0.2.10", "10.0.0.6"),
                          Self.pair("192.0.2.10", "10.0.0.7"), Self.pair("2001:db8::10", "2001:db8:1::5")]))
        #expect(SNATTable(rules: []).isEmpty)
    }

    @Test func aLocalServiceSharingTheVIPIsNotMarked() {
        // A Cluster Service on TCP 80 and a Local one on TCP 443 of the same
        // VIP: the Local Service has no rule, so its port gets no mark, and
        // the pair (VIP, 10.0.0.5) alone cannot masquerade its connections.
        let table = SNATTable(rules: [Self.web(["10.0.0.5"])])
        #expect(table.marks == [Self.mark("192.0.2.10", 80, .tcp)])
        #expect(!table.marks.contains(Self.mark("192.0.2.10", 443, .tcp)))
    }

    @Test func aChangeIsTheElementsAddedAndDeleted() {
        let old = SNATTable(rules: [Self.web(["10.0.0.5", "10.0.0.6"]), Self.rule("192.0.2.11", 53, .udp, ["10.0.0.5"])])
        let new = SNATTable(rules: [Self.web(["10.0.0.6", "10.0.0.7"]), Self.rule("192.0.2.10", 443, .tcp, ["10.0.0.7"])])
        let change = SNATTableChange(from: old, to: new)
        #expect(change == SNATTableChange(
            addMarks: [Self.mark("192.0.2.10", 443, .tcp)], deleteMarks: [Self.mark("192.0.2.11", 53, .udp)],
            addMasquerades: [Self.pair("192.0.2.10", "10.0.0.7")],
            deleteMasquerades: [Self.pair("192.0.2.10", "10.0.0.5"), Self.pair("192.0.2.11", "10.0.0.5")]))
        #expect(old.applying(change) == new)
        #expect(SNATTableChange(from: new, to: new).isEmpty)
    }

    @Test func writesAMissingTable() throws {
        let fake = FakeSNATControl()
        #expect(try SNATReconcile.apply(desired: [Self.web(["10.0.0.5"])], to: fake))
        #expect(fake.table == SNATTable(rules: [Self.web(["10.0.0.5"])]))
        #expect(fake.calls == [.current, .replace(SNATTable(rules: [Self.web(["10.0.0.5"])]))])
    }

    @Test func writesNothingWhenTheTableIsAlreadyRight() throws {
        let fake = FakeSNATControl(rules: [Self.web(["10.0.0.5", "10.0.0.6"])])
        // Same rules in another order and with a duplicate: same table.
        #expect(try !SNATReconcile.apply(desired: [Self.web(["10.0.0.6", "10.0.0.5", "10.0.0.5"])], to: fake))
        #expect(fake.calls == [.current])
    }

    @Test func aChangedTableGetsOnlyTheElementsThatDiffer() throws {
        let fake = FakeSNATControl(rules: [Self.web(["10.0.0.5"])])
        let desired = [Self.web(["10.0.0.6"]), Self.rule("192.0.2.10", 443, .tcp, ["10.0.0.6"])]
        #expect(try SNATReconcile.apply(desired: desired, to: fake))
        #expect(fake.table == SNATTable(rules: desired))
        #expect(fake.calls == [.current, .update(SNATTableChange(
            addMarks: [Self.mark("192.0.2.10", 443, .tcp)],
            addMasquerades: [Self.pair("192.0.2.10", "10.0.0.6")],
            deleteMasquerades: [Self.pair("192.0.2.10", "10.0.0.5")]))])
    }

    @Test(arguments: [
        // Missing or not Ballast's.
        (nil, [SNATReconcileTests.web(["10.0.0.5"])]),
        // Empty to non-empty: the sets and chains appear.
        (SNATTable(), [SNATReconcileTests.web(["10.0.0.5"])]),
        // Non-empty to empty: the chains go, and with them the hooks.
        (SNATTable(rules: [SNATReconcileTests.web(["10.0.0.5"])]), []),
    ] as [(SNATTable?, [SNATRule])])
    func theWholeTableIsWrittenWhenItIsMissingOrChainsComeOrGo(current: SNATTable?, desired: [SNATRule]) {
        #expect(SNATReconcile.write(from: current, to: SNATTable(rules: desired)) == .replaced)
    }

    @Test func nothingToMasqueradeStillWritesAnEmptyTableOnce() throws {
        let fake = FakeSNATControl()
        #expect(try SNATReconcile.apply(desired: [], to: fake))
        #expect(fake.table == SNATTable())
        #expect(try !SNATReconcile.apply(desired: [Self.rule("192.0.2.10", 53, .udp, [])], to: fake))
    }

    @Test func aTableThatCannotBeReadIsNotOverwritten() {
        let fake = FakeSNATControl(table: SNATTable())
        fake.fail(.current, errno: 1)
        #expect(throws: DataPlaneError.self) { try SNATReconcile.apply(desired: [Self.web(["10.0.0.5"])], to: fake) }
        #expect(fake.writeCount == 0)
    }
}
