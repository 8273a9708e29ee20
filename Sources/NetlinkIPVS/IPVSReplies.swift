// IPVS dump replies as values. Pure: the unit tests feed it the kernel's own
// replies captured in the kernel VM.
//
// The decoder reports what the kernel says, unnormalised: for instance the
// kernel keeps the PERSISTENT and HASHED bits in the service flags (dropped
// here because IPVSServiceFlags does not model them), and a destination's port
// is whatever the kernel stored.

import BallastCore

/// Why a dump reply could not become a value.
enum IPVSDecodeError: Error, Hashable, CustomStringConvertible {
    /// Not the netlink the kernel documents.
    case malformed(NetlinkWireError)
    /// Well-formed, but outside what Ballast models (another tool made it).
    case unsupported(String)

    var description: String {
        switch self {
        case .malformed(let error): "malformed reply from the kernel: \(error)"
        case .unsupported(let text): text
        }
    }

    func ipvsError(_ operation: String) -> IPVSError {
        switch self {
        case .malformed: IPVSError(operation: operation, errno: Errno.EPROTO, reason: description)
        case .unsupported: IPVSError(operation: operation, errno: 0, reason: description)
        }
    }
}

enum IPVSReplyDecoder {
    /// One message of a GET_SERVICE dump: the service, its settings and counters,
    /// without destinations (those come from one GET_DEST dump per service).
    static func service(_ message: NetlinkMessage) throws(IPVSDecodeError) -> ObservedVirtualService {
        let fields: ServiceFields
        do { fields = try ServiceFields(message) } catch { throw .malformed(error) }
        return try fields.service()
    }

    /// One message of a GET_DEST dump. `serviceFamily` is the family the kernel
    /// means when a reply has no IPVS_DEST_ATTR_ADDR_FAMILY (kernels before 3.18).
    static func destination(_ message: NetlinkMessage,
                            serviceFamily: AddressFamily) throws(IPVSDecodeError) -> ObservedDestination {
        let fields: DestinationFields
        do { fields = try DestinationFields(message) } catch { throw .malformed(error) }
        return try fields.destination(serviceFamily: serviceFamily)
    }

    /// IPVS_*_ATTR_STATS (u32 counters, u64 bytes) or IPVS_*_ATTR_STATS64 (all u64).
    static func stats(_ attributes: NetlinkAttributes) throws(NetlinkWireError) -> IPVSStats {
        typealias A = IPVSKernel.StatsAttribute
        var stats = IPVSStats()
        for attribute in attributes {
            switch attribute.type {
            case A.connections: stats.connections = try attribute.unsigned()
            case A.inPackets: stats.inPackets = try attribute.unsigned()
            case A.outPackets: stats.outPackets = try attribute.unsigned()
            case A.inBytes: stats.inBytes = try attribute.unsigned()
            case A.outBytes: stats.outBytes = try attribute.unsigned()
            case A.connectionRate: stats.cps = try attribute.unsigned()
            case A.inPacketRate: stats.inPPS = try attribute.unsigned()
            case A.outPacketRate: stats.outPPS = try attribute.unsigned()
            case A.inByteRate: stats.inBPS = try attribute.unsigned()
            case A.outByteRate: stats.outBPS = try attribute.unsigned()
            default: break  // IPVS_STATS_ATTR_PAD
            }
        }
        return stats
    }
}

/// union nf_inet_addr as received: up to 16 bytes, IPv4 in the first 4. The
/// family may arrive after the address, so the bytes wait here until then.
private struct RawAddress {
    var bytes: IPv6Address

    init(_ payload: UnsafeRawBufferPointer) throws(NetlinkWireError) {
        switch payload.count {
        case 4:
            let v4 = UInt32(bigEndian: payload.loadUnaligned(as: UInt32.self))
            bytes = IPv6Address(high: UInt64(v4) << 32, low: 0)
        case 16...:
            bytes = IPv6Address(high: UInt64(bigEndian: payload.loadUnaligned(as: UInt64.self)),
                                low: UInt64(bigEndian: payload.loadUnaligned(fromByteOffset: 8, as: UInt64.self)))
        default:
            throw NetlinkWireError("address attribute of \(payload.count) bytes")
        }
    }

    func address(_ family: AddressFamily) -> IPAddress {
        switch family {
        case .ipv4: .v4(IPv4Address(UInt32(truncatingIfNeeded: bytes.high >> 32)))
        case .ipv6: .v6(bytes)
        }
    }
}

/// The attributes of a service message, before interpretation.
private struct ServiceFields {
    var family: UInt16?
    var proto: UInt16?
    var address: RawAddress?
    var port: UInt16?
    var mark: UInt32?
    var scheduler: String?
    var flags: UInt32 = 0
    var timeout: UInt32 = 0
    var netmask: UInt32?
    var stats32: IPVSStats?
    var stats64: IPVSStats?

    init(_ message: NetlinkMessage) throws(NetlinkWireError) {
        typealias A = IPVSKernel.ServiceAttribute
        guard try message.command() == IPVSKernel.Command.newService,
              let nest = try message.attributes().first(where: { $0.type == IPVSKernel.CommandAttribute.service })
        else { throw NetlinkWireError("service dump message without a service") }
        for attribute in nest.nested {
            switch attribute.type {
            case A.addressFamily: family = try attribute.u16()
            case A.protocol: proto = try attribute.u16()
            case A.address: address = try RawAddress(attribute.payload)
            case A.port: port = try attribute.bigEndianU16()
            case A.firewallMark: mark = try attribute.u32()
            case A.schedulerName: scheduler = attribute.string()
            case A.flags: flags = try attribute.u32()  // struct ip_vs_flags: flags, then mask
            case A.timeout: timeout = try attribute.u32()
            case A.netmask: netmask = try attribute.u32()
            case A.stats: stats32 = try IPVSReplyDecoder.stats(attribute.nested)
            case A.stats64: stats64 = try IPVSReplyDecoder.stats(attribute.nested)
            default: break
            }
        }
    }

