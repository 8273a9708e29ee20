import BallastCore
import L2Frames

/// Which interfaces each address is announced on: the pure part of the
/// announcer's reconcile.
struct Assignment: Equatable {
    var interfaces: [IPAddress: Set<String>] = [:]
    /// Addresses announced nowhere, or not everywhere asked, and why.
    var problems: [IPAddress: String] = [:]

    init(desired: [IPAddress: L2InterfaceSelection], available: [NetworkInterface]) {
        let usable = available.filter(\.canAnnounce)
        let byName = Dictionary(available.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        for (address, selection) in desired {
            switch selection {
            case .automatic:
                // Longest prefix wins, as routing would pick; ties announce on all.
                let matches = usable.compactMap { interface in
                    interface.networks.filter { $0.contains(address) }.map(\.prefixLength).max()
                        .map { (interface.name, $0) }
                }
                guard let longest = matches.map(\.1).max() else {
                    problems[address] = "no up, ARP-capable interface has a subnet containing \(address)"
                    continue
                }
                interfaces[address] = Set(matches.filter { $0.1 == longest }.map(\.0))
            case .interfaces(let names):
                let chosen = names.filter { byName[$0]?.canAnnounce == true }
                let missing = names.filter { byName[$0] == nil }
                let unusable = names.filter { byName[$0].map { !$0.canAnnounce } ?? false }
                if !chosen.isEmpty { interfaces[address] = Set(chosen) }
                var why: [String] = []
                if !missing.isEmpty { why.append("no interface \(missing.joined(separator: ", "))") }
                if !unusable.isEmpty {
                    why.append("\(unusable.joined(separator: ", ")) down, NOARP, loopback or not Ethernet")
                }
                if names.isEmpty { why.append("no interface named") }
                if !why.isEmpty { problems[address] = why.joined(separator: "; ") }
            }
        }
    }
}
