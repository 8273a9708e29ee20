// The netlink framing itself: lengths, padding, nesting, host byte order.

import Testing
@testable import NetlinkIPVS

@Suite struct NetlinkWireTests {
    @Test func messageHeaderLengthAndPadding() throws {
        var writer = NetlinkMessageWriter()
        let start = writer.beginMessage(type: 0x20, flags: 0x0305, sequence: 0x0102_0304, command: 4, version: 1)
        writer.put(7, string: "rr")
        writer.endMessage(startingAt: start)
        #expect(writer.bytes == [
            0x1c, 0, 0, 0, 0x20, 0, 0x05, 0x03, 0x04, 0x03, 0x02, 0x01, 0, 0, 0, 0,
            4, 1, 0, 0,
            7, 0, 7, 0, 0x72, 0x72, 0, 0,  // nla_len 7 counts "rr\0", then one byte of padding
        ])
    }

    @Test func nestedLengthsAndByteOrder() throws {
        var writer = NetlinkMessageWriter()
        let nest = writer.beginNested(1)
        writer.put(4, bigEndian: UInt16(80))
        writer.put(9, bigEndian: UInt32(0xffff_ff00))
        writer.put(2, UInt16(6))
        writer.endNested(startingAt: nest)
        #expect(writer.bytes == [
            28, 0, 0x01, 0x80,
            6, 0, 4, 0, 0x00, 0x50, 0, 0,
            8, 0, 9, 0, 0xff, 0xff, 0xff, 0x00,
            6, 0, 2, 0, 6, 0, 0, 0,
        ])
    }

    @Test func severalMessagesShareOneBuffer() throws {
        var writer = NetlinkMessageWriter()
        for sequence: UInt32 in 1...3 {
            let start = writer.beginMessage(type: 0x20, flags: 5, sequence: sequence, command: 1, version: 1)
            writer.put(1, UInt8(sequence))
            writer.endMessage(startingAt: start)
        }
        var sequences: [UInt32] = []
        try withMessages(writer.bytes) { message in
            sequences.append(message.sequence)
            let attribute = try #require(try message.attributes().first { _ in true })
            #expect(try attribute.u8() == UInt8(message.sequence))
        }
        #expect(sequences == [1, 2, 3])
    }

    @Test(arguments: [(0, UInt32(0)), (1, 0x8000_0000), (24, 0xffff_ff00), (32, 0xffff_ffff)])
    func ipv4Masks(_ prefix: Int, _ mask: UInt32) {
        #expect(IPVSRequestEncoder.ipv4Mask(prefix: prefix) == mask)
    }
}
