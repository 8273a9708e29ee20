import BallastCore
import L2Frames
import Synchronization

/// Interfaces as a settable list and sysctls as a map (unset keys read "0",
/// the kernel's default for arp_ignore and arp_announce). Writes are
/// recorded in order.
public final class FakeL2InterfaceDirectory: InterfaceDirectory {
    private struct State {
        var interfaces: [NetworkInterface]
        var sysctls: [String: String] = [:]
        var writes: [SysctlWrite] = []
        var failListing = false
    }
    private let state: Mutex<State>

    public struct SysctlWrite: Sendable, Hashable, CustomStringConvertible {
        public var key: String
        public var value: String
        public init(_ key: String, _ value: String) { self.key = key; self.value = value }
        public var description: String { "\(key)=\(value)" }
    }

    public init(_ interfaces: [NetworkInterface] = []) { state = Mutex(State(interfaces: interfaces)) }

    public func interfaces() throws(DataPlaneError) -> [NetworkInterface] {
        try state.withLock { state throws(DataPlaneError) in
            guard !state.failListing else {
                throw DataPlaneError(operation: "list interfaces (getifaddrs)", errno: 105,
                                     reason: "No buffer space available (ENOBUFS)")
            }
            return state.interfaces
        }
    }

    public func sysctl(_ key: String) throws(DataPlaneError) -> String {
        state.withLock { $0.sysctls[key] ?? "0" }
    }

    public func setSysctl(_ key: String, to value: String) throws(DataPlaneError) {
        state.withLock { $0.sysctls[key] = value; $0.writes.append(SysctlWrite(key, value)) }
    }

    /// The interface list the next scan sees.
    public var current: [NetworkInterface] {
        get { state.withLock { $0.interfaces } }
        set { state.withLock { $0.interfaces = newValue } }
    }

    /// Sets a sysctl without recording a write (the host's prior configuration).
    public func preset(_ key: String, _ value: String) { state.withLock { $0.sysctls[key] = value } }

    public var writes: [SysctlWrite] { state.withLock { $0.writes } }

    /// Makes `interfaces()` fail, as a netlink error would.
    public var failListing: Bool {
        get { state.withLock { $0.failListing } }
        set { state.withLock { $0.failListing = newValue } }
    }
}
