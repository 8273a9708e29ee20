// Loads the netlink traffic of ipvsadm captured in the kernel VM (see
// Fixtures/README.md) and takes messages apart independently of the code
// under test, so that a comparison does not trust the parser it checks.

import BallastCore
import Foundation
import Testing
@testable import NetlinkIPVS

struct Fixture {
    /// The ipvsadm command line the traffic belongs to.
    var command = ""
    /// Messages ipvsadm sent, in order.
    var requests: [[UInt8]] = []
    /// Messages the kernel sent back, in order.
    var replies: [[UInt8]] = []
    /// What ipvsadm printed.
    var output: [String] = []

    init(_ name: String) throws {
        let url = try #require(Bundle.module.url(forResource: name, withExtension: "txt", subdirectory: "Fixtures"),
                               "fixture \(name).txt")
        for line in try String(contentsOf: url, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("#| ") {
                output.append(String(line.dropFirst(3)))
            } else if line.hasPrefix("# ") {
                command = String(line.dropFirst(2))
            } else if line.hasPrefix("> ") {
                requests.append(try Self.bytes(line.dropFirst(2)))
            } else if line.hasPrefix("< ") {
                replies.append(try Self.bytes(line.dropFirst(2)))
            }
        }
    }

    /// The one request of a single-operation capture.
    var request: [UInt8] {
        get throws { try #require(requests.count == 1 ? requests[0] : nil, "one request in \(command)") }
    }

    private static func bytes(_ hex: Substring) throws -> [UInt8] {
        let digits = Array(hex.utf8)
        try #require(digits.count % 2 == 0)
        return try stride(from: 0, to: digits.count, by: 2).map { index in
            try #require(UInt8(String(decoding: digits[index..<index + 2], as: UTF8.self), radix: 16))
        }
    }
}

/// A message taken apart by hand: header fields and the attribute tree.
struct WireMessage: Equatable, CustomStringConvertible {
    var type: UInt16
    var flags: UInt16
    var sequence: UInt32
    var command: UInt8
    var version: UInt8
    /// Top-level attributes; nests hold their own attributes as children.
    var attributes: [WireAttribute]

    init(_ bytes: [UInt8]) throws {
        try #require(bytes.count >= 20)
        try #require(Int(Self.u32(bytes, 0)) == bytes.count, "nlmsg_len matches the bytes")
        type = Self.u16(bytes, 4)
        flags = Self.u16(bytes, 6)
        sequence = Self.u32(bytes, 8)
        command = bytes[16]
        version = bytes[17]
        attributes = try WireAttribute.parse(bytes[20...])
    }

    var description: String { "type \(type) flags \(flags) cmd \(command) \(attributes)" }

    static func u16(_ b: [UInt8], _ at: Int) -> UInt16 { UInt16(b[at]) | UInt16(b[at + 1]) << 8 }
    static func u32(_ b: [UInt8], _ at: Int) -> UInt32 { UInt32(u16(b, at)) | UInt32(u16(b, at + 2)) << 16 }

    /// The children of the top-level nest of `type` (IPVS_CMD_ATTR_SERVICE or _DEST).
    func nest(_ type: UInt16) -> [WireAttribute]? {
        attributes.first { $0.type & 0x3fff == type }?.children
    }

    /// The service a request names, read straight from IPVS_CMD_ATTR_SERVICE:
    /// AF (1), PROTOCOL (2), ADDR (3), PORT (4, big-endian), FWMARK (5).
    func serviceKey() throws -> VirtualServiceKey {
        let service = try #require(nest(1), "a service nest")
        func payload(_ type: UInt16) throws -> [UInt8] {
            try #require(service.first { $0.type == type }?.payload, "attribute \(type)")
        }
        let family: AddressFamily = WireMessage.u16(try payload(1), 0) == 2 ? .ipv4 : .ipv6
        if service.contains(where: { $0.type == 5 }) {
            return .firewallMark(WireMessage.u32(try payload(5), 0), family: family)
        }
        let address = try #require(IPAddress(bytes: try payload(3).prefix(family == .ipv4 ? 4 : 16)))
        let port = try payload(4)
        let proto = try #require(IPVSProtocol(number: WireMessage.u16(try payload(2), 0)))
        return .address(address, port: UInt16(port[0]) << 8 | UInt16(port[1]), protocol: proto)
    }
}

struct WireAttribute: Equatable, CustomStringConvertible {
    var type: UInt16
    var payload: [UInt8]
    var children: [WireAttribute]?

    static func parse(_ bytes: ArraySlice<UInt8>) throws -> [WireAttribute] {
        var result: [WireAttribute] = []
        var offset = bytes.startIndex
        while offset < bytes.endIndex {
            let length = Int(UInt16(bytes[offset]) | UInt16(bytes[offset + 1]) << 8)
            let type = UInt16(bytes[offset + 2]) | UInt16(bytes[offset + 3]) << 8
            try #require(length >= 4 && offset + length <= bytes.endIndex, "attribute fits")
            let payload = Array(bytes[(offset + 4)..<(offset + length)])
            // The IPVS command nests (types 1 and 2) are the only nests in requests.
            let children = type & 0x8000 != 0 ? try parse(payload[...]) : nil
            result.append(WireAttribute(type: type, payload: payload, children: children))
            offset += (length + 3) & ~3
        }
        return result
    }

    var description: String { "\(type & 0x3fff):\(payload.map { String($0, radix: 16) }.joined(separator: " "))" }
}

/// Runs `body` on each message the module's own parser finds in `bytes`.
func withMessages(_ bytes: [UInt8], _ body: (NetlinkMessage) throws -> Void) throws {
    try bytes.withUnsafeBytes { buffer in
        var iterator = NetlinkMessages(buffer).makeIterator()
        while let message = iterator.next() { try body(message) }
        #expect(iterator.malformed == nil)
    }
}

/// The bytes with the nlmsg_pid field cleared: ipvsadm sends its port id, Ballast 0.
func clearingPortID(_ bytes: [UInt8]) -> [UInt8] {
    var copy = bytes
    copy.replaceSubrange(12..<16, with: [0, 0, 0, 0])
    return copy
}
