import Glibc

// Kernel names this target uses, mirrored once (linux/if_ether.h,
// linux/if_packet.h, linux/filter.h, asm-generic/socket.h). Glibc's module
// exposes some of them under other types; one spelling here avoids mixing.
enum Kernel {
    static let ethPArp: UInt16 = 0x0806          // ETH_P_ARP
    static let ethPIPv6: UInt16 = 0x86dd         // ETH_P_IPV6
    static let solPacket: Int32 = 263            // SOL_PACKET
    static let packetAddMembership: Int32 = 1    // PACKET_ADD_MEMBERSHIP
    static let packetDropMembership: Int32 = 2   // PACKET_DROP_MEMBERSHIP
    static let packetMRMulticast: UInt16 = 0     // PACKET_MR_MULTICAST
    static let packetOutgoing: UInt8 = 4         // PACKET_OUTGOING (sll_pkttype)
    static let soAttachFilter: Int32 = 26        // SO_ATTACH_FILTER
    static let arphrdEther: UInt16 = 1           // ARPHRD_ETHER
    static let cloneNewNet: Int32 = 0x4000_0000  // CLONE_NEWNET
    static let iffUp: UInt32 = 0x1               // IFF_UP
    static let iffLoopback: UInt32 = 0x8         // IFF_LOOPBACK
    static let iffRunning: UInt32 = 0x40         // IFF_RUNNING
    static let iffNoARP: UInt32 = 0x80           // IFF_NOARP
}

/// struct sockaddr_ll (linux/if_packet.h), which Glibc's Swift module lacks.
struct LinkLayerSocketAddress {
    var family: UInt16 = UInt16(AF_PACKET)
    /// EtherType, network byte order.
    var protocolBigEndian: UInt16 = 0
    var ifindex: Int32 = 0
    var hardwareType: UInt16 = 0
    var packetType: UInt8 = 0
    var addressLength: UInt8 = 0
    var address: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) = (0, 0, 0, 0, 0, 0, 0, 0)
}

/// setns(2) is declared by <sched.h> only under _GNU_SOURCE, which Glibc's
/// Swift module does not define; the C library has it all the same.
let setNamespace: @convention(c) (Int32, Int32) -> Int32 = {
    guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "setns") else {
        fatalError("the C library has no setns(2)")
    }
    return unsafeBitCast(symbol, to: (@convention(c) (Int32, Int32) -> Int32).self)
}()

/// struct sock_filter: one classic BPF instruction.
struct SocketFilterInstruction {
    var code: UInt16
    var jt: UInt8
    var jf: UInt8
    var k: UInt32
}

/// struct sock_fprog.
struct SocketFilterProgram {
    var length: UInt16
    var filter: UnsafeMutablePointer<SocketFilterInstruction>?
}

/// struct packet_mreq.
struct PacketMembershipRequest {
    var ifindex: Int32
    var type: UInt16
    var addressLength: UInt16
    var address: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8)
}

enum NDPFilter {
    // Classic BPF opcodes (linux/bpf_common.h).
    private static let loadHalfAbsolute: UInt16 = 0x28   // BPF_LD | BPF_H | BPF_ABS
    private static let loadByteAbsolute: UInt16 = 0x30   // BPF_LD | BPF_B | BPF_ABS
    private static let jumpIfEqual: UInt16 = 0x15        // BPF_JMP | BPF_JEQ | BPF_K
    private static let returnConstant: UInt16 = 0x06     // BPF_RET | BPF_K

    /// Keeps only ICMPv6 neighbour solicitations and advertisements without
    /// extension headers, in the kernel: an ETH_P_IPV6 packet socket otherwise
    /// copies every IPv6 packet of the interface to user space. Offsets count
    /// from the Ethernet header (SOCK_RAW): EtherType at 12, next header at
    /// 14+6, ICMPv6 type at 14+40.
    static let program: [SocketFilterInstruction] = [
        .init(code: loadHalfAbsolute, jt: 0, jf: 0, k: 12),
        .init(code: jumpIfEqual, jt: 0, jf: 5, k: UInt32(Kernel.ethPIPv6)),
        .init(code: loadByteAbsolute, jt: 0, jf: 0, k: 20),
        .init(code: jumpIfEqual, jt: 0, jf: 3, k: 58),
        .init(code: loadByteAbsolute, jt: 0, jf: 0, k: 54),
        .init(code: jumpIfEqual, jt: 2, jf: 0, k: 135),
        .init(code: jumpIfEqual, jt: 1, jf: 0, k: 136),
        .init(code: returnConstant, jt: 0, jf: 0, k: 0),
        .init(code: returnConstant, jt: 0, jf: 0, k: 0xffff),
    ]
}
