// libFuzzer entry point for L2Frames: every decoder and the responder must
// turn any byte string into a value or a drop reason, never a trap, and what
// they produce must survive a round trip. Built by scripts/fuzz/run, outside
// the package build.
import BallastCore
import L2Frames

private let ourMAC = MACAddress(0x02, 0, 0, 0, 0, 0x01)
private let otherMAC = MACAddress(0x02, 0, 0, 0, 0, 0x02)
private let contexts = [
    ResponderContext(mac: ourMAC, announced: [
        IPAddress("198.51.100.1")!, IPAddress("198.51.100.2")!,
        IPAddress("2001:db8:1::1")!, IPAddress("2001:db8:1::2")!, IPAddress("fe80::ff:fe00:2")!,
    ]),
    ResponderContext(mac: otherMAC, announced: [], ownMACs: [ourMAC]),
]

private func check(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { fatalError(message()) }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))

    for context in contexts {
        switch respond(to: bytes, context: context) {
        case .reply(let reply):
            // Whatever we send must itself be a well-formed answer.
            guard let frame = try? EthernetFrame(decoding: reply.frame) else { fatalError("undecodable reply") }
            check(frame.source == context.mac, "reply not from our MAC")
            if frame.etherType == EtherType.arp {
                let arp = try? ARPPacket(decoding: frame.payload)
                check(arp?.operation == .reply && arp.map { IPAddress.v4($0.senderIP) } == reply.address,
                      "bad ARP reply")
            } else {
                let packet = try? IPv6Packet(decoding: frame.payload)
                guard let packet, case .advertisement(let na)? = try? NDPMessage(validating: packet) else {
                    fatalError("reply is not a valid neighbour advertisement")
                }
                check(na.override && IPAddress.v6(na.target) == reply.address, "bad NA")
            }
        case .conflict(let conflict):
            check(!context.ownMACs.contains(conflict.mac), "conflict with our own MAC")
        case .drop:
            break
        }
    }

    if let frame = try? EthernetFrame(decoding: bytes) {
        check(frame.encode() == bytes, "Ethernet round trip")
    }
    if let arp = try? ARPPacket(decoding: bytes) {
        check((try? ARPPacket(decoding: arp.encode())) == arp, "ARP round trip")
    }
    if let packet = try? IPv6Packet(decoding: bytes) {
        check((try? IPv6Packet(decoding: packet.encode())) == packet, "IPv6 round trip")
        if let message = try? NDPMessage(validating: packet) {
            var again = packet
            again.payload = message.encode(source: packet.source, destination: packet.destination)
            check((try? NDPMessage(validating: again)) == message, "NDP round trip")
        }
    }
    return 0
}
