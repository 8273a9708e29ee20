import BallastCore
import Daemon
import Foundation
import Logging
import Testing

let quietLogger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

@Suite struct StatusAPITests {
    static let when = Date(timeIntervalSince1970: 1_700_000_000)

    static let sampleStatus = StatusResponse(
        node: "node1", health: .degraded, problems: ["configuration is stale"], dryRun: false, startedAt: when,
        config: ConfigStatus(path: "/etc/ballast/ballast.yaml", state: .stale, loadedAt: when, error: "ballast.yaml:3: unknown key"),
        source: "files /etc/ballast/services", sourceProblems: [],
        lastSync: SyncStatus(at: when, durationSeconds: 0.0123, reason: "resync", errors: []),
        lastSuccessfulSyncAt: when, counts: StatusCounts(services: 2, allocated: 1, announced: 1, ipvsServices: 2, ipvsDestinations: 3))

    @Test func serverAnswersEachRequestOverTheSocket() throws {
        let dir = try TemporaryDirectory("ballast-status")
        let path = dir.file("ballastd.sock")
        let server = try StatusServer(path: path, logger: quietLogger) { request in
            switch request {
            case .status: StatusReply(status: Self.sampleStatus)
            case .explain(let ref): StatusReply(explain: ExplainResponse(service: ref.description, sentences: ["It is fine."]))
            case .pools: StatusReply(pools: PoolsResponse(pools: [PoolRow(name: "p", family: .ipv6, size: .max, inUse: 1, autoAssign: true)]))
            default: .failure("not in this test")
            }
        }
        defer { server.stop() }

        var info = stat()
        #expect(lstat(path, &info) == 0)
        #expect(info.st_mode & 0o777 == 0o660)

        let client = StatusClient(path: path)
        #expect(try client.send(.status).status == Self.sampleStatus)
        #expect(try client.send(.explain(ref("shop/api"))).explain?.sentences == ["It is fine."])
        let pools = try client.send(.pools).pools
        #expect(pools?.pools.first?.size == .max)
        #expect(pools?.pools.first?.free == .max)
        #expect(try client.send(.ipvs).error == "not in this test")
    }

    @Test func badRequestGetsAnErrorReply() throws {
        let dir = try TemporaryDirectory("ballast-status")
        let path = dir.file("s.sock")
        let server = try StatusServer(path: path, logger: quietLogger) { _ in StatusReply() }
        defer { server.stop() }
        let reply = try rawExchange(path: path, line: #"{"request":"reboot"}"#)
        #expect(reply.contains("unknown request \\\"reboot\\\""))
    }

    @Test func missingSocketSaysTheDaemonIsNotRunning() throws {
        let dir = try TemporaryDirectory("ballast-status")
        #expect {
            try StatusClient(path: dir.file("ballastd.sock")).send(.status)
        } throws: { error in
            "\(error)" == "ballastd is not running (no socket at \(dir.path)/ballastd.sock): start it with systemctl start ballastd"
        }
    }

