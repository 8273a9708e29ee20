// IPVSNetlinkClient against a real kernel (the kernel VM). Every test works
// in a fresh network namespace (see IPVSClientSupport.swift). What the client
// writes is read back by the client and, independently, by ipvsadm.
//
// Enabled by BALLAST_KERNEL_TESTS=1; then a kernel without IPVS is a failure
// (IPVSNetlinkClient() throws "IPVS is not available in this kernel: ...").

import BallastCore
import Foundation
import NetlinkIPVS
import Testing

private func ip(_ text: String) -> IPAddress { IPAddress(text)! }

private func tcp(_ address: String, _ port: UInt16 = 80) -> VirtualServiceKey {
    .address(ip(address), port: port, protocol: .tcp)
}

/// Operations that create `services` with their destinations.
private func creating(_ services: [IPVSVirtualService]) -> [IPVSOperation] {
    services.flatMap { service in
        [.addService(service)] + service.destinations.map { .addDestination(service.key, $0) }
    }
}

private func expectSuccess(_ results: [Result<Void, IPVSError>],
                           sourceLocation: Testing.SourceLocation = #_sourceLocation) {
    for case .failure(let error) in results {
        Issue.record("\(error)", sourceLocation: sourceLocation)
    }
}

@Suite(.enabled(if: ipvsKernelTestsEnabled, "needs IPVS: runs in the kernel VM (BALLAST_KERNEL_TESTS=1)"))
struct IPVSClientTests {
    /// Every field the client writes: both families, every protocol, firewall
    /// marks, all 13 schedulers, scheduler flags, persistence, one-packet,
    /// the three forwarding methods, weights and thresholds.
    static let everyField: [IPVSVirtualService] =
        IPVSScheduler.allCases.enumerated().map { index, scheduler in
            IPVSVirtualService(key: tcp("192.0.2.\(index + 1)"), scheduler: scheduler, destinations: [
                IPVSDestination(address: ip("10.0.0.\(index + 1)"), port: 8080, weight: Int32(index)),
            ])
        } + [
            IPVSVirtualService(key: .address(ip("192.0.2.100"), port: 53, protocol: .udp), scheduler: .rr,
                               flags: .onePacket, destinations: [
                                   IPVSDestination(address: ip("10.0.1.1"), port: 5353, forwarding: .masquerade),
                               ]),
            IPVSVirtualService(key: .address(ip("192.0.2.101"), port: 5000, protocol: .sctp), scheduler: .sh,
                               flags: [.shFallback, .shPort],
                               persistence: IPVSPersistence(timeout: 300, netmaskPrefix: 24), destinations: [
                                   IPVSDestination(address: ip("10.0.1.2"), port: 5000, forwarding: .directRoute,
                                                   weight: 3, upperThreshold: 1000, lowerThreshold: 100),
                               ]),
            IPVSVirtualService(key: .address(ip("2001:db8::10"), port: 443, protocol: .tcp), scheduler: .wlc,
                               persistence: IPVSPersistence(timeout: 600, netmaskPrefix: 64), destinations: [
                                   IPVSDestination(address: ip("2001:db8:1::1"), port: 8443),
                                   IPVSDestination(address: ip("2001:db8:1::2"), port: 443, forwarding: .directRoute,
                                                   weight: 0),
                                   IPVSDestination(address: ip("2001:db8:1::3"), port: 443, forwarding: .tunnel,
                                                   weight: 65535, upperThreshold: 7, lowerThreshold: 0),
                                   // An IPv4 real server behind an IPv6 service: tunnelling only.
                                   IPVSDestination(address: ip("10.0.1.3"), port: 443, forwarding: .tunnel),
                               ]),
            IPVSVirtualService(key: .address(ip("2001:db8::11"), port: 53, protocol: .udp), scheduler: .mh,
                               flags: [.mhFallback, .mhPort]),
            IPVSVirtualService(key: .address(ip("2001:db8::12"), port: 9, protocol: .sctp), scheduler: .lblcr,
                               persistence: IPVSPersistence(timeout: 1, netmaskPrefix: 128)),
            IPVSVirtualService(key: .firewallMark(7, family: .ipv4), scheduler: .wrr,
                               persistence: IPVSPersistence(timeout: 3600, netmaskPrefix: 32), destinations: [
                                   IPVSDestination(address: ip("10.0.2.1"), port: 0, forwarding: .directRoute, weight: 2),
                                   IPVSDestination(address: ip("10.0.2.2"), port: 0, forwarding: .tunnel, weight: 4),
                               ]),
            IPVSVirtualService(key: .firewallMark(8, family: .ipv6), scheduler: .sed, destinations: [
                IPVSDestination(address: ip("2001:db8:2::1"), port: 0, forwarding: .tunnel),
            ]),
        ]

