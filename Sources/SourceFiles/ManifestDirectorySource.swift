// Watches a directory of manifests with inotify and delivers a merged
// snapshot after each burst of changes.
//
// Events watched, and why:
// - IN_CLOSE_WRITE: a file written in place is complete only when closed
//   (IN_MODIFY would fire for every write(2) of a half-written file).
// - IN_MOVED_TO / IN_MOVED_FROM: editors and atomic writers save by writing a
//   temporary file and renaming it over the manifest; a rename away is a removal.
// - IN_CREATE: a hard link or a file created complete (no write follows).
// - IN_DELETE: removal.
// - IN_DELETE_SELF / IN_MOVE_SELF: the directory itself went away; every
//   file's last good version stays in force and the watch is re-armed.
// Coalescing with a leading edge: the first change after a quiet period
// (no update published for `debounce`) is applied at once, so that one edited
// file reaches the kernel without waiting — when it is complete: written and
// closed, renamed into place, or deleted. A file just created (IN_CREATE) is
// most often still empty, its IN_CLOSE_WRITE to follow, so it waits.
// Changes arriving within `debounce` of an update form a burst, applied once
// no event arrived for `debounce` (or `maximumDelay` after the burst's first
// event, so that a file rewritten in a loop still takes effect): a burst of
// writes costs the leading update plus one more.
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import BallastConfig
import BallastCore
import FoundationEssentials
import Logging
import Synchronization

public final class ManifestDirectorySource: Sendable {
    public let directory: String
    private let decoder: ManifestDecoder
    private let debounce: Duration
    private let maximumDelay: Duration
    private let logger: Logger
    /// The write end of the pipe that wakes the watcher thread to stop; nil when not running.
    private let stopPipe = Mutex<Int32?>(nil)

    public init(directory: String, decoder: @escaping ManifestDecoder, debounce: Duration = .milliseconds(75),
                maximumDelay: Duration = .seconds(1), logger: Logger) {
        // "dir/" and "dir" name the same directory; messages read better without the slash.
        var trimmed = directory
        while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed.removeLast() }
        self.directory = trimmed
        self.decoder = decoder
        self.debounce = debounce
        self.maximumDelay = maximumDelay
        self.logger = logger
    }

    /// Starts watching. The first element is the directory's content at
    /// start; later ones follow changes. The stream ends after `stop()` or
    /// when the consumer stops iterating.
    public func updates() throws(FileSourceError) -> AsyncStream<ManifestUpdate> {
        let inotify = try fileCall("inotify_init1") { inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC)) }
        var fds: [Int32] = [0, 0]
        do {
            try makeWakePipe(&fds)
        } catch {
            close(inotify)
            throw error
        }
        let alreadyRunning = stopPipe.withLock { current -> Bool in
            if current != nil { return true }
            current = fds[1]
            return false
        }
        if alreadyRunning {
            close(inotify); close(fds[0]); close(fds[1])
            throw FileSourceError(operation: "watch \(directory) (already watching)", errno: EBUSY)
        }

        let (stream, continuation) = AsyncStream.makeStream(of: ManifestUpdate.self, bufferingPolicy: .bufferingNewest(1))
        continuation.onTermination = { [weak self] _ in self?.stop() }
        let watcher = Watcher(directory: directory, decoder: decoder, inotify: inotify, wake: fds[0],
                              debounce: debounce, maximumDelay: maximumDelay, logger: logger,
                              continuation: continuation)
        let error = startDedicatedThread(named: "ballast-manifests") { watcher.run() }
        guard error == 0 else {
            stop()
            close(inotify); close(fds[0])
            throw FileSourceError(operation: "start the thread watching \(directory)", errno: error)
        }
        return stream
    }

    /// Stops the watcher thread; the stream then finishes.
    public func stop() {
        stopPipe.withLock { fd in
            guard let write = fd else { return }
            // Closing the write end wakes poll(2) in the watcher with POLLHUP.
            close(write)
            fd = nil
        }
    }
}

/// Owned by the watcher thread alone.
private final class Watcher: @unchecked Sendable {
    let directory: String
    let decoder: ManifestDecoder
    let inotify: Int32
    let wake: Int32
    let debounce: Duration
    let maximumDelay: Duration
    let logger: Logger
    let continuation: AsyncStream<ManifestUpdate>.Continuation

    var set = ManifestFiles()
    var watch: Int32?
    var lastProblems: [ManifestProblem]?
    /// Names touched since the last update, and whether everything must be re-read.
    var pending: Set<String> = []
    var rescanAll = false
    /// A pending file was created and may not be written yet: no leading edge.
    var pendingCreate = false
    var burstStart: ContinuousClock.Instant?
    var deadline: ContinuousClock.Instant?
    /// Until when a change joins a burst instead of being applied at once.
    var quietAfter: ContinuousClock.Instant?

