// sockaddr construction for the daemon's sockets: AF_UNIX (status API,
// systemd notify) and AF_INET/AF_INET6 (the metrics listener on loopback).
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import BallastCore

/// An AF_UNIX address: a path, or an abstract name (Linux only) written with a
/// leading "@" as systemd writes $NOTIFY_SOCKET.
struct UnixSocketAddress: Sendable, Hashable, CustomStringConvertible {
    var path: String

    /// sun_path holds 108 bytes; a path needs one for its terminating NUL.
    static let capacity = MemoryLayout.size(ofValue: sockaddr_un().sun_path)

    init(path: String) throws(SystemCallError) {
        let bytes = path.utf8.count
        guard bytes > 0, path.hasPrefix("@") ? bytes <= Self.capacity : bytes < Self.capacity else {
            throw SystemCallError(operation: "socket address \(path)", errno: ENAMETOOLONG)
        }
        self.path = path
    }

    var isAbstract: Bool { path.hasPrefix("@") }
    var description: String { path }

    /// Calls `body` with the sockaddr and its exact length. For an abstract
    /// name the length counts no trailing NUL: the kernel compares all
    /// `length` bytes, so a NUL too many names a different socket.
    @discardableResult
    func withSockaddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) throws(SystemCallError) -> R) throws(SystemCallError) -> R {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var name = Array(path.utf8)
        if isAbstract { name[0] = 0 }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: name)
        }
        let pathOffset = MemoryLayout<sockaddr_un>.offset(of: \.sun_path)!
        let length = socklen_t(pathOffset + name.count + (isAbstract ? 0 : 1))
        return try withUnsafePointer(to: &address) { pointer throws(SystemCallError) in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa throws(SystemCallError) in
                try body(sa, length)
            }
        }
    }
}

/// An IP address and TCP port to listen on ("127.0.0.1:9734", "[::1]:9734").
public struct ListenAddress: Sendable, Hashable, CustomStringConvertible {
    public var address: IPAddress
    public var port: UInt16

    public init(address: IPAddress, port: UInt16) {
        self.address = address
        self.port = port
    }

    /// Parses "host:port" where host is a literal address; IPv6 goes in brackets.
    public init?(parsing text: String) {
        let host: Substring
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"),
                  text[text.index(after: close)...].hasPrefix(":") else { return nil }
            host = text[text.index(after: text.startIndex)..<close]
            portText = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":") else { return nil }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
            // An unbracketed IPv6 address is ambiguous ("::1:80").
            guard !host.contains(":") else { return nil }
        }
        guard let address = IPAddress(String(host)),
              !portText.isEmpty, portText.allSatisfy({ $0.isASCII && $0.isNumber }),
              let port = UInt16(portText) else { return nil }
        self.init(address: address, port: port)
    }

    public var description: String { address.withPort(port) }

    @discardableResult
    func withSockaddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) throws(SystemCallError) -> R) throws(SystemCallError) -> R {
        switch address {
        case .v4(let v4):
            var sa = sockaddr_in()
            sa.sin_family = sa_family_t(AF_INET)
            sa.sin_port = port.bigEndian
            sa.sin_addr.s_addr = v4.value.bigEndian
            return try withUnsafePointer(to: &sa) { p throws(SystemCallError) in
                try p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sp throws(SystemCallError) in
                    try body(sp, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        case .v6(let v6):
            var sa = sockaddr_in6()
            sa.sin6_family = sa_family_t(AF_INET6)
            sa.sin6_port = port.bigEndian
            withUnsafeMutableBytes(of: &sa.sin6_addr) { $0.copyBytes(from: v6.bytes) }
            return try withUnsafePointer(to: &sa) { p throws(SystemCallError) in
                try p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sp throws(SystemCallError) in
                    try body(sp, socklen_t(MemoryLayout<sockaddr_in6>.size))
                }
            }
        }
    }
}
