#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Runs `body` on a new POSIX thread of its own, for a loop that blocks in
/// poll(2) for the life of the daemon: on a Dispatch or Swift concurrency pool
/// thread it would take one of 2 cores' worth of workers away for good.
/// The thread is named `name` where `top -H` and `ps -L` show it (Linux keeps
/// 15 bytes of it). Returns pthread_create's error, 0 once the thread runs.
public func startDedicatedThread(named name: String, _ body: @escaping @Sendable () -> Void) -> Int32 {
    let work = Unmanaged.passRetained(ThreadWork(name: name, body: body)).toOpaque()
    var thread = pthread_t()
    let created = pthread_create(&thread, nil, { context in
        let work = Unmanaged<ThreadWork>.fromOpaque(context!).takeRetainedValue()
        work.nameThisThread()
        work.body()
        return nil
    }, work)
    guard created == 0 else {
        Unmanaged<ThreadWork>.fromOpaque(work).release()
        return created
    }
    pthread_detach(thread)
    return 0
}

private final class ThreadWork {
    let name: String
    let body: @Sendable () -> Void

    init(name: String, body: @escaping @Sendable () -> Void) {
        self.name = name
        self.body = body
    }

    /// What pthread_setname_np does, which Swift's Glibc module does not
    /// declare (it is a GNU extension); a name is only a help, so failing is fine.
    func nameThisThread() {
        let fd = open("/proc/thread-self/comm", O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { return }
        defer { close(fd) }
        let bytes = Array(name.utf8.prefix(15))
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    }
}
