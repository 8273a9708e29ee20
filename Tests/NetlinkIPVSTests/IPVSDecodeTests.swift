// Decoding corner cases that the captured dumps do not show: 32-bit counters
// from kernels without STATS64, kernels without IPVS_DEST_ATTR_ADDR_FAMILY,
// values Ballast does not model, and malformed bytes.

import BallastCore
import Testing
@testable import NetlinkIPVS

@Suite struct IPVSDecodeTests {
    typealias S = IPVSKernel.StatsAttribute
    typealias D = IPVSKernel.DestinationAttribute

    /// A GET_DEST reply message built by hand; `body` writes the destination's attributes.
    private func destinationReply(_ body: (inout NetlinkMessageWriter) -> Void) -> [UInt8] {
        var writer = NetlinkMessageWriter()
        let message = writer.beginMessage(type: 32, flags: Netlink.multipart, sequence: 1,
                                          command: IPVSKernel.Command.newDestination, version: 1)
        let nest = writer.beginNested(IPVSKernel.CommandAttribute.destination)
        body(&writer)
        writer.endNested(startingAt: nest)
        writer.endMessage(startingAt: message)
        return writer.bytes
    }

    private func writeAddress(_ writer: inout NetlinkMessageWriter, _ address: String, port: UInt16) {
        writer.put(D.address, address: IPAddress(address)!, zeroPaddedTo: 16)
        writer.put(D.port, bigEndian: port)
    }

    private func writeStats(_ writer: inout NetlinkMessageWriter, _ type: UInt16, wide: Bool, base: UInt64) {
        let nest = writer.beginNested(type)
        let counters = [S.connections, S.inPackets, S.outPackets, S.connectionRate, S.inPacketRate,
                        S.outPacketRate, S.inByteRate, S.outByteRate]
        for (offset, counter) in counters.enumerated() {
            let value = base + UInt64(offset)
            if wide {
                writer.put(counter, UInt32(truncatingIfNeeded: value), UInt32(truncatingIfNeeded: value >> 32))
            } else {
                writer.put(counter, UInt32(truncatingIfNeeded: value))
            }
        }
        writer.put(S.inBytes, UInt32(truncatingIfNeeded: base << 8), UInt32(truncatingIfNeeded: base >> 24))
        writer.put(S.outBytes, UInt32(truncatingIfNeeded: base << 9), UInt32(truncatingIfNeeded: base >> 23))
        writer.endNested(startingAt: nest)
    }

    private func expectedStats(base: UInt64) -> IPVSStats {
        var stats = IPVSStats()
        stats.connections = base
        stats.inPackets = base + 1
        stats.outPackets = base + 2
        stats.cps = base + 3
        stats.inPPS = base + 4
        stats.outPPS = base + 5
        stats.inBPS = base + 6
        stats.outBPS = base + 7
        stats.inBytes = base << 8
        stats.outBytes = base << 9
        return stats
    }

    @Test func thirtyTwoBitCountersWhenThereIsNoStats64() throws {
        let bytes = destinationReply { writer in
            writeAddress(&writer, "10.0.0.1", port: 80)
            writeStats(&writer, D.stats, wide: false, base: 1000)
        }
        let decoded = try decodeDestination(bytes, serviceFamily: .ipv4)
        #expect(decoded.stats == expectedStats(base: 1000))
    }

    @Test func sixtyFourBitCountersWin() throws {
        let base: UInt64 = 5 << 32
        let bytes = destinationReply { writer in
            writeAddress(&writer, "10.0.0.1", port: 80)
            writeStats(&writer, D.stats, wide: false, base: 1000)
            writeStats(&writer, D.stats64, wide: true, base: base)
        }
        #expect(try decodeDestination(bytes, serviceFamily: .ipv4).stats == expectedStats(base: base))
    }

    @Test func withoutAddressFamilyTheServiceFamilyApplies() throws {
        let bytes = destinationReply { writer in
            writer.put(D.address, address: IPAddress("2001:db8::7")!, zeroPaddedTo: 16)
            writer.put(D.port, bigEndian: UInt16(8443))
            writer.put(D.forwardingMethod, UInt32(3))
            writer.put(D.activeConnections, UInt32(4))
            writer.put(D.inactiveConnections, UInt32(5))
            writer.put(D.persistentConnections, UInt32(6))
        }
        let decoded = try decodeDestination(bytes, serviceFamily: .ipv6)
        #expect(decoded.destination.endpoint == IPVSEndpoint(address: IPAddress("2001:db8::7")!, port: 8443))
        #expect(decoded.destination.forwarding == .directRoute)
        #expect(decoded.activeConnections == 4 && decoded.inactiveConnections == 5 && decoded.persistentConnections == 6)
        #expect(decoded.connectionCount == 15)
    }

    @Test func fourByteAddressesAreAccepted() throws {
        let bytes = destinationReply { writer in
            writer.put(D.address, address: IPAddress("10.1.2.3")!, zeroPaddedTo: 4)
            writer.put(D.port, bigEndian: UInt16(1))
        }
        #expect(try decodeDestination(bytes, serviceFamily: .ipv4).destination.address == IPAddress("10.1.2.3"))
    }

    @Test func unknownForwardingMethodIsNamed() throws {
        let bytes = destinationReply { writer in
            writeAddress(&writer, "10.0.0.1", port: 80)
            writer.put(D.forwardingMethod, UInt32(1))  // IP_VS_CONN_F_LOCALNODE, from old kernels
        }
        #expect(throws: IPVSDecodeError.unsupported(
            "destination 10.0.0.1:80 uses forwarding method 1; Ballast handles masq, route and tunnel")) {
            try decodeDestination(bytes, serviceFamily: .ipv4)
        }
    }

    @Test func unknownSchedulerIsNamed() throws {
        var writer = NetlinkMessageWriter()
        let message = writer.beginMessage(type: 32, flags: Netlink.multipart, sequence: 1,
                                          command: IPVSKernel.Command.newService, version: 1)
        let nest = writer.beginNested(IPVSKernel.CommandAttribute.service)
        writer.put(IPVSKernel.ServiceAttribute.addressFamily, UInt16(2))
        writer.put(IPVSKernel.ServiceAttribute.firewallMark, UInt32(3))
        writer.put(IPVSKernel.ServiceAttribute.schedulerName, string: "twos")
        writer.endNested(startingAt: nest)
        writer.endMessage(startingAt: message)
        let error = IPVSDecodeError.unsupported("service FWM 3 uses scheduler \"twos\", which Ballast does not know")
        #expect(throws: error) { try decodeService(writer.bytes) }
        #expect(error.ipvsError("dump services").description
                == "dump services: service FWM 3 uses scheduler \"twos\", which Ballast does not know")
    }

    @Test func truncatedAttributeIsMalformed() throws {
        let bytes = destinationReply { writer in
            writeAddress(&writer, "10.0.0.1", port: 80)
            writer.put(D.weight, UInt16(1))  // two bytes where the kernel sends a u32
        }
        #expect(throws: IPVSDecodeError.malformed(NetlinkWireError("attribute 4 has 2 bytes, expected 4"))) {
            try decodeDestination(bytes, serviceFamily: .ipv4)
        }
    }

    @Test func messageLongerThanTheDatagramStopsIteration() {
        var bytes = destinationReply { writeAddress(&$0, "10.0.0.1", port: 80) }
        bytes.removeLast(4)
        bytes.withUnsafeBytes { buffer in
            var iterator = NetlinkMessages(buffer).makeIterator()
            #expect(iterator.next() == nil)
            #expect(iterator.malformed != nil)
        }
    }
}
