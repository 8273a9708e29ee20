import Dispatch

/// `transform` applied to every element, spread over the machine's cores;
/// the results come back in the order of `items`, whatever order they finish in.
/// Used by the manifest decoders, the daemon's manifest watcher and the planner.
public func concurrentMap<T: Sendable, R: Sendable>(_ items: [T], _ transform: @Sendable (T) -> R) -> [R] {
    guard items.count > 1 else { return items.map(transform) }
    let slots = Slots<R>(count: items.count)
    DispatchQueue.concurrentPerform(iterations: items.count) { n in
        slots.set(n, transform(items[n]))
    }
    return slots.values()
}

/// One slot per result. Each slot is written by exactly one iteration of
/// `concurrentPerform`, and read only after all of them have returned, which
/// is why unsynchronised access is safe here.
private final class Slots<R>: @unchecked Sendable {
    private let buffer: UnsafeMutableBufferPointer<R?>

    init(count: Int) {
        buffer = .allocate(capacity: count)
        buffer.initialize(repeating: nil)
    }

    deinit {
        buffer.deinitialize()
        buffer.deallocate()
    }

    func set(_ n: Int, _ value: R) { buffer[n] = value }

    func values() -> [R] { buffer.map { $0! } }
}