    @Test func staleSocketIsReplacedButALiveOneIsNot() throws {
        let dir = try TemporaryDirectory("ballast-status")
        let path = dir.file("s.sock")
        // A socket file with no listener, as a crashed daemon leaves it.
        let stale = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8)) }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(stale, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        #expect(bound == 0)
        close(stale)
        #expect(throws: StatusClientError.noListener(path: path)) { try StatusClient(path: path).send(.status) }

        let server = try StatusServer(path: path, logger: quietLogger) { _ in StatusReply(error: "first") }
        defer { server.stop() }
        #expect {
            try StatusServer(path: path, logger: quietLogger) { _ in StatusReply() }
        } throws: { error in
            "\(error)".contains("another ballastd is serving it")
        }
        #expect(try StatusClient(path: path).send(.status).error == "first")
    }

    @Test func stopRemovesTheSocket() throws {
        let dir = try TemporaryDirectory("ballast-status")
        let path = dir.file("s.sock")
        let server = try StatusServer(path: path, logger: quietLogger) { _ in StatusReply() }
        server.stop()
        #expect(access(path, F_OK) != 0)
    }

    @Test func requestsRoundTripThroughJSON() throws {
        for request in [StatusRequest.status, .services, .pools, .ipvs, .explain(ref("default/web"))] {
            let data = try JSONEncoder().encode(request)
            #expect(try JSONDecoder().decode(StatusRequest.self, from: data) == request)
        }
        #expect(String(decoding: try JSONEncoder().encode(StatusRequest.explain(ref("a/b"))), as: UTF8.self)
                    .contains(#""service":"a\/b""#))
    }

    /// A daemon started before an upgrade sends the replies without the
    /// fields added since; the new ballastctl still reads them.
    @Test func repliesWithoutLaterFieldsStillDecode() throws {
        let counts = #"{"services":3,"allocated":2,"announced":1,"ipvsServices":4,"ipvsDestinations":8}"#
        #expect(try JSONDecoder().decode(StatusCounts.self, from: Data(counts.utf8))
                    == StatusCounts(services: 3, allocated: 2, announced: 1, ipvsServices: 4, ipvsDestinations: 8))
        let row = #"{"namespace":"default","name":"web","type":"LoadBalancer","externalIPs":["192.0.2.10"],"#
            + #""announcingNodes":["n1"],"trafficPolicy":"Cluster","endpointsReady":2,"endpointsTotal":3,"ipvsDestinations":2}"#
        let decoded = try JSONDecoder().decode(ServiceRow.self, from: Data(row.utf8))
        #expect(decoded.drainingAddresses.isEmpty && decoded.pool == nil && decoded.problem == nil)
        #expect(decoded.externalIPs == [IPAddress("192.0.2.10")!] && decoded.endpointsTotal == 3)
        let full = ServiceRow(namespace: "a", name: "b", type: "LoadBalancer", externalIPs: [], pool: "p",
                              announcingNodes: [], drainingAddresses: [IPAddress("192.0.2.11")!], trafficPolicy: "Local",
                              endpointsReady: 0, endpointsTotal: 1, ipvsDestinations: 0, problem: "why")
        #expect(try JSONDecoder().decode(ServiceRow.self, from: JSONEncoder().encode(full)) == full)
    }

    /// Sends one raw line, returns the raw reply line.
    func rawExchange(path: String, line: String) throws -> String {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8)) }
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard rc == 0 else { throw POSIXError(.ECONNREFUSED) }
        let bytes = Array((line + "\n").utf8)
        _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
        var buffer = [UInt8](repeating: 0, count: 65536)
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_WAITALL)) }
        return String(decoding: buffer[0..<max(0, n)], as: UTF8.self)
    }
}

@Suite struct StatusTextTests {
    let now = StatusAPITests.when.addingTimeInterval(42)

