// Desired vs actual for the VIP addresses on Ballast's dummy link: read the
// link's addresses once, diff in memory, apply only the difference.

/// The difference between the VIPs that should be local and those that are.
public struct VIPChanges: Sendable, Hashable {
    /// Addresses to add, sorted.
    public var add: [IPAddress]
    /// Addresses to remove, sorted.
    public var remove: [IPAddress]

    public init(desired: Set<IPAddress>, current: Set<IPAddress>) {
        add = desired.subtracting(current).sorted()
        remove = current.subtracting(desired).sorted()
    }

    public var isEmpty: Bool { add.isEmpty && remove.isEmpty }
}

/// What one VIP reconcile did.
public struct VIPReconcileOutcome: Sendable, Hashable {
    /// The changes attempted.
    public var changes: VIPChanges
    /// The attempts that failed, in order; the others succeeded.
    public var failures: [DataPlaneError]

    public init(changes: VIPChanges, failures: [DataPlaneError]) {
        self.changes = changes
        self.failures = failures
    }
}

public enum VIPReconcile {
    /// Brings the link's addresses to `desired`: ensures the link, reads its
    /// addresses once, then adds what is missing and removes what is extra.
    /// One failed address does not stop the others; they are reported in the
    /// outcome. Throws only when the link cannot be ensured or read, since
    /// then nothing else can be done.
    public static func apply(desired: Set<IPAddress>, to control: some VIPControl) throws(DataPlaneError)
        -> VIPReconcileOutcome {
        try control.ensureLink()
        let changes = VIPChanges(desired: desired, current: try control.addresses())
        var failures: [DataPlaneError] = []
        for address in changes.add {
            do { try control.add(address) } catch { failures.append(error) }
        }
        for address in changes.remove {
            do { try control.remove(address) } catch { failures.append(error) }
        }
        return VIPReconcileOutcome(changes: changes, failures: failures)
    }
}
