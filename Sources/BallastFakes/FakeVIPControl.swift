// Ballast's VIP dummy link in memory, behaving like DummyLinkVIPs where a
// reconciler can tell: addresses need the link, adding and removing are
// idempotent, removing the link removes its addresses. Tests inject failures
// and read back every call made.

import BallastCore
import Synchronization

public final class FakeVIPControl: VIPControl {
    /// One call to the fake, in the order made.
    public enum Call: Sendable, Hashable {
        case ensureLink
        case addresses
        case add(IPAddress)
        case remove(IPAddress)
        case removeLink
    }

    private struct State {
        var linkExists: Bool
        var addresses: Set<IPAddress>
        var calls: [Call] = []
        var failures: [Call: DataPlaneError] = [:]
    }

    public let linkName: String
    private let state: Mutex<State>

    public init(linkName: String = "ballast0", linkExists: Bool = false, addresses: Set<IPAddress> = []) {
        precondition(linkExists || addresses.isEmpty, "addresses need the link")
        self.linkName = linkName
        state = Mutex(State(linkExists: linkExists, addresses: addresses))
    }

    // MARK: Inspection and injection

    public var linkExists: Bool { state.withLock { $0.linkExists } }
    public var currentAddresses: Set<IPAddress> { state.withLock { $0.addresses } }
    public var calls: [Call] { state.withLock { $0.calls } }

    /// Calls that change addresses or delete the link (ensureLink, idempotent
    /// in the real implementation, is not counted).
    public var writes: [Call] {
        calls.filter {
            switch $0 {
            case .add, .remove, .removeLink: true
            case .ensureLink, .addresses: false
            }
        }
    }

    /// Makes every later `call` fail with `errno` until `clearFailures()`.
    public func fail(_ call: Call, errno: Int32, reason: String = "injected failure") {
        state.withLock { $0.failures[call] = DataPlaneError(operation: describe(call), errno: errno, reason: reason) }
    }

    public func clearFailures() {
        state.withLock { $0.failures = [:] }
    }

    // MARK: VIPControl

    public func ensureLink() throws(DataPlaneError) {
        try record(.ensureLink) { s throws(DataPlaneError) in s.linkExists = true }
    }

    public func addresses() throws(DataPlaneError) -> Set<IPAddress> {
        try record(.addresses) { s throws(DataPlaneError) in
            guard s.linkExists else { throw noLink(.addresses) }
            return s.addresses
        }
    }

    public func add(_ address: IPAddress) throws(DataPlaneError) {
        try record(.add(address)) { s throws(DataPlaneError) in
            guard s.linkExists else { throw noLink(.add(address)) }
            s.addresses.insert(address)
        }
    }

    public func remove(_ address: IPAddress) throws(DataPlaneError) {
        try record(.remove(address)) { s throws(DataPlaneError) in _ = s.addresses.remove(address) }
    }

    public func removeLink() throws(DataPlaneError) {
        try record(.removeLink) { s throws(DataPlaneError) in
            s.linkExists = false
            s.addresses = []
        }
    }

    // MARK: -

    private func record<T>(_ call: Call, _ body: (inout State) throws(DataPlaneError) -> T) throws(DataPlaneError) -> T {
        let outcome: Result<T, DataPlaneError> = state.withLock { s in
            s.calls.append(call)
            if let failure = s.failures[call] { return .failure(failure) }
            do throws(DataPlaneError) { return .success(try body(&s)) } catch { return .failure(error) }
        }
        return try outcome.get()
    }

    private func noLink(_ call: Call) -> DataPlaneError {
        DataPlaneError(operation: describe(call), errno: 19,
                       reason: "No such device (ENODEV); link \(linkName) does not exist")
    }

    /// The operation text DummyLinkVIPs uses for the same call.
    private func describe(_ call: Call) -> String {
        switch call {
        case .ensureLink: "ensure link \(linkName)"
        case .addresses: "list addresses of \(linkName)"
        case .add(let a): "add address \(CIDR(host: a)) to \(linkName)"
        case .remove(let a): "remove address \(CIDR(host: a)) from \(linkName)"
        case .removeLink: "delete link \(linkName)"
        }
    }
}
