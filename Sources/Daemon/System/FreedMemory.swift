// Giving memory freed after a large burst back to the kernel.
//
// The first sync of a big manifest directory decodes every file on all cores:
// glibc's malloc then holds tens of megabytes of freed chunks in per-thread
// arenas (about 22 MB for 10,000 Services), which it keeps for reuse and never
// returns on its own. malloc_trim(0) releases every free page, so the
// resident size afterwards is what the daemon actually keeps. It is looked up
// at run time because Swift's Glibc module does not import <malloc.h>; on a C
// library without it (musl) this does nothing.
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

enum FreedMemory {
    private typealias Trim = @convention(c) (Int) -> Int32

    private static let trim: Trim? = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim")
        .map { unsafeBitCast($0, to: Trim.self) }

    /// Returns free heap pages to the kernel (a few milliseconds; call after bursts, not per event).
    static func release() {
        _ = trim?(0)
    }
}
