// GET /metrics over a plain TCP socket: Prometheus needs no more than
// HTTP/1.0 with Content-Length and a closed connection, and a scrape every
// few seconds does not justify an event-loop library in a network daemon.
// Loopback by default: the metrics name pools and counts, nothing secret, but
// exposing them is the operator's choice (config metricsAddress).
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Logging

public final class MetricsServer: Sendable {
    public let address: ListenAddress
    /// The port actually bound (differs from `address.port` when that is 0).
    public let boundPort: UInt16?
    private let listener: SocketListener

    /// Listens on `address` and answers with `exposition()` (text format 0.0.4).
    public init(address: ListenAddress, logger: Logger,
                exposition: @escaping @Sendable () -> [UInt8]) throws(SystemCallError) {
        self.address = address
        let family = address.address.family == .ipv4 ? AF_INET : AF_INET6
        let fd = try systemCall("socket for metrics on \(address)") {
            socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        }
        do {
            var one: Int32 = 1
            // A restarted daemon must rebind while old connections sit in TIME_WAIT.
            _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
            if family == AF_INET6 {
                // "[::]:9734" should not silently also take IPv4's port.
                _ = setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &one, socklen_t(MemoryLayout<Int32>.size))
            }
            try address.withSockaddr { sa, length throws(SystemCallError) in
                try systemCall("bind metrics to \(address)") { bind(fd, sa, length) }
            }
            try systemCall("listen for metrics on \(address)") { listen(fd, 16) }
            boundPort = Self.localPort(fd)
            listener = try SocketListener(name: "metrics", listening: fd)
        } catch {
            closeDescriptor(fd)
            throw error
        }
        listener.start(logger: logger) { connection in
            guard let request = readMessage(connection, until: Array("\r\n\r\n".utf8), limit: 8192)
                    ?? readMessage(connection, until: Array("\n\n".utf8), limit: 8192) else { return }
            let response = Self.respond(to: request, exposition: exposition)
            try? writeAll(connection, response, what: "metrics response")
        }
    }

    public func stop() { listener.stop() }

    static func localPort(_ fd: Int32) -> UInt16? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let rc = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard rc == 0 else { return nil }
        return withUnsafeBytes(of: storage) { raw in
            // sin_port and sin6_port sit at the same offset, in network byte order.
            UInt16(bigEndian: raw.loadUnaligned(fromByteOffset: MemoryLayout<sockaddr_in>.offset(of: \.sin_port)!, as: UInt16.self))
        }
    }

    /// The whole HTTP exchange as a pure function of the request bytes.
    static func respond(to request: [UInt8], exposition: () -> [UInt8]) -> [UInt8] {
        let firstLine = request.split(separator: UInt8(ascii: "\n"), maxSplits: 1).first.map {
            String(decoding: $0, as: UTF8.self).trimmingTrailingCarriageReturn()
        } ?? ""
        let parts = firstLine.split(separator: " ")
        guard parts.count == 3, parts[2].hasPrefix("HTTP/") else {
            return response(400, "Bad Request", body: Array("bad request\n".utf8))
        }
        let target = parts[1].split(separator: "?", maxSplits: 1).first.map(String.init) ?? ""
        guard target == "/metrics" else {
            return response(404, "Not Found", body: Array("not found: try /metrics\n".utf8))
        }
        switch parts[0] {
        case "GET": return response(200, "OK", body: exposition(), contentType: "text/plain; version=0.0.4; charset=utf-8")
        case "HEAD": return response(200, "OK", body: exposition(), contentType: "text/plain; version=0.0.4; charset=utf-8", head: true)
        default: return response(405, "Method Not Allowed", body: Array("only GET\n".utf8), extra: "Allow: GET, HEAD\r\n")
        }
    }

    static func response(_ code: Int, _ reason: String, body: [UInt8], contentType: String = "text/plain; charset=utf-8",
                         extra: String = "", head: Bool = false) -> [UInt8] {
        let header = "HTTP/1.0 \(code) \(reason)\r\nContent-Type: \(contentType)\r\nContent-Length: \(body.count)\r\n"
            + extra + "Connection: close\r\n\r\n"
        return Array(header.utf8) + (head ? [] : body)
    }
}

extension String {
    func trimmingTrailingCarriageReturn() -> String {
        hasSuffix("\r") ? String(dropLast()) : self
    }
}
