import BallastCore
import L2Frames
import Synchronization

/// An in-memory packet port: records what the announcer sends and lets a
/// test deliver frames as if they arrived on the wire. Delivery runs the
/// handler on the caller's thread, so a reply is in `sent` when it returns.
public final class FakePacketPort: PacketPort {
    public let interface: NetworkInterface
    private struct State {
        var handler: (@Sendable ([UInt8]) -> Void)?
        var sent: [[UInt8]] = []
        var groups: Set<MACAddress> = []
        var closed = false
        var failSends = false
    }
    private let state = Mutex(State())

    public init(interface: NetworkInterface) { self.interface = interface }

    public func start(_ handler: @escaping @Sendable ([UInt8]) -> Void) {
        state.withLock { if !$0.closed { $0.handler = handler } }
    }

    public func send(_ frame: [UInt8]) throws(DataPlaneError) {
        try state.withLock { state throws(DataPlaneError) in
            // As the real port: frames sent after close() are dropped.
            guard !state.closed else { return }
            guard !state.failSends else {
                throw DataPlaneError(operation: "send on \(interface.name)", errno: 100, reason: "Network is down (ENETDOWN)")
            }
            state.sent.append(frame)
        }
    }

    public func setMulticastGroups(_ groups: Set<MACAddress>) throws(DataPlaneError) {
        state.withLock { $0.groups = groups }
    }

    public func close() {
        state.withLock { $0.closed = true; $0.handler = nil }
    }

    /// Hands `frame` to the announcer as a received frame; ignored once closed.
    public func deliver(_ frame: [UInt8]) {
        state.withLock { $0.handler }?(frame)
    }

    /// Every frame sent so far, oldest first.
    public var sent: [[UInt8]] { state.withLock { $0.sent } }
    public var multicastGroups: Set<MACAddress> { state.withLock { $0.groups } }
    public var isClosed: Bool { state.withLock { $0.closed } }
    /// Makes every send fail with ENETDOWN, as on a link that went down.
    public var failSends: Bool {
        get { state.withLock { $0.failSends } }
        set { state.withLock { $0.failSends = newValue } }
    }

    public func clearSent() { state.withLock { $0.sent = [] } }
}
