import Synchronization

/// A clock that moves only when a test says so. Sleepers wake in deadline
/// order when `advance(by:)` passes their deadline; cancelled sleepers throw
/// CancellationError, as with a real clock.
public final class FakeL2Clock: Clock {
    public struct Instant: InstantProtocol {
        public var offset: Duration
        public init(offset: Duration) { self.offset = offset }
        public func advanced(by duration: Duration) -> Self { Instant(offset: offset + duration) }
        public func duration(to other: Self) -> Duration { other.offset - offset }
        public static func < (a: Self, b: Self) -> Bool { a.offset < b.offset }
    }

    private struct Sleeper {
        var deadline: Instant
        var continuation: CheckedContinuation<Void, any Error>?
    }
    private struct State {
        var now = Instant(offset: .zero)
        var nextID = 0
        var sleepers: [Int: Sleeper] = [:]
        /// Sleepers cancelled before they registered their continuation.
        var cancelledEarly: Set<Int> = []
    }
    private let state = Mutex(State())

    public init() {}

    public var now: Instant { state.withLock { $0.now } }
    public var minimumResolution: Duration { .zero }

    /// Tasks parked on this clock: asleep, and woken only by `advance`.
    /// A test waits for the count it expects before advancing, so that every
    /// sleeper measured its deadline from the time before the advance.
    public var sleeperCount: Int { state.withLock { $0.sleepers.values.count { $0.continuation != nil } } }

    public func sleep(until deadline: Instant, tolerance: Duration? = nil) async throws {
        let id: Int? = state.withLock { state in
            guard deadline > state.now else { return nil }
            defer { state.nextID += 1 }
            state.sleepers[state.nextID] = Sleeper(deadline: deadline)
            return state.nextID
        }
        guard let id else { return try Task.checkCancellation() }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                enum Outcome { case cancelled, due, waiting }
                let outcome: Outcome = state.withLock { state in
                    if state.cancelledEarly.remove(id) != nil { return .cancelled }
                    // Time may have passed the deadline while this task was registering.
                    guard let sleeper = state.sleepers[id], sleeper.deadline > state.now else {
                        state.sleepers[id] = nil
                        return .due
                    }
                    state.sleepers[id]?.continuation = continuation
                    return .waiting
                }
                switch outcome {
                case .cancelled: continuation.resume(throwing: CancellationError())
                case .due: continuation.resume()
                case .waiting: break
                }
            }
        } onCancel: {
            let continuation: CheckedContinuation<Void, any Error>?? = state.withLock { state in
                guard let sleeper = state.sleepers.removeValue(forKey: id) else { return nil }
                if sleeper.continuation == nil { state.cancelledEarly.insert(id) }
                return .some(sleeper.continuation)
            }
            if case .some(.some(let continuation)) = continuation { continuation.resume(throwing: CancellationError()) }
        }
    }

    /// Moves time forward and wakes every sleeper whose deadline is reached
    /// (a sleeper still registering notices the deadline itself).
    public func advance(by duration: Duration) {
        let due: [CheckedContinuation<Void, any Error>] = state.withLock { state in
            state.now = state.now.advanced(by: duration)
            let now = state.now
            let ready = state.sleepers.filter { $0.value.deadline <= now && $0.value.continuation != nil }
                .sorted { $0.value.deadline < $1.value.deadline }
            for (id, _) in ready { state.sleepers[id] = nil }
            return ready.compactMap(\.value.continuation)
        }
        for continuation in due { continuation.resume() }
    }
}
