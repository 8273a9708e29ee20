import BallastCore
import CNetlinkRoute
import Glibc

/// One connected NETLINK_ROUTE socket, opened for one public operation and
/// freed with it. A fresh socket per operation carries no state between calls
/// (no half-read dump can confuse the next request) and belongs to the network
/// namespace of the calling thread, which is what tests rely on.
///
/// Every libnl call goes through `perform`, which turns a failure into a
/// `DataPlaneError` naming the operation and the kernel's errno.
struct RouteSocket: ~Copyable {
    private let sock: OpaquePointer
    private let kernelError = KernelErrorCapture()

    init(for operation: String) throws(DataPlaneError) {
        guard let sock = nl_socket_alloc() else {
            throw DataPlaneError(operation: operation, errno: ENOMEM, reason: describeErrno(ENOMEM))
        }
        let rc = nl_connect(sock, NETLINK_ROUTE)
        guard rc >= 0 else {
            nl_socket_free(sock)
            throw DataPlaneError(operation: "\(operation): open rtnetlink socket", errno: 0,
                                 reason: String(cString: nl_geterror(rc)))
        }
        self.sock = sock
        // Extended acks make the kernel say which attribute it rejected and why
        // ("Unknown device type"); capped acks leave out the echoed request.
        // Kernels without them ignore the options, so failures are not errors.
        var on: Int32 = 1
        let fd = nl_socket_get_fd(sock)
        _ = setsockopt(fd, socketLevelNetlink, netlinkCapAck, &on, socklen_t(MemoryLayout<Int32>.size))
        _ = setsockopt(fd, socketLevelNetlink, netlinkExtAck, &on, socklen_t(MemoryLayout<Int32>.size))
        // libnl maps the kernel's errno to its own smaller code set (EADDRNOTAVAIL
        // and EEXIST would both lose detail); this callback keeps the original.
        _ = nl_socket_modify_err_cb(sock, NL_CB_CUSTOM, recordKernelError,
                                    Unmanaged.passUnretained(kernelError).toOpaque())
    }

    deinit { nl_socket_free(sock) }

    /// Runs one libnl request. A negative result throws, naming `operation`,
    /// with the kernel's errno when the kernel refused.
    func perform(_ operation: String, _ call: (OpaquePointer) -> Int32) throws(DataPlaneError) {
        kernelError.reset()
        let rc = call(sock)
        guard rc < 0 else { return }
        if kernelError.errno != 0 {
            var reason = describeErrno(kernelError.errno)
            if let message = kernelError.message, !message.isEmpty { reason += "; kernel: \(message)" }
            throw DataPlaneError(operation: operation, errno: kernelError.errno, reason: reason)
        }
        // Some libnl calls (rtnl_link_get_kernel) install their own error
        // callback; then only libnl's code is left, mapped back where it is unambiguous.
        if let code = errnoOfLibnlError[-rc] {
            throw DataPlaneError(operation: operation, errno: code, reason: describeErrno(code))
        }
        throw DataPlaneError(operation: operation, errno: 0, reason: String(cString: nl_geterror(rc)))
    }
}

/// The inverse of libnl's nl_syserr2nlerr for the codes that one errno maps to.
private let errnoOfLibnlError: [Int32: Int32] = [
    NLE_NODEV: ENODEV, NLE_PERM: EPERM, NLE_NOACCESS: EACCES, NLE_OPNOTSUPP: EOPNOTSUPP,
    NLE_NOADDR: EADDRNOTAVAIL, NLE_AF_NOSUPPORT: EAFNOSUPPORT, NLE_BUSY: EBUSY, NLE_RANGE: ERANGE,
]

/// What the kernel said in its last NLMSG_ERROR.
private final class KernelErrorCapture {
    var errno: Int32 = 0
    var message: String?

    func reset() {
        errno = 0
        message = nil
    }
}

// <linux/netlink.h> values Glibc does not export.
private let socketLevelNetlink: Int32 = 270  // SOL_NETLINK
private let netlinkCapAck: Int32 = 10        // NETLINK_CAP_ACK
private let netlinkExtAck: Int32 = 11        // NETLINK_EXT_ACK
private let nlmFlagCapped: UInt16 = 0x100    // NLM_F_CAPPED
private let nlmFlagAckTLVs: UInt16 = 0x200   // NLM_F_ACK_TLVS
private let nlmsgerrAttrMsg: UInt16 = 1      // NLMSGERR_ATTR_MSG

/// libnl error callback: records errno and the extended-ack text, then stops
/// the receive loop so the libnl call returns its (lossy) error code.
private func recordKernelError(_: UnsafeMutablePointer<sockaddr_nl>?, _ err: UnsafeMutablePointer<nlmsgerr>?,
                               _ context: UnsafeMutableRawPointer?) -> Int32 {
    guard let err, let context else { return Int32(NL_STOP.rawValue) }
    let capture = Unmanaged<KernelErrorCapture>.fromOpaque(context).takeUnretainedValue()
    capture.errno = -err.pointee.error
    capture.message = extendedAckMessage(err)
    return Int32(NL_STOP.rawValue)
}

/// The NLMSGERR_ATTR_MSG string that follows an nlmsgerr when the kernel sets
/// NLM_F_ACK_TLVS on the error message (the nlmsghdr right before `err`).
private func extendedAckMessage(_ err: UnsafeMutablePointer<nlmsgerr>) -> String? {
    let headerSize = MemoryLayout<nlmsghdr>.size
    let header = UnsafeRawPointer(err) - headerSize
    let messageLength = Int(header.loadUnaligned(as: UInt32.self))
    let flags = header.loadUnaligned(fromByteOffset: 6, as: UInt16.self)
    guard flags & nlmFlagAckTLVs != 0 else { return nil }
    var offset = headerSize + MemoryLayout<nlmsgerr>.size
    if flags & nlmFlagCapped == 0 {
        // Uncapped: the whole request is echoed after the nlmsgerr header.
        offset += Int(err.pointee.msg.nlmsg_len) - headerSize
    }
    while offset + 4 <= messageLength {
        let length = Int(header.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
        let type = header.loadUnaligned(fromByteOffset: offset + 2, as: UInt16.self) & 0x3fff
        guard length >= 4, offset + length <= messageLength else { return nil }
        if type == nlmsgerrAttrMsg {
            let bytes = UnsafeRawBufferPointer(start: header + offset + 4, count: length - 4)
            return String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
        }
        offset += (length + 3) & ~3
    }
    return nil
}
