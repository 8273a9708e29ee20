// IPVS requests as bytes. Pure: the same operation, family id and sequence
// number always give the same message, which the unit tests compare with
// ipvsadm's own messages captured in the kernel VM (Tests/NetlinkIPVSTests/Fixtures).
//
// Attribute order and widths follow ipvsadm (libipvs), so that for the
// commands that carry a whole service or destination Ballast's bytes are
// identical to ipvsadm's. Where the kernel only reads the identifying
// attributes (the service of a destination command, deletions) Ballast sends
// only those: ipvsadm's extra attributes are parsed and then ignored
// (ip_vs_genl_parse_service/parse_dest with full_entry false).

import BallastCore

struct IPVSRequestEncoder {
    /// The id nlctrl gave the "IPVS" family on this boot.
    let family: UInt16

    /// Appends the message for `operation`, asking for an acknowledgement.
    /// Throws, leaving `writer` unchanged, for values the kernel would misread.
    func append(_ operation: IPVSOperation, sequence: UInt32,
                to writer: inout NetlinkMessageWriter) throws(IPVSError) {
        try validate(operation)
        let command: UInt8 = switch operation {
        case .addService: IPVSKernel.Command.newService
        case .editService: IPVSKernel.Command.setService
        case .deleteService: IPVSKernel.Command.deleteService
        case .addDestination: IPVSKernel.Command.newDestination
        case .editDestination: IPVSKernel.Command.setDestination
        case .deleteDestination: IPVSKernel.Command.deleteDestination
        }
        let start = writer.beginMessage(type: family, flags: Netlink.request | Netlink.acknowledge,
                                        sequence: sequence, command: command, version: IPVSKernel.version)
        switch operation {
        case .addService(let service), .editService(let service):
            writeService(service, to: &writer)
        case .deleteService(let key):
            writeServiceIdentity(key, to: &writer)
        case .addDestination(let key, let destination), .editDestination(let key, let destination):
            writeServiceIdentity(key, to: &writer)
            writeDestination(destination, to: &writer)
        case .deleteDestination(let key, let endpoint):
            writeServiceIdentity(key, to: &writer)
            writeDestinationIdentity(endpoint, to: &writer)
        }
        writer.endMessage(startingAt: start)
    }

    /// IPVS_CMD_GET_SERVICE as a dump: every service of the namespace, one message each.
    func appendServiceDump(sequence: UInt32, to writer: inout NetlinkMessageWriter) {
        let start = writer.beginMessage(type: family, flags: Netlink.request | Netlink.dump, sequence: sequence,
                                        command: IPVSKernel.Command.getService, version: IPVSKernel.version)
        writer.endMessage(startingAt: start)
    }

    /// IPVS_CMD_GET_DEST as a dump: the destinations of one service.
    func appendDestinationDump(of key: VirtualServiceKey, sequence: UInt32,
                               to writer: inout NetlinkMessageWriter) {
        let start = writer.beginMessage(type: family, flags: Netlink.request | Netlink.dump, sequence: sequence,
                                        command: IPVSKernel.Command.getDestination, version: IPVSKernel.version)
        writeServiceIdentity(key, to: &writer)
        writer.endMessage(startingAt: start)
    }

    // MARK: - Attributes

    private func writeService(_ service: IPVSVirtualService, to writer: inout NetlinkMessageWriter) {
        typealias A = IPVSKernel.ServiceAttribute
        let nest = writer.beginNested(IPVSKernel.CommandAttribute.service)
        writeServiceKey(service.key, to: &writer)
        writer.put(A.schedulerName, string: service.scheduler.rawValue)
        // IP_VS_SVC_F_HASHED is kernel bookkeeping: set on NEW_SERVICE it would
        // stop the kernel from hashing the service. Mask ~0 clears it, and
        // ip_vs_edit_service sets it again itself.
        var flags = service.flags.rawValue & ~IPVSServiceFlags.kernelOwnedMask
        if service.persistence != nil { flags |= IPVSKernel.ServiceFlag.persistent }
        writer.put(A.flags, flags, UInt32.max)
        writer.put(A.timeout, service.persistence?.timeout ?? 0)
        // Without persistence the kernel ignores the netmask; ipvsadm sends the
        // host mask, and so does Ballast, so that dumps read back the same.
        let prefix = service.persistence?.netmaskPrefix ?? service.key.family.bitWidth
        switch service.key.family {
        case .ipv4: writer.put(A.netmask, bigEndian: Self.ipv4Mask(prefix: prefix))
        case .ipv6: writer.put(A.netmask, UInt32(prefix))
        }
        writer.endNested(startingAt: nest)
    }

