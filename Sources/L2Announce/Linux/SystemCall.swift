import BallastCore
import Glibc

/// The one door to the kernel for this target: runs a system call, retries
/// it on EINTR, and turns -1 into an error naming the operation and errno.
@discardableResult
func systemCall<T: BinaryInteger>(_ operation: @autoclosure () -> String, _ call: () -> T) throws(DataPlaneError) -> T {
    while true {
        let result = call()
        if result != -1 { return result }
        let code = errno
        if code == EINTR { continue }
        throw DataPlaneError(operation: operation(), errno: code, reason: describeErrno(code))
    }
}

/// "Operation not permitted (EPERM)" — strerror plus the symbolic name a
/// reader can search for.
func describeErrno(_ code: Int32) -> String {
    let names: [Int32: String] = [
        EPERM: "EPERM", ENOENT: "ENOENT", EINTR: "EINTR", EIO: "EIO", ENXIO: "ENXIO", EBADF: "EBADF",
        EAGAIN: "EAGAIN", ENOMEM: "ENOMEM", EACCES: "EACCES", EBUSY: "EBUSY", ENODEV: "ENODEV",
        EINVAL: "EINVAL", EMSGSIZE: "EMSGSIZE", ENOBUFS: "ENOBUFS", ENETDOWN: "ENETDOWN",
        EAFNOSUPPORT: "EAFNOSUPPORT", EPROTONOSUPPORT: "EPROTONOSUPPORT", EADDRNOTAVAIL: "EADDRNOTAVAIL",
        EROFS: "EROFS",
    ]
    return String(cString: strerror(code)) + (names[code].map { " (\($0))" } ?? " (errno \(code))")
}