    @Test func everyFieldReadsBackThroughTheClientAndIpvsadm() throws {
        let namespace = try IPVSTestNamespace()
        let client = try namespace.client()
        expectSuccess(client.perform(creating(Self.everyField)))

        let dumped = try client.dump()
        #expect(dumped.map(\.service) == Self.everyField.inDumpOrder)
        // The compact dump the daemon keeps, read service by service into one array, holds the same table.
        let compact = try client.compactDump()
        #expect(compact.count == dumped.count)
        #expect(IPVSKnownTable(compact, sharing: []) == IPVSKnownTable(dumped))
        #expect(IPVSKnownTable(compact, sharing: []).services.map(\.service) == Self.everyField.inDumpOrder)
        try namespace.expectIpvsadmSave(Self.everyField.inDumpOrder)

        // `ipvsadm -Ln` prints the flags and persistence in its own words.
        let listing = try namespace.run("ipvsadm", "-Ln").split(separator: "\n")
            .map { $0.split(separator: " ").joined(separator: " ") }
        for line in [
            "UDP 192.0.2.100:53 rr ops",
            "SCTP 192.0.2.101:5000 sh (sh-fallback,sh-port) persistent 300 mask 255.255.255.0",
            "TCP [2001:db8::10]:443 wlc persistent 600 mask 64",
            "UDP [2001:db8::11]:53 mh (mh-fallback,mh-port)",
            "-> 10.0.1.2:5000 Route 3 0 0",
            "-> [2001:db8:1::3]:443 Tunnel 65535 0 0",
            "-> 10.0.1.3:443 Tunnel 1 0 0",
            "FWM 8 IPv6 sed",
        ] {
            #expect(listing.contains(line), "ipvsadm -Ln shows \(line)")
        }
    }

    @Test func emptyTableDumpsEmpty() throws {
        let namespace = try IPVSTestNamespace()
        #expect(try namespace.client().dump().isEmpty)
    }

    /// The kernel stores a direct-routing or tunnel destination's port as
    /// written; it is ipvsadm that replaces it with the service's port before
    /// sending (the captured fixture dest-add-route6 shows 5353 sent as 53).
    @Test func directRoutePortIsStoredAsWritten() throws {
        let namespace = try IPVSTestNamespace()
        let client = try namespace.client()
        let service = IPVSVirtualService(key: tcp("192.0.2.60"), destinations: [
            IPVSDestination(address: ip("10.0.0.60"), port: 8080, forwarding: .directRoute),
            IPVSDestination(address: ip("10.0.0.61"), port: 8081, forwarding: .tunnel),
        ])
        expectSuccess(client.perform(creating([service])))
        #expect(try client.dump().map(\.service) == [service])
    }