    static let mask = UInt32(IN_CLOSE_WRITE) | UInt32(IN_MOVED_TO) | UInt32(IN_MOVED_FROM) | UInt32(IN_CREATE)
        | UInt32(IN_DELETE) | UInt32(IN_DELETE_SELF) | UInt32(IN_MOVE_SELF) | UInt32(IN_ONLYDIR)
    /// How often a lost directory is looked for again.
    static let rewatchInterval: Duration = .seconds(1)

    init(directory: String, decoder: @escaping ManifestDecoder, inotify: Int32, wake: Int32, debounce: Duration,
         maximumDelay: Duration, logger: Logger, continuation: AsyncStream<ManifestUpdate>.Continuation) {
        self.directory = directory
        self.decoder = decoder
        self.inotify = inotify
        self.wake = wake
        self.debounce = debounce
        self.maximumDelay = maximumDelay
        self.logger = logger
        self.continuation = continuation
    }

    func run() {
        defer {
            close(inotify)
            close(wake)
            continuation.finish()
        }
        let clock = ContinuousClock()
        armWatch()
        rescan()
        publish(changed: set.filesInForce)
        quietAfter = clock.now + debounce
        while true {
            var timeout: Int32 = -1
            if let deadline {
                timeout = Self.milliseconds(until: deadline, clock: clock)
            } else if watch == nil {
                timeout = Self.milliseconds(Self.rewatchInterval)
            }
            var fds = [pollfd(fd: inotify, events: Int16(POLLIN), revents: 0),
                       pollfd(fd: wake, events: Int16(POLLIN), revents: 0)]
            let ready = poll(&fds, 2, timeout)
            if ready < 0 {
                if errno == EINTR { continue }
                logger.error("poll on the manifest watch failed; no more changes will be seen",
                             metadata: ["source.directory": "\(directory)", "error": "\(FileSourceError(operation: "poll", errno: errno))"])
                return
            }
            if fds[1].revents != 0 { return }
            if fds[0].revents & Int16(POLLIN) != 0 { drainEvents(now: clock.now) }
            if watch == nil && deadline == nil, armWatch() {
                rescanAll = true
                deadline = clock.now
            }
            if let deadline, clock.now >= deadline {
                flush()
                quietAfter = clock.now + debounce
            }
        }
    }

    /// Adds the inotify watch; returns whether the directory is watched now.
    @discardableResult
    func armWatch() -> Bool {
        let wd = inotify_add_watch(inotify, directory, Self.mask)
        if wd < 0 {
            let error = FileSourceError(operation: "watch directory \(directory)", errno: errno)
            if set.directoryProblem == nil {
                set.directoryProblem = ManifestProblem(
                    file: "", kind: .directory,
                    message: "\(error); the Services last read from it stay in force, and the directory is looked for every second")
            }
            watch = nil
            return false
        }
        watch = wd
        return true
    }

