import BallastCore
import FoundationEssentials
import L2Frames

/// What the announcer is doing, for `ballastctl` and the status API.
public struct L2Status: Sendable, Hashable {
    public struct Address: Sendable, Hashable {
        public var address: IPAddress
        /// Interfaces it is answered on now; empty when none could be found.
        public var interfaces: [String]
        /// Since when this node answers for it (without interruption).
        public var announcingSince: Date?
        /// Answered without gratuitous frames: kept while connections drain,
        /// not announced.
        public var answerOnly: Bool
        /// Why it is not announced (or not everywhere asked), for operators.
        public var problem: String?
        public var conflicts: ConflictRecord?
    }

    public struct Interface: Sendable, Hashable {
        public var name: String
        public var mac: MACAddress
        public var counters: L2InterfaceCounters
    }

    /// Sorted by address.
    public var addresses: [Address]
    /// Interfaces with an open packet port, sorted by name.
    public var interfaces: [Interface]
}

/// Another station claimed an address this node announces: the split-brain signal.
public struct ConflictRecord: Sendable, Hashable {
    public var count: Int
    public var lastMAC: MACAddress
    public var lastSeen: Date
    public var lastInterface: String
    public var lastEvidence: Conflict.Evidence
}

/// Per-interface counters, the same numbers the metrics carry.
public struct L2InterfaceCounters: Sendable, Hashable {
    /// ARP requests and neighbour solicitations addressed to us, for any target.
    public var requestsReceived = 0
    public var repliesSent = 0
    /// Gratuitous ARP and unsolicited NA frames sent (bursts and refreshes).
    public var gratuitousSent = 0
    public var conflicts = 0
    public var sendErrors = 0
    public var drops: [DropReason: Int] = [:]

    public init() {}
}