    @Test func editInPlaceKeepsCounters() throws {
        let namespace = try IPVSTestNamespace()
        let client = try namespace.client()
        try namespace.run("ip", "addr", "add", "192.0.2.50/32", "dev", "ipvst0")
        var service = IPVSVirtualService(key: tcp("192.0.2.50"), destinations: [
            IPVSDestination(address: ip("10.0.0.5"), port: 8080),
        ])
        expectSuccess(client.perform(creating([service])))

        // IPVS balances locally generated connections too; the SYN goes to the
        // real server through the dummy link and is lost, which is enough to count.
        try namespace.run("python3", "-c", """
            import socket
            s = socket.socket()
            s.settimeout(0.3)
            s.connect_ex(("192.0.2.50", 80))
            """)
        // The kernel folds per-CPU counters into what it reports every 2 s (estimator).
        let before = try waitForConnectionCount(1, client)
        #expect(before.destinations.first?.stats.connections == 1)

        service.scheduler = .wlc
        service.persistence = IPVSPersistence(timeout: 120, netmaskPrefix: 24)
        service.destinations[0].weight = 9
        service.destinations[0].upperThreshold = 50
        expectSuccess(client.perform([.editService(service), .editDestination(service.key, service.destinations[0])]))

        let after = try #require(try client.dump().first)
        #expect(after.service == service)
        #expect(after.stats.connections == 1 && after.destinations.first?.stats.connections == 1)
        let counts = IPVSAdmStatsParser.connections(try namespace.run("ipvsadm", "-Ln", "--stats"))
        #expect(counts["192.0.2.50:80"] == 1 && counts["10.0.0.5:8080"] == 1)

        // Deleting and adding again starts from zero: the check above is meaningful.
        expectSuccess(client.perform([.deleteService(service.key)] + creating([service])))
        let recreated = try #require(try client.dump().first)
        #expect(recreated.stats.connections == 0)
    }

    /// The only service of the table once its counters show `count` connections.
    private func waitForConnectionCount(_ count: UInt64, _ client: IPVSNetlinkClient) throws -> ObservedVirtualService {
        var service = try #require(try client.dump().first)
        for _ in 0..<20 where service.stats.connections != count {
            usleep(500_000)
            service = try #require(try client.dump().first)
        }
        try #require(service.stats.connections == count, "connection counter after 10 s")
        return service
    }

    @Test func deleteRemovesExactlyWhatIsNamed() throws {
        let namespace = try IPVSTestNamespace()
        let client = try namespace.client()
        let keep = IPVSVirtualService(key: tcp("192.0.2.70"), destinations: [
            IPVSDestination(address: ip("10.0.0.70"), port: 80),
            IPVSDestination(address: ip("10.0.0.71"), port: 80),
        ])
        let drop = IPVSVirtualService(key: .firewallMark(70, family: .ipv6), destinations: [
            IPVSDestination(address: ip("2001:db8:70::1"), port: 0, forwarding: .tunnel),
        ])
        expectSuccess(client.perform(creating([keep, drop])))
        expectSuccess(client.perform([
            .deleteDestination(keep.key, keep.destinations[1].endpoint),
            .deleteService(drop.key),
        ]))
        var expected = keep
        expected.destinations.removeLast()
        #expect(try client.dump().map(\.service) == [expected])
        try namespace.expectIpvsadmSave([expected])
    }

    @Test func withoutCapNetAdminTheErrorSaysWhatToDo() throws {
        let namespace = try IPVSTestNamespace()
        let client = try namespace.clientWithoutNetAdmin()
        let hint = "Operation not permitted (EPERM): IPVS needs CAP_NET_ADMIN in this network namespace; "
            + "run as root or grant the capability"
        #expect(throws: IPVSError(operation: "dump services", errno: 1, reason: hint)) { try client.dump() }
        let results = client.perform([.addService(IPVSVirtualService(key: tcp("192.0.2.90")))])
        guard case .failure(let error) = results.first else {
            Issue.record("adding a service without CAP_NET_ADMIN succeeded")
            return
        }
        #expect(error.description == "add service TCP 192.0.2.90:80: " + hint)
    }

    static let service = tcp("192.0.2.10")
    static let backend = IPVSDestination(address: ip("10.0.0.5"), port: 8080)