    private func writeServiceIdentity(_ key: VirtualServiceKey, to writer: inout NetlinkMessageWriter) {
        let nest = writer.beginNested(IPVSKernel.CommandAttribute.service)
        writeServiceKey(key, to: &writer)
        writer.endNested(startingAt: nest)
    }

    private func writeServiceKey(_ key: VirtualServiceKey, to writer: inout NetlinkMessageWriter) {
        typealias A = IPVSKernel.ServiceAttribute
        writer.put(A.addressFamily, key.family.kernelValue)
        switch key {
        case let .address(address, port, proto):
            writer.put(A.protocol, proto.number)
            writer.put(A.address, address: address, zeroPaddedTo: 16)
            writer.put(A.port, bigEndian: port)
        case let .firewallMark(mark, _):
            writer.put(A.firewallMark, mark)
        }
    }

    private func writeDestination(_ destination: IPVSDestination, to writer: inout NetlinkMessageWriter) {
        typealias A = IPVSKernel.DestinationAttribute
        let nest = writer.beginNested(IPVSKernel.CommandAttribute.destination)
        writeEndpoint(destination.endpoint, to: &writer)
        writer.put(A.forwardingMethod, destination.forwarding.kernelValue)
        writer.put(A.weight, UInt32(bitPattern: destination.weight))
        // Tunnel settings are meaningful for tunnelling only; like ipvsadm,
        // always send them so an edit away from GUE/GRE resets them to IPIP.
        writer.put(A.tunnelType, IPVSKernel.tunnelTypeIPIP)
        writer.put(A.tunnelPort, bigEndian: UInt16(0))
        writer.put(A.tunnelFlags, UInt16(0))
        writer.put(A.upperThreshold, destination.upperThreshold)
        writer.put(A.lowerThreshold, destination.lowerThreshold)
        writer.endNested(startingAt: nest)
    }

    private func writeDestinationIdentity(_ endpoint: IPVSEndpoint, to writer: inout NetlinkMessageWriter) {
        let nest = writer.beginNested(IPVSKernel.CommandAttribute.destination)
        writeEndpoint(endpoint, to: &writer)
        writer.endNested(startingAt: nest)
    }

    /// The destination's own family is always sent, as modern ipvsadm does: the
    /// kernel needs it for an IPv4 real server behind an IPv6 service (tunnelling).
    private func writeEndpoint(_ endpoint: IPVSEndpoint, to writer: inout NetlinkMessageWriter) {
        typealias A = IPVSKernel.DestinationAttribute
        writer.put(A.addressFamily, endpoint.address.family.kernelValue)
        writer.put(A.address, address: endpoint.address, zeroPaddedTo: 16)
        writer.put(A.port, bigEndian: endpoint.port)
    }

    // MARK: - Validation

    /// Values that the wire format cannot carry, or that the kernel would take
    /// for something else, are refused here with a sentence instead of an EINVAL.
    private func validate(_ operation: IPVSOperation) throws(IPVSError) {
        if case .firewallMark(0, _) = operation.serviceKey {
            // The kernel reads a zero mark as "no mark" and would create an
            // address service for 0.0.0.0:0 instead.
            throw .invalid(operation, "firewall mark 0 is not a mark; use 1 or more")
        }
        switch operation {
        case .addService(let service), .editService(let service):
            if let persistence = service.persistence {
                // ip_vs_add_service accepts IPv6 prefixes 1...128 only.
                let valid = service.key.family == .ipv4 ? 0...32 : 1...128
                guard valid.contains(persistence.netmaskPrefix) else {
                    let family = service.key.family == .ipv4 ? "IPv4" : "IPv6"
                    throw .invalid(operation, "persistence netmask /\(persistence.netmaskPrefix) is out of range "
                                   + "\(valid.lowerBound)-\(valid.upperBound) for \(family)")
                }
            }
        default:
            break
        }
    }

    /// 24 → 0xFFFF_FF00 (host value; written big-endian).
    static func ipv4Mask(prefix: Int) -> UInt32 {
        prefix == 0 ? 0 : UInt32.max << UInt32(32 - prefix)
    }
}
