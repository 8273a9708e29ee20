// Kernel errnos as the sentences a user reads: "No such process (ESRCH)".
// The table holds the errnos that IPVS, netlink and the socket calls return;
// the texts are glibc's strerror texts, kept here so that messages do not
// depend on the C library's locale or thread-safety.

import BallastCore

/// Linux errno numbers (asm-generic/errno-base.h, errno.h) with name and text;
/// the constants are the ones this module tests for.
enum Errno {
    static let EPERM: Int32 = 1
    static let ENOENT: Int32 = 2
    static let ESRCH: Int32 = 3
    static let ENOMEM: Int32 = 12
    static let EACCES: Int32 = 13
    static let EEXIST: Int32 = 17
    static let EINVAL: Int32 = 22
    static let ERANGE: Int32 = 34
    static let EPROTO: Int32 = 71
    static let ENOBUFS: Int32 = 105

    private static let table: [Int32: (name: String, text: String)] = [
        1: ("EPERM", "Operation not permitted"),
        2: ("ENOENT", "No such file or directory"),
        3: ("ESRCH", "No such process"),
        4: ("EINTR", "Interrupted system call"),
        5: ("EIO", "Input/output error"),
        6: ("ENXIO", "No such device or address"),
        7: ("E2BIG", "Argument list too long"),
        9: ("EBADF", "Bad file descriptor"),
        11: ("EAGAIN", "Resource temporarily unavailable"),
        12: ("ENOMEM", "Cannot allocate memory"),
        13: ("EACCES", "Permission denied"),
        14: ("EFAULT", "Bad address"),
        16: ("EBUSY", "Device or resource busy"),
        17: ("EEXIST", "File exists"),
        19: ("ENODEV", "No such device"),
        22: ("EINVAL", "Invalid argument"),
        24: ("EMFILE", "Too many open files"),
        28: ("ENOSPC", "No space left on device"),
        34: ("ERANGE", "Numerical result out of range"),
        71: ("EPROTO", "Protocol error"),
        88: ("ENOTSOCK", "Socket operation on non-socket"),
        90: ("EMSGSIZE", "Message too long"),
        92: ("ENOPROTOOPT", "Protocol not available"),
        93: ("EPROTONOSUPPORT", "Protocol not supported"),
        // ENOTSUP has the same number on Linux.
        95: ("EOPNOTSUPP", "Operation not supported"),
        97: ("EAFNOSUPPORT", "Address family not supported by protocol"),
        105: ("ENOBUFS", "No buffer space available"),
        110: ("ETIMEDOUT", "Connection timed out"),
        111: ("ECONNREFUSED", "Connection refused"),
    ]

    static func name(_ code: Int32) -> String? { table[code]?.name }

    /// "No such process (ESRCH)"; "errno 200" for numbers outside the table.
    static func describe(_ code: Int32) -> String {
        guard let entry = table[code] else { return "errno \(code)" }
        return "\(entry.text) (\(entry.name))"
    }
}

extension IPVSError {
    /// The reason a user reads when the family cannot be resolved.
    static let unavailableReason =
        "IPVS is not available in this kernel: load the ip_vs module or enable CONFIG_IP_VS"
    static let resolveOperation = "resolve generic netlink family \(IPVSKernel.familyName)"

    static var unavailable: IPVSError {
        IPVSError(operation: resolveOperation, errno: Errno.ENOENT, reason: unavailableReason)
    }

    /// An errno from the kernel or a system call, with a hint where the bare
    /// text would leave the user guessing.
    static func system(_ operation: String, errno code: Int32) -> IPVSError {
        var reason = Errno.describe(code)
        switch code {
        case Errno.EPERM, Errno.EACCES:
            // Every IPVS command is GENL_ADMIN_PERM, dumps included.
            reason += ": IPVS needs CAP_NET_ADMIN in this network namespace; run as root or grant the capability"
        case Errno.ENOBUFS:
            reason += ": the kernel dropped replies because the socket receive buffer was full; "
                + "the outcome is unknown until the next dump"
        default:
            break
        }
        return IPVSError(operation: operation, errno: code, reason: reason)
    }

    /// An IPVSOperation the kernel refused.
    static func kernel(_ operation: IPVSOperation, errno code: Int32) -> IPVSError {
        var error = system(operation.description, errno: code)
        switch (operation, code) {
        case (.addService(let service), Errno.ENOENT), (.editService(let service), Errno.ENOENT):
            // ip_vs_scheduler_get() failed: request_module("ip_vs_<name>") found nothing.
            let name = service.scheduler.rawValue
            error.reason += ": scheduler \(name) is not available (module ip_vs_\(name))"
        default:
            break
        }
        return error
    }

    /// A request Ballast refuses to send because the kernel would misread it.
    static func invalid(_ operation: IPVSOperation, _ reason: String) -> IPVSError {
        IPVSError(operation: operation.description, errno: Errno.EINVAL, reason: reason)
    }

    static func malformedReply(_ operation: String, _ error: NetlinkWireError) -> IPVSError {
        IPVSError(operation: operation, errno: Errno.EPROTO, reason: "malformed reply from the kernel: \(error)")
    }
}
