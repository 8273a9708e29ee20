// Generic netlink messages as bytes: a writer that appends messages back to
// back (one buffer is one sendmsg batch) and read-only views that walk the
// messages and attributes of a received buffer. Nothing here knows IPVS.
//
// Integers are written in host order, netlink's own byte order; attributes
// that the kernel reads as __be16/__be32 are written with `bigEndian:`.

import BallastCore

/// Appends generic netlink messages to one growing buffer.
struct NetlinkMessageWriter {
    private(set) var bytes: [UInt8] = []

    init(capacity: Int = 0) {
        bytes.reserveCapacity(capacity)
    }

    var count: Int { bytes.count }

    mutating func removeAll() {
        bytes.removeAll(keepingCapacity: true)
    }

    /// Writes nlmsghdr and genlmsghdr; returns the message's start for `endMessage(startingAt:)`.
    /// The port id is left 0: the kernel knows who sent the message.
    mutating func beginMessage(type: UInt16, flags: UInt16, sequence: UInt32,
                               command: UInt8, version: UInt8) -> Int {
        let start = bytes.count
        append(UInt32(0))  // length, patched by endMessage
        append(type)
        append(flags)
        append(sequence)
        append(UInt32(0))
        bytes.append(command)
        bytes.append(version)
        append(UInt16(0))
        return start
    }

    mutating func endMessage(startingAt start: Int) {
        patchLength(at: start, as: UInt32.self)
    }

    /// Opens a nested attribute, flagged NLA_F_NESTED as libnl does.
    mutating func beginNested(_ type: UInt16) -> Int {
        let start = bytes.count
        append(UInt16(0))  // length, patched by endNested
        append(type | Netlink.nestedFlag)
        return start
    }

    mutating func endNested(startingAt start: Int) {
        patchLength(at: start, as: UInt16.self)
    }

    mutating func put(_ type: UInt16, _ value: UInt8) {
        putHeader(type, payloadLength: 1)
        bytes.append(value)
        pad()
    }

    mutating func put(_ type: UInt16, _ value: UInt16) {
        putHeader(type, payloadLength: 2)
        append(value)
        pad()
    }

    mutating func put(_ type: UInt16, bigEndian value: UInt16) {
        put(type, value.bigEndian)
    }

    mutating func put(_ type: UInt16, _ value: UInt32) {
        putHeader(type, payloadLength: 4)
        append(value)
    }

    mutating func put(_ type: UInt16, bigEndian value: UInt32) {
        put(type, value.bigEndian)
    }

    /// Two u32 fields in a row: a C struct of two __u32, such as struct ip_vs_flags.
    mutating func put(_ type: UInt16, _ first: UInt32, _ second: UInt32) {
        putHeader(type, payloadLength: 8)
        append(first)
        append(second)
    }

    /// An address in network byte order followed by zeros up to `length`
    /// bytes, as in a C union such as union nf_inet_addr.
    mutating func put(_ type: UInt16, address: IPAddress, zeroPaddedTo length: Int) {
        putHeader(type, payloadLength: length)
        let width: Int
        switch address {
        case .v4(let v4):
            append(v4.value.bigEndian)
            width = 4
        case .v6(let v6):
            append(v6.high.bigEndian)
            append(v6.low.bigEndian)
            width = 16
        }
        precondition(width <= length)
        bytes.append(contentsOf: repeatElement(0, count: length - width))
        pad()
    }

    /// A NUL-terminated string (NLA_NUL_STRING).
    mutating func put(_ type: UInt16, string: String) {
        let utf8 = string.utf8
        putHeader(type, payloadLength: utf8.count + 1)
        bytes.append(contentsOf: utf8)
        bytes.append(0)
        pad()
    }

    private mutating func putHeader(_ type: UInt16, payloadLength: Int) {
        append(UInt16(Netlink.attributeHeaderLength + payloadLength))
        append(type)
    }

    private mutating func append<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value) { bytes.append(contentsOf: $0) }
    }

    /// Netlink aligns every message and attribute to 4 bytes (NLA_ALIGNTO).
    private mutating func pad() {
        while bytes.count % 4 != 0 { bytes.append(0) }
    }

    private mutating func patchLength<T: FixedWidthInteger>(at start: Int, as: T.Type) {
        let length = T(bytes.count - start)
        bytes.withUnsafeMutableBytes { $0.storeBytes(of: length, toByteOffset: start, as: T.self) }
    }
}

/// A reply that does not parse as netlink: names what was wrong.
struct NetlinkWireError: Error, Hashable, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// One message inside a received buffer. Borrowed: valid only while the buffer is.
struct NetlinkMessage {
    let type: UInt16
    let flags: UInt16
    let sequence: UInt32
    /// Everything after nlmsghdr.
    let payload: UnsafeRawBufferPointer

    /// For NLMSG_ERROR and NLMSG_DONE: the positive errno, 0 for a success ack.
    func errorNumber() throws(NetlinkWireError) -> Int32 {
        // NLMSG_DONE of a dump carries the dump's final status; an old kernel may omit it.
        if type == Netlink.done && payload.count < 4 { return 0 }
        guard payload.count >= 4 else { throw NetlinkWireError("error message of \(payload.count) bytes") }
        let code = payload.loadUnaligned(as: Int32.self)
        return code == Int32.min ? Int32.max : -code
    }