    /// (operation that fails, the sentence the user reads). The table already
    /// holds `service` with `backend`.
    static let failures: [(IPVSOperation, String)] = [
        (.addDestination(tcp("192.0.2.99"), backend),
         "add destination 10.0.0.5:8080 to TCP 192.0.2.99:80: No such process (ESRCH)"),
        (.addService(IPVSVirtualService(key: service)),
         "add service TCP 192.0.2.10:80: File exists (EEXIST)"),
        (.addDestination(service, backend),
         "add destination 10.0.0.5:8080 to TCP 192.0.2.10:80: File exists (EEXIST)"),
        (.editService(IPVSVirtualService(key: tcp("192.0.2.99"))),
         "edit service TCP 192.0.2.99:80: No such process (ESRCH)"),
        (.deleteService(tcp("192.0.2.99")),
         "delete service TCP 192.0.2.99:80: No such process (ESRCH)"),
        (.editDestination(service, IPVSDestination(address: ip("10.0.0.9"), port: 8080)),
         "edit destination 10.0.0.9:8080 of TCP 192.0.2.10:80: No such file or directory (ENOENT)"),
        (.deleteDestination(service, IPVSEndpoint(address: ip("10.0.0.9"), port: 8080)),
         "delete destination 10.0.0.9:8080 from TCP 192.0.2.10:80: No such file or directory (ENOENT)"),
        (.addDestination(service, IPVSDestination(address: ip("10.0.0.6"), port: 1, weight: -1)),
         "add destination 10.0.0.6:1 to TCP 192.0.2.10:80: Numerical result out of range (ERANGE)"),
        (.addDestination(service, IPVSDestination(address: ip("10.0.0.6"), port: 1, upperThreshold: 1,
                                                  lowerThreshold: 2)),
         "add destination 10.0.0.6:1 to TCP 192.0.2.10:80: Numerical result out of range (ERANGE)"),
        // Mixed families are allowed for tunnelling only.
        (.addDestination(service, IPVSDestination(address: ip("2001:db8::6"), port: 1)),
         "add destination [2001:db8::6]:1 to TCP 192.0.2.10:80: Invalid argument (EINVAL)"),
    ]

    @Test func kernelErrorsAreTyped() throws {
        let namespace = try IPVSTestNamespace()
        let client = try namespace.client()
        expectSuccess(client.perform(creating([IPVSVirtualService(key: Self.service, destinations: [Self.backend])])))
        let results = client.perform(Self.failures.map(\.0))
        for ((_, expected), result) in zip(Self.failures, results) {
            switch result {
            case .success: Issue.record("expected: \(expected)")
            case .failure(let error): #expect(error.description == expected)
            }
        }
        #expect(try client.dump().map(\.service) == [IPVSVirtualService(key: Self.service, destinations: [Self.backend])])
    }

    @Test func aFailureInTheMiddleOfABatchLeavesTheRestApplied() throws {
        let namespace = try IPVSTestNamespace()
        let client = try namespace.client()
        let first = IPVSVirtualService(key: tcp("192.0.2.80"), destinations: [
            IPVSDestination(address: ip("10.0.0.80"), port: 80),
        ])
        let second = IPVSVirtualService(key: .address(ip("2001:db8::80"), port: 80, protocol: .udp))
        let results = client.perform([
            .addService(first),
            .addDestination(tcp("192.0.2.81"), IPVSDestination(address: ip("10.0.0.81"), port: 80)),
            .addService(second),
            .addService(first),
            .addDestination(first.key, first.destinations[0]),
        ])
        #expect(results.map { (try? $0.get()) != nil } == [true, false, true, false, true])
        let errnos = results.map { result -> Int32 in
            if case .failure(let error) = result { error.errno } else { 0 }
        }
        #expect(errnos == [0, 3, 0, 17, 0])
        #expect(try client.dump().map(\.service) == [first, second].inDumpOrder)
    }

    /// A batch much larger than one sendmsg: 1,000 services with 3 destinations each.
    @Test func bigBatchRoundTrips() throws {
        let namespace = try IPVSTestNamespace()
        let client = try namespace.client()
        let services = (0..<1000).map { index in
            IPVSVirtualService(
                key: .address(ip("198.18.\(index / 250).\(index % 250 + 1)"), port: UInt16(1000 + index),
                              protocol: index % 2 == 0 ? .tcp : .udp),
                scheduler: IPVSScheduler.allCases[index % IPVSScheduler.allCases.count],
                destinations: (1...3).map { IPVSDestination(address: ip("10.\(index / 250).\(index % 250).\($0)"),
                                                            port: 8080, weight: Int32($0)) })
        }
        let results = client.perform(creating(services))
        #expect(results.count == 4000)
        expectSuccess(results)
        #expect(try client.dump().map(\.service) == services.inDumpOrder)
        try namespace.expectIpvsadmSave(services.inDumpOrder)

        // And all of it away again in one call.
        expectSuccess(client.perform(services.map { .deleteService($0.key) }))
        #expect(try client.dump().isEmpty)
    }
}
