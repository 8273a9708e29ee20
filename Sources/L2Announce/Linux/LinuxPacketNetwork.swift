import BallastCore
import Glibc
import L2Frames
import Synchronization

/// AF_PACKET sockets: one for ARP, one for IPv6 neighbour discovery (with a
/// kernel-side filter), per interface, served by one thread.
public struct LinuxPacketNetwork: PacketNetwork {
    public var namespace: NetworkNamespace?

    public init(namespace: NetworkNamespace? = nil) { self.namespace = namespace }

    public func open(_ interface: NetworkInterface) throws(DataPlaneError) -> any PacketPort {
        let index = interface.index
        let name = interface.name
        let fds = try namespace.perform { () throws(DataPlaneError) -> [Int32] in
            var opened: [Int32] = []
            do throws(DataPlaneError) {
                opened.append(try openSocket(interface: name, index: index, protocol: Kernel.ethPArp, filter: nil))
                opened.append(try openSocket(interface: name, index: index, protocol: Kernel.ethPIPv6,
                                             filter: NDPFilter.program))
                // A pipe wakes the receiving thread's poll(2) when the port closes.
                var pipeEnds: [Int32] = [0, 0]
                try systemCall("create wake-up pipe") { pipe(&pipeEnds) }
                opened += pipeEnds
                for end in pipeEnds {
                    try systemCall("set close-on-exec on wake-up pipe") { fcntl(end, F_SETFD, FD_CLOEXEC) }
                }
                return opened
            } catch {
                opened.forEach { _ = Glibc.close($0) }
                throw error
            }
        }
        return LinuxPacketPort(interface: name, index: index, arp: fds[0], ndp: fds[1], wakeRead: fds[2], wakeWrite: fds[3])
    }
}

/// Opens a packet socket that receives `protocol` frames of one interface.
/// It is created with protocol 0, which receives nothing, and bound only
/// after the filter is attached: a socket created with the protocol would
/// queue frames of every interface, unfiltered, until bound.
private func openSocket(interface: String, index: Int32, protocol proto: UInt16,
                        filter: [SocketFilterInstruction]?) throws(DataPlaneError) -> Int32 {
    let what = proto == Kernel.ethPArp ? "ARP" : "IPv6"
    let fd = try systemCall("open \(what) packet socket on \(interface)") {
        socket(AF_PACKET, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    }
    do throws(DataPlaneError) {
        if var program = filter {
            try program.withUnsafeMutableBufferPointer { instructions throws(DataPlaneError) in
                var fprog = SocketFilterProgram(length: UInt16(instructions.count), filter: instructions.baseAddress)
                try systemCall("attach neighbour-discovery filter on \(interface)") {
                    setsockopt(fd, SOL_SOCKET, Kernel.soAttachFilter, &fprog,
                               socklen_t(MemoryLayout<SocketFilterProgram>.size))
                }
            }
        }
        var address = LinkLayerSocketAddress(protocolBigEndian: proto.bigEndian, ifindex: index)
        try systemCall("bind \(what) packet socket to \(interface) (index \(index))") {
            withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(fd, $0, socklen_t(MemoryLayout<LinkLayerSocketAddress>.size))
                }
            }
        }
        return fd
    } catch {
        Glibc.close(fd)
        throw error
    }
}

final class LinuxPacketPort: PacketPort, @unchecked Sendable {
    // @unchecked: the descriptors are immutable; everything mutable is in the Mutexes.
    private let interface: String
    private let index: Int32
    private let arp: Int32
    private let ndp: Int32
    private let wakeRead: Int32
    private let wakeWrite: Int32
    private struct State {
        var handler: (@Sendable ([UInt8]) -> Void)?
        var thread: pthread_t?
        var closed = false
        var groups: Set<MACAddress> = []
    }
    private let state = Mutex(State())

    init(interface: String, index: Int32, arp: Int32, ndp: Int32, wakeRead: Int32, wakeWrite: Int32) {
        self.interface = interface
        self.index = index
        self.arp = arp
        self.ndp = ndp
        self.wakeRead = wakeRead
        self.wakeWrite = wakeWrite
    }

    deinit {
        close()
    }