    /// For a generic netlink message: the command of genlmsghdr.
    func command() throws(NetlinkWireError) -> UInt8 {
        guard payload.count >= Netlink.genericHeaderLength else {
            throw NetlinkWireError("generic netlink message of \(payload.count) bytes")
        }
        return payload[0]
    }

    /// For a generic netlink message: the attributes after genlmsghdr.
    func attributes() throws(NetlinkWireError) -> NetlinkAttributes {
        guard payload.count >= Netlink.genericHeaderLength else {
            throw NetlinkWireError("generic netlink message of \(payload.count) bytes")
        }
        return NetlinkAttributes(UnsafeRawBufferPointer(rebasing: payload[Netlink.genericHeaderLength...]))
    }
}

/// The messages of one received datagram, in order.
struct NetlinkMessages: Sequence {
    let buffer: UnsafeRawBufferPointer

    init(_ buffer: UnsafeRawBufferPointer) { self.buffer = buffer }

    func makeIterator() -> Iterator { Iterator(buffer: buffer) }

    struct Iterator: IteratorProtocol {
        let buffer: UnsafeRawBufferPointer
        var offset = 0
        /// Set when iteration stopped at bytes that are not a whole message.
        private(set) var malformed: NetlinkWireError?

        init(buffer: UnsafeRawBufferPointer) { self.buffer = buffer }

        mutating func next() -> NetlinkMessage? {
            guard malformed == nil, buffer.count - offset >= Netlink.headerLength else { return nil }
            let length = Int(buffer.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
            guard length >= Netlink.headerLength, length <= buffer.count - offset else {
                malformed = NetlinkWireError(
                    "message of length \(length) at offset \(offset) of a \(buffer.count)-byte datagram")
                return nil
            }
            let message = NetlinkMessage(
                type: buffer.loadUnaligned(fromByteOffset: offset + 4, as: UInt16.self),
                flags: buffer.loadUnaligned(fromByteOffset: offset + 6, as: UInt16.self),
                sequence: buffer.loadUnaligned(fromByteOffset: offset + 8, as: UInt32.self),
                payload: UnsafeRawBufferPointer(rebasing: buffer[(offset + Netlink.headerLength)..<(offset + length)]))
            offset += (length + 3) & ~3
            return message
        }
    }
}

/// The attributes of a message or of a nested attribute.
struct NetlinkAttributes: Sequence {
    let buffer: UnsafeRawBufferPointer

    init(_ buffer: UnsafeRawBufferPointer) { self.buffer = buffer }

    func makeIterator() -> Iterator { Iterator(buffer: buffer) }

    struct Iterator: IteratorProtocol {
        let buffer: UnsafeRawBufferPointer
        var offset = 0

        /// Stops at the first attribute whose length does not fit, as nla_for_each_attr does.
        mutating func next() -> NetlinkAttribute? {
            guard buffer.count - offset >= Netlink.attributeHeaderLength else { return nil }
            let length = Int(buffer.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
            guard length >= Netlink.attributeHeaderLength, length <= buffer.count - offset else { return nil }
            let type = buffer.loadUnaligned(fromByteOffset: offset + 2, as: UInt16.self)
            let payload = UnsafeRawBufferPointer(
                rebasing: buffer[(offset + Netlink.attributeHeaderLength)..<(offset + length)])
            offset += (length + 3) & ~3
            return NetlinkAttribute(type: type & Netlink.attributeTypeMask, payload: payload)
        }
    }
}

struct NetlinkAttribute {
    /// The type with NLA_F_NESTED and NLA_F_NET_BYTEORDER cleared.
    let type: UInt16
    let payload: UnsafeRawBufferPointer

    var nested: NetlinkAttributes { NetlinkAttributes(payload) }

    func u8() throws(NetlinkWireError) -> UInt8 { try integer() }
    func u16() throws(NetlinkWireError) -> UInt16 { try integer() }
    func u32() throws(NetlinkWireError) -> UInt32 { try integer() }
    func bigEndianU16() throws(NetlinkWireError) -> UInt16 { UInt16(bigEndian: try integer()) }
    func bigEndianU32() throws(NetlinkWireError) -> UInt32 { UInt32(bigEndian: try integer()) }

    /// A counter that the kernel sends as u32 in one nest and u64 in another.
    func unsigned() throws(NetlinkWireError) -> UInt64 {
        switch payload.count {
        case 4: UInt64(payload.loadUnaligned(as: UInt32.self))
        case 8: payload.loadUnaligned(as: UInt64.self)
        default: throw NetlinkWireError("attribute \(type) has \(payload.count) bytes, expected 4 or 8")
        }
    }

    /// The text before the first NUL.
    func string() -> String {
        let end = payload.firstIndex(of: 0) ?? payload.endIndex
        return String(decoding: payload[..<end], as: UTF8.self)
    }

    private func integer<T: FixedWidthInteger>() throws(NetlinkWireError) -> T {
        guard payload.count >= MemoryLayout<T>.size else {
            throw NetlinkWireError("attribute \(type) has \(payload.count) bytes, expected \(MemoryLayout<T>.size)")
        }
        return payload.loadUnaligned(as: T.self)
    }
}
