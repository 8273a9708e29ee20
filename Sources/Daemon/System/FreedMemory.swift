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
// glibc adapts two thresholds as a program runs: once a big block served by
// mmap is freed, blocks up to its size come from the heap from then on, and
// free memory at the top of the heap is kept up to twice that. The first
// sync frees arrays of tens of MB, so afterwards free() gave nothing back
// between syncs. Setting both thresholds to glibc's own starting values
// stops the adapting: a big block is unmapped when freed, and free() hands
// the heap's top back once 128 KiB of it are free (docs/performance.md,
// "Memory: 10,000 Services in about 60 MiB").
//
// They are looked up at run time because Swift's Glibc module does not import
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
    /// mallopt's parameters in <malloc.h>, with the environment variable that
    /// sets each (which wins: an operator's tuning is kept).
    private static let arenaMax = (parameter: Int32(-8), variable: "MALLOC_ARENA_MAX")
    private static let trimThreshold = (parameter: Int32(-1), variable: "MALLOC_TRIM_THRESHOLD_")
    private static let mmapThreshold = (parameter: Int32(-3), variable: "MALLOC_MMAP_THRESHOLD_")
    /// glibc's default for both thresholds (DEFAULT_MMAP_THRESHOLD_MIN).
    private static let threshold: Int32 = 128 * 1024

    /// One malloc arena for every thread, and fixed trim and mmap thresholds.
    /// Call first thing in `main`: a thread that has allocated before keeps
    /// its arena.
    public static func configure() {
        for (option, value) in [(arenaMax, 1), (trimThreshold, threshold), (mmapThreshold, threshold)]
        where getenv(option.variable) == nil {
            _ = mallopt?(option.parameter, value)
        }
    }

    /// Returns free heap pages to the kernel (a few milliseconds; call after bursts, not per event).
    static func release() {
        _ = trim?(0)
    }
}
