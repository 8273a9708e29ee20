import BallastCore
@testable import Daemon
import Foundation
import Prometheus
import Testing

@Suite struct MetricsTests {
    @Test func exposesTheDocumentedNamesWithBoundedLabels() {
        let registry = PrometheusCollectorRegistry()
        let metrics = BallastMetrics(factory: PrometheusMetricsFactory(registry: registry))
        metrics.update(pools: [PoolRow(name: "public", family: .ipv4, size: 254, inUse: 3, autoAssign: true),
                               PoolRow(name: "old", family: .ipv6, size: 16, inUse: 0, autoAssign: true)])
        metrics.record(servicesAllocated: 3)
        metrics.record(announcedAddresses: 2)
        metrics.recordIPVSSync(duration: .milliseconds(12), operations: [.addService: 2, .addDestination: 5], errors: 1)
        metrics.record(successfulSyncAt: Date(timeIntervalSince1970: 1_700_000_000))
        metrics.record(configStale: true)
        // A reload removes pool "old": its series go away.
        metrics.update(pools: [PoolRow(name: "public", family: .ipv4, size: 254, inUse: 4, autoAssign: true)])

        let text = registry.emitToString()
        let lines = Set(text.split(separator: "\n").map(String.init))
        for expected in [
            #"ballast_pool_addresses{pool="public",family="ipv4"} 254.0"#,
            #"ballast_pool_addresses_in_use{pool="public",family="ipv4"} 4.0"#,
            "ballast_services_allocated 3.0",
            "ballast_announced_addresses 2.0",
            #"ballast_ipvs_operations_total{op="add_service"} 2"#,
            #"ballast_ipvs_operations_total{op="add_destination"} 5"#,
            #"ballast_ipvs_operations_total{op="delete_service"} 0"#,
            "ballast_ipvs_errors_total 1",
            "ballast_ipvs_sync_duration_seconds_count 1",
            "ballast_last_successful_sync_timestamp_seconds 1700000000.0",
            "ballast_config_stale 1.0",
        ] {
            #expect(lines.contains(expected), "missing \(expected) in:\n\(text)")
        }
        #expect(!text.contains(#"pool="old""#))
    }

    @Test(arguments: [
        ("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.0 200 OK", true),
        ("GET /metrics?x=1 HTTP/1.0\r\n\r\n", "HTTP/1.0 200 OK", true),
        ("HEAD /metrics HTTP/1.0\r\n\r\n", "HTTP/1.0 200 OK", false),
        ("GET / HTTP/1.1\r\n\r\n", "HTTP/1.0 404 Not Found", false),
        ("POST /metrics HTTP/1.1\r\n\r\n", "HTTP/1.0 405 Method Not Allowed", false),
        ("garbage\r\n\r\n", "HTTP/1.0 400 Bad Request", false),
    ])
    func httpResponses(request: String, status: String, hasBody: Bool) {
        let response = String(decoding: MetricsServer.respond(to: Array(request.utf8)) { Array("m 1\n".utf8) }, as: UTF8.self)
        #expect(response.hasPrefix(status + "\r\n"))
        #expect(response.hasSuffix("\r\n\r\nm 1\n") == hasBody)
        if status.hasSuffix("200 OK") {
            #expect(response.contains("Content-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: 4\r\n"))
        }
    }

    @Test func servesOverLoopback() throws {
        // Port 0: the kernel picks a free one; read it back to connect.
        let server = try MetricsServer(address: ListenAddress(parsing: "127.0.0.1:0")!, logger: quietLogger) {
            Array("ballast_config_stale 0.0\n".utf8)
        }
        defer { server.stop() }
        let port = try #require(server.boundPort)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var sa = sockaddr_in()
        sa.sin_family = sa_family_t(AF_INET)
        sa.sin_port = port.bigEndian
        sa.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        let rc = withUnsafePointer(to: &sa) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        #expect(rc == 0)
        let request = Array("GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n".utf8)
        _ = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_WAITALL)) }
        let text = String(decoding: buffer[0..<max(0, n)], as: UTF8.self)
        #expect(text.hasPrefix("HTTP/1.0 200 OK\r\n"))
        #expect(text.hasSuffix("\r\n\r\nballast_config_stale 0.0\n"))
    }

    @Test(arguments: [
        ("127.0.0.1:9734", "127.0.0.1:9734"), ("[::1]:9734", "[::1]:9734"), ("0.0.0.0:80", "0.0.0.0:80"),
    ])
    func listenAddresses(text: String, parsed: String) {
        #expect(ListenAddress(parsing: text)?.description == parsed)
    }

    @Test(arguments: ["localhost:9734", "::1:9734", "127.0.0.1", "127.0.0.1:", "127.0.0.1:70000", "[::1]9734"])
    func badListenAddresses(text: String) {
        #expect(ListenAddress(parsing: text) == nil)
    }
}
