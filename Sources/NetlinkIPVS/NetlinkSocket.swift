// The one door to the kernel for NetlinkIPVS: a generic netlink socket that
// libnl opens and resolves, then raw sendmsg/recvmmsg on its descriptor so
// that one system call carries many messages. Every call retries EINTR and
// reports failures as a positive errno for the caller to put into context.

import BallastCore
import CNetlinkGenl
import Glibc

/// A failed system call: its errno.
struct SystemCallError: Error {
    var errno: Int32
}

final class NetlinkSocket {
    private let socket: OpaquePointer
    let descriptor: Int32
    /// The id nlctrl assigned to the family on this boot.
    let family: UInt16
    /// SO_RCVBUF as the kernel applies it (twice what was asked, for overhead).
    let receiveBufferSize: Int
    /// SO_SNDBUF as the kernel applies it; one sendmsg may carry this minus 32 bytes.
    let sendBufferSize: Int

    /// Opens a generic netlink socket in the caller's network namespace and
    /// resolves `familyName`.
    init(familyName: String, receiveBuffer: Int, sendBuffer: Int) throws(IPVSError) {
        guard let socket = nl_socket_alloc() else {
            throw .system("allocate a netlink socket", errno: Errno.ENOMEM)
        }
        self.socket = socket
        var ok = false
        defer { if !ok { nl_socket_free(socket) } }

        if genl_connect(socket) < 0 {
            throw .system("open a generic netlink socket", errno: Glibc.errno)
        }
        descriptor = nl_socket_get_fd(socket)

        // libnl's defaults (32 KiB) would make a 64 KiB batch fail with EMSGSIZE and
        // overflow on a few hundred acks. SO_*BUFFORCE needs CAP_NET_ADMIN, which
        // writing IPVS needs anyway; without it the sizes stop at net.core.[rw]mem_max.
        _ = nl_socket_set_buffer_size(socket, Int32(receiveBuffer), Int32(sendBuffer))
        _ = Self.setOption(descriptor, SOL_SOCKET, SO_RCVBUFFORCE, Int32(receiveBuffer))
        _ = Self.setOption(descriptor, SOL_SOCKET, SO_SNDBUFFORCE, Int32(sendBuffer))
        receiveBufferSize = Self.option(descriptor, SOL_SOCKET, SO_RCVBUF)
        sendBufferSize = Self.option(descriptor, SOL_SOCKET, SO_SNDBUF)
        // Error acks then echo only the request's header, not the whole request.
        _ = Self.setOption(descriptor, SOL_NETLINK, Netlink.capAcknowledgeOption, 1)

        let id = genl_ctrl_resolve(socket, familyName)
        if id == -NLE_OBJ_NOTFOUND {
            throw .unavailable
        }
        guard id > 0, let family = UInt16(exactly: id) else {
            let text = String(cString: nl_geterror(id))
            throw IPVSError(operation: IPVSError.resolveOperation, errno: 0, reason: text)
        }
        self.family = family
        ok = true
    }

    deinit {
        nl_socket_free(socket)
    }

    /// One datagram of back-to-back messages. Netlink takes all or nothing.
    func send(_ bytes: [UInt8]) throws(SystemCallError) {
        let result = bytes.withUnsafeBytes { buffer in
            retryingInterrupts { Glibc.send(descriptor, buffer.baseAddress, buffer.count, 0) }
        }
        if result < 0 { throw SystemCallError(errno: Glibc.errno) }
    }

    /// Reads up to `buffers.count` datagrams with one recvmmsg. With `wait`, blocks
    /// for the first one only; otherwise returns 0 when nothing is queued.
    func receive(into buffers: ReceiveBuffers, wait: Bool) throws(SystemCallError) -> Int {
        buffers.prepare()
        let flags = wait ? Int32(MSG_WAITFORONE) : Int32(MSG_DONTWAIT)
        let count = retryingInterrupts {
            Int(ballast_recvmmsg(descriptor, buffers.headers, UInt32(buffers.count), flags))
        }
        if count < 0 {
            let code = Glibc.errno
            if !wait && (code == EAGAIN || code == EWOULDBLOCK) { return 0 }
            throw SystemCallError(errno: code)
        }
        return count
    }

    private func retryingInterrupts(_ call: () -> Int) -> Int {
        while true {
            let result = call()
            if result >= 0 || Glibc.errno != EINTR { return result }
        }
    }

    private static func setOption(_ fd: Int32, _ level: Int32, _ name: Int32, _ value: Int32) -> Bool {
        var value = value
        return setsockopt(fd, level, name, &value, socklen_t(MemoryLayout<Int32>.size)) == 0
    }

    private static func option(_ fd: Int32, _ level: Int32, _ name: Int32) -> Int {
        var value: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        return getsockopt(fd, level, name, &value, &length) == 0 ? Int(value) : 0
    }
}

/// Receive slots for recvmmsg over one allocation, reused for every call.
final class ReceiveBuffers {
    let count: Int
    let slotSize: Int
    private let storage: UnsafeMutableRawPointer
    private let vectors: UnsafeMutablePointer<iovec>
    let headers: UnsafeMutablePointer<ballast_mmsghdr>

    init(count: Int, slotSize: Int) {
        self.count = count
        self.slotSize = slotSize
        storage = UnsafeMutableRawPointer.allocate(byteCount: count * slotSize, alignment: 16)
        vectors = UnsafeMutablePointer<iovec>.allocate(capacity: count)
        headers = UnsafeMutablePointer<ballast_mmsghdr>.allocate(capacity: count)
        for slot in 0..<count {
            vectors[slot] = iovec(iov_base: storage + slot * slotSize, iov_len: slotSize)
        }
    }

    deinit {
        storage.deallocate()
        vectors.deallocate()
        headers.deallocate()
    }

    /// recvmmsg writes msg_len and msg_flags; everything else is reset here.
    fileprivate func prepare() {
        for slot in 0..<count {
            var header = msghdr()
            header.msg_iov = vectors + slot
            header.msg_iovlen = 1
            headers[slot] = ballast_mmsghdr(msg_hdr: header, msg_len: 0)
        }
    }

    /// The bytes of received datagram `slot`, and whether the kernel had to cut it.
    func datagram(_ slot: Int) -> (bytes: UnsafeRawBufferPointer, truncated: Bool) {
        let header = headers[slot]
        let bytes = UnsafeRawBufferPointer(start: storage + slot * slotSize,
                                           count: min(Int(header.msg_len), slotSize))
        return (bytes, header.msg_hdr.msg_flags & Int32(MSG_TRUNC) != 0)
    }
}