    func drainEvents(now: ContinuousClock.Instant) {
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(inotify, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                return  // EAGAIN: drained
            }
            if n == 0 { return }
            var offset = 0
            let header = MemoryLayout<inotify_event>.size
            while offset + header <= n {
                let (wd, mask, length) = buffer.withUnsafeBytes { raw in
                    (raw.loadUnaligned(fromByteOffset: offset, as: Int32.self),
                     raw.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self),
                     Int(raw.loadUnaligned(fromByteOffset: offset + 12, as: UInt32.self)))
                }
                let nameBytes = buffer[(offset + header)..<min(n, offset + header + length)]
                let name = String(decoding: nameBytes.prefix { $0 != 0 }, as: UTF8.self)
                offset += header + length
                handle(wd: wd, mask: mask, name: name)
            }
            noteActivity(now: now)
        }
    }

    func handle(wd: Int32, mask: UInt32, name: String) {
        if mask & UInt32(IN_Q_OVERFLOW) != 0 {
            // The kernel dropped events: only a full re-read is trustworthy.
            rescanAll = true
            return
        }
        guard wd == watch else { return }
        if mask & (UInt32(IN_DELETE_SELF) | UInt32(IN_MOVE_SELF) | UInt32(IN_IGNORED)) != 0 {
            if mask & UInt32(IN_IGNORED) == 0 { inotify_rm_watch(inotify, wd) }
            watch = nil
            set.directoryProblem = ManifestProblem(
                file: "", kind: .directory,
                message: "\(directory) was removed or moved away; the Services last read from it stay in force, and the directory is looked for every second")
            return
        }
        guard isManifestFileName(name) else { return }
        pending.insert(name)
        if mask & UInt32(IN_CREATE) != 0 { pendingCreate = true }
    }

    func noteActivity(now: ContinuousClock.Instant) {
        guard !pending.isEmpty || rescanAll || watch == nil else { return }
        if burstStart == nil, !pendingCreate, quietAfter.map({ now >= $0 }) ?? true {
            deadline = now  // the leading edge
            return
        }
        let start = burstStart ?? now
        burstStart = start
        deadline = min(now + debounce, start + maximumDelay)
    }

    func flush() {
        deadline = nil
        burstStart = nil
        pendingCreate = false
        var changed: [String] = []
        if rescanAll {
            rescanAll = false
            pending = []
            changed = rescan()
        } else {
            let names = pending.sorted()
            pending = []
            changed = apply(names)
        }
        publish(changed: changed)
    }

    /// Re-reads every manifest, forgetting files that are gone. Returns the files whose objects changed.
    @discardableResult
    func rescan() -> [String] {
        let names: [String]
        do {
            names = try listManifests(in: directory)
        } catch {
            // Keep what is in force: an unreadable directory is not an empty one.
            guard set.directoryProblem == nil else { return [] }
            set.directoryProblem = ManifestProblem(
                file: "", kind: .directory,
                message: "\(error); the Services last read from it stay in force")
            return []
        }
        if watch != nil { set.directoryProblem = nil }
        var changed: [String] = []
        for gone in Set(set.knownFiles).subtracting(names).sorted() where set.remove(file: gone) {
            changed.append(gone)
        }
        changed += apply(names)
        return changed.sorted()
    }

    /// What reading one file found; the text itself is not kept.
    private enum FileRead: Sendable {
        case missing
        case problem(String)
        /// Its digest, and its objects unless the text is the version in force.
        case contents(ContentDigest, decoded: Result<ManifestSet, any Error>?)
    }

    /// Reads and decodes `names` on all cores (the first scan of 10,000
    /// files is nearly all decoding), then records them in name order.
    /// Returns the files whose objects changed.
    func apply(_ names: [String]) -> [String] {
        let (decoder, set) = (self.decoder, self.set)
        // One string per path, for the decoder (every object's location
        // names it) and the record: two would be 1 MB more at 10,000 files.
        let files = names.map { (name: $0, path: directory + "/" + $0) }
        let reads = concurrentMap(files) { name, path -> FileRead in
            switch readManifest(at: path) {
            case .missing:
                return .missing
            case .problem(let message):
                return .problem(message)
            case .contents(let text):
                let digest = ContentDigest(text)
                guard set.needsDecoding(file: name, digest: digest) else { return .contents(digest, decoded: nil) }
                return .contents(digest, decoded: Result { try decoder(path, text) })
            }
        }
        var changed: [String] = []
        for ((name, path), read) in zip(files, reads) {
            let didChange: Bool
            switch read {
            case .missing:
                didChange = self.set.remove(file: name)
            case .problem(let message):
                self.set.unreadable(file: name, path: path, message: message)
                didChange = false
            case .contents(let digest, let decoded):
                didChange = self.set.record(file: name, path: path, digest: digest, decoded: decoded)
            }
            if didChange { changed.append(name) }
        }
        return changed
    }

    func publish(changed: [String]) {
        let (snapshot, problems) = set.merged()
        guard !changed.isEmpty || problems != lastProblems else { return }
        if problems != lastProblems {
            for problem in problems where !(lastProblems ?? []).contains(problem) {
                logger.error("manifest problem", metadata: ["source.file": "\(problem.file)", "error": "\(problem)"])
            }
        }
        lastProblems = problems
        logger.debug("manifests changed", metadata: [
            "source.directory": "\(directory)",
            "source.changed": "\(changed.joined(separator: ","))",
            "source.services": "\(snapshot.services.count)",
        ])
        continuation.yieldKeepingChanges(ManifestUpdate(snapshot: snapshot, problems: problems, changedFiles: changed,
                                                        changes: set.takeChanges()))
    }

    static func milliseconds(until deadline: ContinuousClock.Instant, clock: ContinuousClock) -> Int32 {
        milliseconds(max(.zero, clock.now.duration(to: deadline)))
    }

    /// Rounded up, so that poll never wakes a hair before the deadline and spins.
    static func milliseconds(_ d: Duration) -> Int32 {
        let (seconds, attoseconds) = d.components
        let ms = seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
        return Int32(clamping: ms)
    }
}
