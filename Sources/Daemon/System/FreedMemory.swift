// How ballastd's heap stays close to what it actually holds.
//
// The first sync of a big manifest directory decodes every file on all cores.
// glibc's malloc gives each thread that allocates concurrently an arena of
// its own (up to 8 per core) and keeps freed chunks in the arena that served
// them: at READY with 10,000 Services, four arenas held 52 MB resident for
// 42 MB of live chunks, one of them 6 MB of pages for 52 KB. One arena for
// the process lets the plan reuse what decoding freed: 12–14 MiB less
// resident at READY and 15–17 MiB less at the peak (scripts/bench/memory-bench),
// for the same CPU time on two cores (each thread's tcache still serves most
// small allocations without the arena's lock). After every sync
// malloc_trim(0) returns every free page to the kernel, so the resident size
// is what the daemon keeps, not the high-water mark of its last sync.
//
// Both are looked up at run time because Swift's Glibc module does not import
// <malloc.h>; on a C library without them (musl) they do nothing.
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

public enum FreedMemory {
    private typealias Trim = @convention(c) (Int) -> Int32
    private typealias Option = @convention(c) (Int32, Int32) -> Int32

    private static let trim: Trim? = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim")
        .map { unsafeBitCast($0, to: Trim.self) }
    private static let mallopt: Option? = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallopt")
        .map { unsafeBitCast($0, to: Option.self) }
    /// M_ARENA_MAX in <malloc.h>.
    private static let arenaMax: Int32 = -8

    /// One malloc arena for every thread. Call first thing in `main`: a thread
    /// that has allocated before keeps its arena. MALLOC_ARENA_MAX in the
    /// environment (glibc's own setting) wins.
    public static func useOneArena() {
        guard getenv("MALLOC_ARENA_MAX") == nil else { return }
        _ = mallopt?(arenaMax, 1)
    }

    /// Returns free heap pages to the kernel (a few milliseconds; call after bursts, not per event).
    static func release() {
        _ = trim?(0)
    }
}
