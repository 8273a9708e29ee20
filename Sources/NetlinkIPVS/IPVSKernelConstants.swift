// Kernel names of the IPVS generic netlink family, mirrored once.
//
// Every number comes from <linux/ip_vs.h> or <linux/netlink.h> through the
// CNetlinkGenl module and is only narrowed here to its width on the wire, so
// a reader can check each line against the uapi header. The comments record
// the schema: how the kernel (net/netfilter/ipvs/ip_vs_ctl.c) reads and
// writes each attribute, including byte order.
//
// Byte order: netlink integers are host order, except where the kernel uses
// nla_get_be16/nla_put_be16/nla_get_be32 on a __be field — marked "big-endian".

import CNetlinkGenl

enum Netlink {
    static let error = UInt16(NLMSG_ERROR)
    static let done = UInt16(NLMSG_DONE)

    static let request = UInt16(NLM_F_REQUEST)
    static let multipart = UInt16(NLM_F_MULTI)
    static let acknowledge = UInt16(NLM_F_ACK)
    static let dump = UInt16(NLM_F_DUMP)

    /// Set by libnl (and so by ipvsadm) on nested attributes. The kernel's IPVS
    /// parser (nla_parse_nested_deprecated) accepts nests with or without it,
    /// and its own dumps leave it clear.
    static let nestedFlag = UInt16(NLA_F_NESTED)
    /// NLA_TYPE_MASK: nla_type without the NLA_F_NESTED and NLA_F_NET_BYTEORDER bits.
    static let attributeTypeMask = ~(UInt16(NLA_F_NESTED) | UInt16(NLA_F_NET_BYTEORDER))

    /// struct nlmsghdr: len u32, type u16, flags u16, seq u32, pid u32.
    static let headerLength = 16
    /// struct genlmsghdr: cmd u8, version u8, reserved u16.
    static let genericHeaderLength = 4
    /// struct nlattr: len u16, type u16.
    static let attributeHeaderLength = 4
    /// Error acks carry only the request's header instead of the whole request.
    static let capAcknowledgeOption = Int32(NETLINK_CAP_ACK)
}

enum IPVSKernel {
    /// The generic netlink family name, resolved to a per-boot id through nlctrl.
    static let familyName = IPVS_GENL_NAME
    static let version = UInt8(IPVS_GENL_VERSION)

    enum Command {
        /// Also the command of each service in a GET_SERVICE dump reply.
        static let newService = UInt8(IPVS_CMD_NEW_SERVICE)
        static let setService = UInt8(IPVS_CMD_SET_SERVICE)
        static let deleteService = UInt8(IPVS_CMD_DEL_SERVICE)
        /// Dump only (the kernel has no doit for it): one message per service.
        static let getService = UInt8(IPVS_CMD_GET_SERVICE)
        /// Also the command of each destination in a GET_DEST dump reply.
        static let newDestination = UInt8(IPVS_CMD_NEW_DEST)
        static let setDestination = UInt8(IPVS_CMD_SET_DEST)
        static let deleteDestination = UInt8(IPVS_CMD_DEL_DEST)
        /// Dump only, and only for the service named in the request.
        static let getDestination = UInt8(IPVS_CMD_GET_DEST)
    }

    /// First-level attributes of every IPVS command.
    enum CommandAttribute {
        static let service = UInt16(IPVS_CMD_ATTR_SERVICE)        // nested ServiceAttribute
        static let destination = UInt16(IPVS_CMD_ATTR_DEST)      // nested DestinationAttribute
    }

    /// Inside IPVS_CMD_ATTR_SERVICE. A service is identified by AF plus either
    /// FWMARK or PROTOCOL+ADDR+PORT; NEW/SET additionally require SCHED_NAME,
    /// FLAGS, TIMEOUT and NETMASK (all four, or the kernel answers EINVAL).
    enum ServiceAttribute {
        static let addressFamily = UInt16(IPVS_SVC_ATTR_AF)      // u16 AF_INET / AF_INET6
        static let `protocol` = UInt16(IPVS_SVC_ATTR_PROTOCOL)   // u16 IPPROTO_*
        /// union nf_inet_addr read with nla_memcpy: a 4-byte IPv4 attribute is
        /// accepted (verified on 6.1), but ipvsadm and the kernel's own dumps
        /// always carry 16 bytes, IPv4 in the first 4. Ballast writes 16 bytes
        /// too, so its messages are byte-identical to ipvsadm's.
        static let address = UInt16(IPVS_SVC_ATTR_ADDR)
        static let port = UInt16(IPVS_SVC_ATTR_PORT)             // u16 big-endian
        static let firewallMark = UInt16(IPVS_SVC_ATTR_FWMARK)   // u32; never 0
        static let schedulerName = UInt16(IPVS_SVC_ATTR_SCHED_NAME) // NUL-terminated, < 16 bytes
        /// struct ip_vs_flags { u32 flags; u32 mask }: the kernel keeps its old
        /// bits outside `mask`. Ballast, like ipvsadm, writes mask ~0.
        static let flags = UInt16(IPVS_SVC_ATTR_FLAGS)
        static let timeout = UInt16(IPVS_SVC_ATTR_TIMEOUT)       // u32 seconds of persistence
        /// IPv4: the mask itself, big-endian (255.255.255.0 is ff ff ff 00).
        /// IPv6: the prefix length as a host-order u32, 1...128 (ip_vs_add_service
        /// rejects anything else with EINVAL).
        static let netmask = UInt16(IPVS_SVC_ATTR_NETMASK)
        static let stats = UInt16(IPVS_SVC_ATTR_STATS)           // nested StatsAttribute, 32-bit rates
        static let stats64 = UInt16(IPVS_SVC_ATTR_STATS64)       // nested StatsAttribute, all u64 (Linux 4.1+)
    }

