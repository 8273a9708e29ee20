import Glibc

/// "Operation not permitted (EPERM)": the kernel's text for an errno plus its
/// symbolic name, which is what an operator searches for.
func describeErrno(_ code: Int32) -> String {
    let text = String(cString: strerror(code))
    guard let name = errnoNames[code] else { return text }
    return "\(text) (\(name))"
}

/// The Linux errno values that rtnetlink answers with for links and addresses
/// (asm-generic/errno-base.h and errno.h); others print without a name.
private let errnoNames: [Int32: String] = [
    1: "EPERM", 2: "ENOENT", 3: "ESRCH", 4: "EINTR", 5: "EIO", 6: "ENXIO", 7: "E2BIG",
    9: "EBADF", 11: "EAGAIN", 12: "ENOMEM", 13: "EACCES", 14: "EFAULT", 16: "EBUSY",
    17: "EEXIST", 19: "ENODEV", 22: "EINVAL", 23: "ENFILE", 24: "EMFILE", 28: "ENOSPC",
    34: "ERANGE", 36: "ENAMETOOLONG", 61: "ENODATA", 71: "EPROTO", 75: "EOVERFLOW",
    90: "EMSGSIZE", 93: "EPROTONOSUPPORT", 95: "EOPNOTSUPP", 97: "EAFNOSUPPORT",
    98: "EADDRINUSE", 99: "EADDRNOTAVAIL", 100: "ENETDOWN", 101: "ENETUNREACH",
    105: "ENOBUFS", 110: "ETIMEDOUT", 113: "EHOSTUNREACH",
]