    func start(_ handler: @escaping @Sendable ([UInt8]) -> Void) {
        state.withLock { state in
            guard !state.closed, state.thread == nil else { return }
            state.handler = handler
            var thread = pthread_t()
            let context = Unmanaged.passRetained(self).toOpaque()
            let created = pthread_create(&thread, nil, { context in
                let port = Unmanaged<LinuxPacketPort>.fromOpaque(context!).takeRetainedValue()
                port.receiveLoop()
                return nil
            }, context)
            if created == 0 {
                state.thread = thread
            } else {
                Unmanaged<LinuxPacketPort>.fromOpaque(context).release()
            }
        }
    }

    func send(_ frame: [UInt8]) throws(DataPlaneError) {
        let isIPv6 = frame.count >= 14 && UInt16(frame[12]) << 8 | UInt16(frame[13]) == Kernel.ethPIPv6
        let fd = isIPv6 ? ndp : arp
        let interface = self.interface
        // Sending under the state lock orders every send before or after close():
        // a burst task that wakes as its address is released must not write to a
        // closed descriptor, whose number the process may already have reused for
        // another socket. A closed port drops the frame, as a downed link would.
        try state.withLock { state throws(DataPlaneError) in
            guard !state.closed else { return }
            try systemCall("send \(frame.count)-byte frame on \(interface)") {
                frame.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, 0) }
            }
        }
    }

    func setMulticastGroups(_ groups: Set<MACAddress>) throws(DataPlaneError) {
        let current = state.withLock { $0.groups }
        for (groups, option, verb) in [(groups.subtracting(current), Kernel.packetAddMembership, "join"),
                                       (current.subtracting(groups), Kernel.packetDropMembership, "leave")] {
            for group in groups.sorted() {
                let b = group.bytes
                var request = PacketMembershipRequest(
                    ifindex: index, type: Kernel.packetMRMulticast, addressLength: 6,
                    address: (b[0], b[1], b[2], b[3], b[4], b[5], 0, 0))
                try systemCall("\(verb) multicast group \(group) on \(interface)") {
                    setsockopt(ndp, Kernel.solPacket, option, &request,
                               socklen_t(MemoryLayout<PacketMembershipRequest>.size))
                }
                state.withLock { state in
                    if option == Kernel.packetAddMembership { state.groups.insert(group) } else { state.groups.remove(group) }
                }
            }
        }
    }

    func close() {
        let (thread, alreadyClosed) = state.withLock { state -> (pthread_t?, Bool) in
            defer { state.closed = true; state.thread = nil; state.handler = nil }
            return (state.thread, state.closed)
        }
        guard !alreadyClosed else { return }
        if let thread {
            var byte: UInt8 = 1
            _ = write(wakeWrite, &byte, 1)
            // A handler closing its own port must not wait for itself.
            if pthread_equal(thread, pthread_self()) == 0 { pthread_join(thread, nil) } else { pthread_detach(thread) }
        }
        // Closing the sockets drops their multicast memberships too.
        for fd in [arp, ndp, wakeRead, wakeWrite] { Glibc.close(fd) }
    }

    private func receiveLoop() {
        guard let handler = state.withLock({ $0.handler }) else { return }
        var fds = [arp, ndp, wakeRead].map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
        var buffer = [UInt8](repeating: 0, count: 2048)
        while true {
            let ready = poll(&fds, nfds_t(fds.count), -1)
            if ready < 0 {
                if errno == EINTR { continue }
                return
            }
            if fds[2].revents != 0 { return }
            for i in 0..<2 where fds[i].revents != 0 {
                drain(fds[i].fd, into: &buffer, handler)
            }
        }
    }

    /// Reads until the socket is empty. Errors (ENETDOWN while the link is
    /// down) only clear the socket's pending error; the scan notices the link.
    private func drain(_ fd: Int32, into buffer: inout [UInt8], _ handler: @Sendable ([UInt8]) -> Void) {
        while true {
            var from = LinkLayerSocketAddress()
            var length = socklen_t(MemoryLayout<LinkLayerSocketAddress>.size)
            let count = buffer.withUnsafeMutableBytes { bytes in
                withUnsafeMutablePointer(to: &from) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        recvfrom(fd, bytes.baseAddress, bytes.count, Int32(MSG_DONTWAIT), $0, &length)
                    }
                }
            }
            if count < 0 {
                if errno == EINTR { continue }
                return
            }
            // Frames this host sends are looped to packet sockets too; they are not requests.
            if from.packetType == Kernel.packetOutgoing { continue }
            handler(Array(buffer[0..<count]))
        }
    }
}