    @Test func statusText() {
        #expect(StatusText.status(StatusAPITests.sampleStatus, now: now) == """
            ballastd on node1: degraded
              ! configuration is stale
            config      /etc/ballast/ballast.yaml (STALE, loaded 2023-11-14T22:13:20Z (42 s ago))
                        rejected reload: ballast.yaml:3: unknown key
            source      files /etc/ballast/services
            last sync   2023-11-14T22:13:20Z (42 s ago), resync, 12 ms, no errors
            last good   2023-11-14T22:13:20Z (42 s ago)
            services    2 handled, 1 with an address, 1 address announced by this node
            ipvs        2 virtual services, 3 destinations
            up since    2023-11-14T22:13:20Z (42 s ago)

            """)
    }

    @Test func servicesTableIsAlignedAndSorted() {
        let rows = [
            ServiceRow(namespace: "shop", name: "api", type: "LoadBalancer", externalIPs: [], pool: nil,
                       announcingNodes: [], trafficPolicy: "Local", endpointsReady: 0, endpointsTotal: 2,
                       ipvsDestinations: 0, problem: "pool \"public\" is exhausted"),
            ServiceRow(namespace: "default", name: "web", type: "LoadBalancer",
                       externalIPs: [IPAddress("192.0.2.10")!, IPAddress("2001:db8::10")!], pool: "public",
                       announcingNodes: ["node1"], trafficPolicy: "Cluster", endpointsReady: 3, endpointsTotal: 3,
                       ipvsDestinations: 6),
        ]
        #expect(StatusText.services(ServicesResponse(services: rows)) == """
            NAMESPACE   NAME   EXTERNAL-IP               POOL     ANNOUNCER   POLICY    READY   IPVS-DESTS   PROBLEM
            default     web    192.0.2.10,2001:db8::10   public   node1       Cluster   3/3     6
            shop        api    <pending>                 -        -           Local     0/2     0            pool "public" is exhausted

            """)
        #expect(StatusText.services(ServicesResponse(services: [])) == "No LoadBalancer Services handled by Ballast.\n")
    }

    @Test func anAddressAnsweredWhileItDrainsShowsAsDrainingNotAnnounced() {
        let row = ServiceRow(namespace: "default", name: "web", type: "LoadBalancer", externalIPs: [IPAddress("192.0.2.10")!],
                             pool: "public", announcingNodes: [], drainingAddresses: [IPAddress("192.0.2.10")!],
                             trafficPolicy: "Cluster", endpointsReady: 0, endpointsTotal: 1, ipvsDestinations: 1,
                             problem: "192.0.2.10 is not announced: no ready endpoints")
        #expect(StatusText.services(ServicesResponse(services: [row])) == """
            NAMESPACE   NAME   EXTERNAL-IP   POOL     ANNOUNCER   POLICY    READY   IPVS-DESTS   PROBLEM
            default     web    192.0.2.10    public   draining    Cluster   0/1     1            192.0.2.10 is not announced: no ready endpoints

            """)
        var status = StatusAPITests.sampleStatus
        status.counts.draining = 1
        #expect(StatusText.status(status, now: now).contains(
            "services    2 handled, 1 with an address, 1 address announced by this node, 1 answering ARP while connections drain\n"))
    }

    @Test func poolsTable() {
        let pools = PoolsResponse(pools: [
            PoolRow(name: "public", family: .ipv6, size: .max, inUse: 2, autoAssign: true),
            PoolRow(name: "public", family: .ipv4, size: 254, inUse: 2, autoAssign: true),
            PoolRow(name: "manual", family: .ipv4, size: 8, inUse: 0, autoAssign: false),
        ])
        #expect(StatusText.pools(pools) == """
            POOL     FAMILY   SIZE    IN-USE   FREE    AUTO-ASSIGN
            manual   IPv4     8       0        8       no
            public   IPv4     254     2        252     yes
            public   IPv6     2^64+   2        2^64+   yes

            """)
    }

    @Test func explainText() {
        #expect(StatusText.explain(ExplainResponse(service: "default/web", sentences: ["One.", "Two."])) == """
            default/web:
              One.
              Two.

            """)
    }

    @Test func ipvsText() {
        let r = IPVSResponse(observedAt: StatusAPITests.when, services: [
            IPVSServiceRow(service: "TCP 192.0.2.10:80", scheduler: .rr, owner: "default/web", destinations: [
                IPVSDestinationRow(address: "10.0.0.5:8080", forwarding: .masquerade, weight: 1, activeConnections: 12, inactiveConnections: 3),
                IPVSDestinationRow(address: "10.0.0.16:8080", forwarding: .masquerade, weight: 0, activeConnections: 1, inactiveConnections: 0),
            ]),
            IPVSServiceRow(service: "UDP 198.51.100.1:53", scheduler: .wrr, owner: nil, destinations: []),
        ])
        #expect(StatusText.ipvs(r, now: now) == """
            IPVS table as of 2023-11-14T22:13:20Z (42 s ago):
            TCP 192.0.2.10:80 rr  (default/web)
              -> 10.0.0.5:8080    masq   weight 1   active 12   inactive 3
              -> 10.0.0.16:8080   masq   weight 0   active 1    inactive 0
            UDP 198.51.100.1:53 wrr  (not Ballast's)

            """)
    }
}
