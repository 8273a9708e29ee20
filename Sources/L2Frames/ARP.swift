import BallastCore

public enum ARPOperation: UInt16, Sendable, Hashable {
    case request = 1
    case reply = 2
}

/// An ARP packet for IPv4 over Ethernet (RFC 826), the only kind Ballast
/// speaks: hardware type 1, protocol 0x0800, address lengths 6 and 4.
public struct ARPPacket: Sendable, Hashable {
    public static let length = 28

    public var operation: ARPOperation
    public var senderMAC: MACAddress
    public var senderIP: IPv4Address
    public var targetMAC: MACAddress
    public var targetIP: IPv4Address

    public init(operation: ARPOperation, senderMAC: MACAddress, senderIP: IPv4Address,
                targetMAC: MACAddress, targetIP: IPv4Address) {
        self.operation = operation
        self.senderMAC = senderMAC
        self.senderIP = senderIP
        self.targetMAC = targetMAC
        self.targetIP = targetIP
    }

    /// Decodes the first 28 bytes; trailing bytes are Ethernet padding.
    public init(decoding bytes: [UInt8]) throws(DropReason) {
        var r = ByteReader(bytes)
        guard let htype = r.u16(), let ptype = r.u16(), let hlen = r.u8(), let plen = r.u8(),
              let op = r.u16() else { throw .truncatedARP }
        guard htype == 1 else { throw .arpHardwareType }
        guard ptype == EtherType.ipv4 else { throw .arpProtocolType }
        guard hlen == 6 else { throw .arpHardwareLength }
        guard plen == 4 else { throw .arpProtocolLength }
        guard let sha = r.take(6), let spa = r.take(4), let tha = r.take(6), let tpa = r.take(4) else {
            throw .truncatedARP
        }
        guard let operation = ARPOperation(rawValue: op) else { throw .arpOperation }
        self.operation = operation
        senderMAC = MACAddress(bytes: sha)!
        senderIP = IPv4Address(bytes: spa)!
        targetMAC = MACAddress(bytes: tha)!
        targetIP = IPv4Address(bytes: tpa)!
    }

    public func encode() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(Self.length)
        out.append(u16: 1)
        out.append(u16: EtherType.ipv4)
        out += [6, 4]
        out.append(u16: operation.rawValue)
        out += senderMAC.bytes + senderIP.bytes + targetMAC.bytes + targetIP.bytes
        return out
    }

    /// Wrapped in a padded Ethernet frame from `source` to `destination`.
    public func frame(from source: MACAddress, to destination: MACAddress) -> [UInt8] {
        EthernetFrame(destination: destination, source: source, etherType: EtherType.arp, payload: encode())
            .encode(padded: true)
    }
}

extension IPv4Address {
    /// Addresses that never legitimately send ARP: 0.0.0.0/8 aside from the
    /// all-zero probe sender, loopback, multicast and limited broadcast.
    var isInvalidARPSender: Bool {
        let first = value >> 24
        return first == 127 || (224...255).contains(first) || (first == 0 && value != 0)
    }
}