    func service() throws(IPVSDecodeError) -> ObservedVirtualService {
        guard let family, let addressFamily = AddressFamily(kernelValue: family) else {
            throw .unsupported("a service of address family \(family.map(String.init) ?? "none")")
        }
        let key: VirtualServiceKey
        if let mark, mark != 0 {
            key = .firewallMark(mark, family: addressFamily)
        } else {
            guard let proto, let address, let port else {
                throw .malformed(NetlinkWireError("service without a firewall mark or protocol, address and port"))
            }
            let ip = address.address(addressFamily)
            guard let ipvsProtocol = IPVSProtocol(number: proto) else {
                throw .unsupported("service \(ip.withPort(port)) uses IP protocol \(proto); "
                                   + "Ballast handles TCP, UDP and SCTP")
            }
            key = .address(ip, port: port, protocol: ipvsProtocol)
        }
        guard let scheduler, let ipvsScheduler = IPVSScheduler(rawValue: scheduler) else {
            throw .unsupported("service \(key) uses scheduler \"\(scheduler ?? "")\", which Ballast does not know")
        }
        var persistence: IPVSPersistence?
        if flags & IPVSKernel.ServiceFlag.persistent != 0 {
            persistence = IPVSPersistence(timeout: timeout, netmaskPrefix: prefixLength(addressFamily))
        }
        return ObservedVirtualService(
            key: key, scheduler: ipvsScheduler,
            flags: IPVSServiceFlags(rawValue: flags & ~IPVSServiceFlags.kernelOwnedMask),
            persistence: persistence, destinations: [], stats: stats64 ?? stats32 ?? IPVSStats())
    }

    /// IPv4 netmasks travel as big-endian masks, IPv6 ones as host-order prefix lengths.
    private func prefixLength(_ family: AddressFamily) -> Int {
        guard let netmask else { return family.bitWidth }
        switch family {
        case .ipv4:
            // The leading run of ones: a non-contiguous mask (which ipvsadm -M
            // accepts) has no prefix length.
            return (~UInt32(bigEndian: netmask)).leadingZeroBitCount
        case .ipv6:
            return Int(min(netmask, 128))
        }
    }
}

/// The attributes of a destination message, before interpretation.
private struct DestinationFields {
    var address: RawAddress?
    var port: UInt16?
    var family: UInt16?
    var method: UInt32 = 0
    var weight: UInt32 = 0
    var upper: UInt32 = 0
    var lower: UInt32 = 0
    var active: UInt32 = 0
    var inactive: UInt32 = 0
    var persistent: UInt32 = 0
    var stats32: IPVSStats?
    var stats64: IPVSStats?

    init(_ message: NetlinkMessage) throws(NetlinkWireError) {
        typealias A = IPVSKernel.DestinationAttribute
        guard try message.command() == IPVSKernel.Command.newDestination,
              let nest = try message.attributes().first(where: { $0.type == IPVSKernel.CommandAttribute.destination })
        else { throw NetlinkWireError("destination dump message without a destination") }
        for attribute in nest.nested {
            switch attribute.type {
            case A.address: address = try RawAddress(attribute.payload)
            case A.port: port = try attribute.bigEndianU16()
            case A.addressFamily: family = try attribute.u16()
            case A.forwardingMethod: method = try attribute.u32()
            case A.weight: weight = try attribute.u32()
            case A.upperThreshold: upper = try attribute.u32()
            case A.lowerThreshold: lower = try attribute.u32()
            case A.activeConnections: active = try attribute.u32()
            case A.inactiveConnections: inactive = try attribute.u32()
            case A.persistentConnections: persistent = try attribute.u32()
            case A.stats: stats32 = try IPVSReplyDecoder.stats(attribute.nested)
            case A.stats64: stats64 = try IPVSReplyDecoder.stats(attribute.nested)
            default: break
            }
        }
    }

    func destination(serviceFamily: AddressFamily) throws(IPVSDecodeError) -> ObservedDestination {
        guard let address, let port else {
            throw .malformed(NetlinkWireError("destination without address or port"))
        }
        var addressFamily = serviceFamily
        if let family {
            guard let known = AddressFamily(kernelValue: family) else {
                throw .unsupported("a destination of address family \(family)")
            }
            addressFamily = known
        }
        let ip = address.address(addressFamily)
        guard let forwarding = IPVSForwarding(kernelValue: method & IPVSKernel.forwardingMask) else {
            throw .unsupported("destination \(ip.withPort(port)) uses forwarding method "
                               + "\(method & IPVSKernel.forwardingMask); Ballast handles masq, route and tunnel")
        }
        return ObservedDestination(
            destination: IPVSDestination(address: ip, port: port, forwarding: forwarding,
                                         weight: Int32(bitPattern: weight),
                                         upperThreshold: upper, lowerThreshold: lower),
            activeConnections: active, inactiveConnections: inactive, persistentConnections: persistent,
            stats: stats64 ?? stats32 ?? IPVSStats())
    }
}