    /// Inside IPVS_CMD_ATTR_DEST. Identified by ADDR+PORT (+ADDR_FAMILY); NEW/SET
    /// additionally require FWD_METHOD, WEIGHT, U_THRESH and L_THRESH.
    enum DestinationAttribute {
        /// union nf_inet_addr, 16 bytes like the service address.
        static let address = UInt16(IPVS_DEST_ATTR_ADDR)
        /// u16 big-endian.
        static let port = UInt16(IPVS_DEST_ATTR_PORT)
        static let forwardingMethod = UInt16(IPVS_DEST_ATTR_FWD_METHOD) // u32 IP_VS_CONN_F_FWD_MASK bits
        static let weight = UInt16(IPVS_DEST_ATTR_WEIGHT)        // u32 holding an int >= 0
        static let upperThreshold = UInt16(IPVS_DEST_ATTR_U_THRESH) // u32, 0 = none
        static let lowerThreshold = UInt16(IPVS_DEST_ATTR_L_THRESH) // u32, 0 = none
        static let activeConnections = UInt16(IPVS_DEST_ATTR_ACTIVE_CONNS)   // u32, dumps only
        static let inactiveConnections = UInt16(IPVS_DEST_ATTR_INACT_CONNS)  // u32, dumps only
        static let persistentConnections = UInt16(IPVS_DEST_ATTR_PERSIST_CONNS) // u32, dumps only
        static let stats = UInt16(IPVS_DEST_ATTR_STATS)
        /// u16 AF of the destination (Linux 3.18+). Absent means "the service's
        /// family"; different from the service's only for tunnelling.
        static let addressFamily = UInt16(IPVS_DEST_ATTR_ADDR_FAMILY)
        static let stats64 = UInt16(IPVS_DEST_ATTR_STATS64)
        /// u8 IP_VS_CONN_F_TUNNEL_TYPE_*: Ballast tunnels with IPIP, the default.
        static let tunnelType = UInt16(IPVS_DEST_ATTR_TUN_TYPE)
        static let tunnelPort = UInt16(IPVS_DEST_ATTR_TUN_PORT)  // u16 big-endian, GUE only
        static let tunnelFlags = UInt16(IPVS_DEST_ATTR_TUN_FLAGS) // u16 IP_VS_TUNNEL_ENCAP_FLAG_*
    }

    /// Inside the STATS and STATS64 nests. In STATS the packet, connection and
    /// rate counters are u32 and the byte counters u64; in STATS64 all are u64
    /// (with PAD attributes for alignment).
    enum StatsAttribute {
        static let connections = UInt16(IPVS_STATS_ATTR_CONNS)
        static let inPackets = UInt16(IPVS_STATS_ATTR_INPKTS)
        static let outPackets = UInt16(IPVS_STATS_ATTR_OUTPKTS)
        static let inBytes = UInt16(IPVS_STATS_ATTR_INBYTES)
        static let outBytes = UInt16(IPVS_STATS_ATTR_OUTBYTES)
        static let connectionRate = UInt16(IPVS_STATS_ATTR_CPS)
        static let inPacketRate = UInt16(IPVS_STATS_ATTR_INPPS)
        static let outPacketRate = UInt16(IPVS_STATS_ATTR_OUTPPS)
        static let inByteRate = UInt16(IPVS_STATS_ATTR_INBPS)
        static let outByteRate = UInt16(IPVS_STATS_ATTR_OUTBPS)
    }

    enum ServiceFlag {
        /// Set when the service has persistence; Ballast derives it from
        /// IPVSVirtualService.persistence.
        static let persistent = UInt32(IP_VS_SVC_F_PERSISTENT)
    }

    static let tunnelTypeIPIP = UInt8(IP_VS_CONN_F_TUNNEL_TYPE_IPIP)
    static let forwardingMask = UInt32(IP_VS_CONN_F_FWD_MASK)
}
