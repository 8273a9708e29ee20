import BallastCore
import L2Frames
import Synchronization

/// Opens `FakePacketPort`s and remembers them, newest last per interface.
public final class FakePacketNetwork: PacketNetwork {
    private struct State {
        var ports: [String: [FakePacketPort]] = [:]
        var failing: Set<String> = []
    }
    private let state = Mutex(State())

    public init() {}

    public func open(_ interface: NetworkInterface) throws(DataPlaneError) -> any PacketPort {
        try state.withLock { state throws(DataPlaneError) in
            guard !state.failing.contains(interface.name) else {
                throw DataPlaneError(operation: "open ARP packet socket on \(interface.name)", errno: 1,
                                     reason: "Operation not permitted (EPERM)")
            }
            let port = FakePacketPort(interface: interface)
            state.ports[interface.name, default: []].append(port)
            return port
        }
    }

    /// The most recently opened port of `interface`, closed or not.
    public func port(_ interface: String) -> FakePacketPort? {
        state.withLock { $0.ports[interface]?.last }
    }

    /// Interfaces on which `open` fails with EPERM.
    public var failing: Set<String> {
        get { state.withLock { $0.failing } }
        set { state.withLock { $0.failing = newValue } }
    }
}
