// `ballastctl ipvs show`: the kernel's table as a readable `ipvsadm -Ln`,
// with the connection counts a graceful drain waits for. Sorted by service
// key, destinations by endpoint, so two runs can be diffed.
//
//   IPVS table: 2 services, 3 destinations
//   Prot Service        Scheduler  Options
//     -> Destination    Forward    Weight  Active  Inactive  Persistent
//   UDP  192.0.2.10:53  sh         one-packet, sh-port
//     -> 10.0.0.7:53    masq            1       0         0           0
//   TCP  192.0.2.10:80  wlc        persistent 10800s mask /24
//     -> 10.0.0.5:8080  masq            3     812        40           0
//     -> 10.0.0.6:8080  masq            0       2         1           0

import BallastCore

public enum IPVSTableText {
    /// `owners` maps a virtual service to the Service it is for ("namespace/name"), as
    /// ballastd reports it; services missing from it print without an owner.
    public static func render(_ table: [ObservedVirtualService], owners: [VirtualServiceKey: String] = [:]) -> String {
        let services = table.sorted { $0.key < $1.key }
        let destinationCount = services.reduce(0) { $0 + $1.destinations.count }
        guard !services.isEmpty else { return "IPVS table: no virtual services\n" }

        func plural(_ n: Int, _ word: String) -> String { "\(n) \(word)\(n == 1 ? "" : "s")" }
        var lines = ["IPVS table: \(plural(services.count, "service")), \(plural(destinationCount, "destination"))"]

        let rows = services.map { s in
            (service: s, destinations: s.destinations.sorted { $0.destination.endpoint < $1.destination.endpoint })
        }
        let nameWidth = rows.flatMap { [$0.service.key.addressText] + $0.destinations.map(\.destination.endpoint.description) }
            .reduce("Destination".count) { max($0, $1.count) }
        let modeWidth = rows.flatMap { [$0.service.scheduler.rawValue] + $0.destinations.map(\.destination.forwarding.rawValue) }
            .reduce("Scheduler".count) { max($0, $1.count) }
        let headers = ["Weight", "Active", "Inactive", "Persistent"]
        var numberWidths = headers.map(\.count)
        for d in rows.flatMap(\.destinations) {
            for (i, n) in d.numbers.enumerated() { numberWidths[i] = max(numberWidths[i], String(n).count) }
        }

        func line(_ lead: String, _ name: String, _ mode: String, _ rest: String) -> String {
            let text = lead + pad(name, nameWidth) + "  " + pad(mode, modeWidth) + (rest.isEmpty ? "" : "  " + rest)
            return String(text.reversed().drop { $0 == " " }.reversed())
        }
        func numbers(_ cells: [String]) -> String {
            zip(cells, numberWidths).map { padLeft($0, $1) }.joined(separator: "  ")
        }

        lines.append(line("Prot ", "Service", "Scheduler", owners.isEmpty ? "Options" : "Options  [Owner]"))
        lines.append(line("  -> ", "Destination", "Forward", numbers(headers)))
        for row in rows {
            let s = row.service
            let owner = owners[s.key].map { "[\($0)]" }
            let rest = [s.options, owner ?? ""].filter { !$0.isEmpty }.joined(separator: "  ")
            lines.append(line(pad(s.key.protocolText, 4) + " ", s.key.addressText, s.scheduler.rawValue, rest))
            for d in row.destinations {
                lines.append(line("  -> ", d.destination.endpoint.description, d.destination.forwarding.rawValue,
                                  numbers(d.numbers.map(String.init))))
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func pad(_ s: String, _ width: Int) -> String {
        s.count >= width ? s : s + String(repeating: " ", count: width - s.count)
    }

    static func padLeft(_ s: String, _ width: Int) -> String {
        s.count >= width ? s : String(repeating: " ", count: width - s.count) + s
    }
}

extension VirtualServiceKey {
    /// "TCP", "UDP", "SCTP" or "FWM".
    var protocolText: String {
        switch self {
        case .address(_, _, let p): p.upperName
        case .firewallMark: "FWM"
        }
    }

    /// "192.0.2.10:80", "[2001:db8::1]:443", "7" or "7 (IPv6)".
    var addressText: String {
        switch self {
        case let .address(a, port, _): a.withPort(port)
        case let .firewallMark(m, f): f == .ipv4 ? "\(m)" : "\(m) (IPv6)"
        }
    }
}

extension ObservedVirtualService {
    /// "persistent 300s mask /24, sh-port": persistence and flags.
    var options: String {
        var parts: [String] = []
        if let p = persistence, p.timeout > 0 {
            parts.append("persistent \(p.timeout)s" + (p.netmaskPrefix == key.family.bitWidth ? "" : " mask /\(p.netmaskPrefix)"))
        }
        parts += flags.names(scheduler: scheduler)
        return parts.joined(separator: ", ")
    }
}

extension ObservedDestination {
    /// Weight and the three connection counts, in column order.
    var numbers: [Int64] {
        [Int64(destination.weight), Int64(activeConnections), Int64(inactiveConnections), Int64(persistentConnections)]
    }
}
