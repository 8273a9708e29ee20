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

        // Every cell is rendered once, then measured. All of it is ASCII, so
        // UTF-8 length is display width (and cheap to take on 100,000 rows).
        struct Row {
            var lead: String
            var name: String
            var mode: String
            var options = ""
            var numbers: [String] = []
        }
        var rows: [Row] = [
            Row(lead: "Prot ", name: "Service", mode: "Scheduler", options: owners.isEmpty ? "Options" : "Options  [Owner]"),
            Row(lead: "  -> ", name: "Destination", mode: "Forward", numbers: ["Weight", "Active", "Inactive", "Persistent"]),
        ]
        rows.reserveCapacity(2 + services.count + destinationCount)
        for s in services {
            rows.append(Row(lead: pad(s.key.protocolText, 4) + " ", name: s.key.addressText, mode: s.scheduler.rawValue,
                            options: [s.options, owners[s.key].map { "[\($0)]" } ?? ""]
                                .filter { !$0.isEmpty }.joined(separator: "  ")))
            for d in s.destinations.sorted(by: { $0.destination.endpoint < $1.destination.endpoint }) {
                rows.append(Row(lead: "  -> ", name: d.destination.endpoint.description,
                                mode: d.destination.forwarding.rawValue, numbers: d.numbers.map(String.init)))
            }
        }
        let nameWidth = rows.reduce(0) { max($0, $1.name.utf8.count) }
        let modeWidth = rows.reduce(0) { max($0, $1.mode.utf8.count) }
        var numberWidths = [0, 0, 0, 0]
        for row in rows {
            for (i, n) in row.numbers.enumerated() { numberWidths[i] = max(numberWidths[i], n.utf8.count) }
        }

        var out = "IPVS table: \(plural(services.count, "service")), \(plural(destinationCount, "destination"))\n"
        out.reserveCapacity(rows.count * (nameWidth + modeWidth + 48))
        for row in rows {
            out += row.lead
            out += pad(row.name, nameWidth)
            out += "  "
            if !row.numbers.isEmpty {
                out += pad(row.mode, modeWidth)
                for (i, n) in row.numbers.enumerated() {
                    out += "  "
                    out += padLeft(n, numberWidths[i])
                }
            } else if !row.options.isEmpty {
                out += pad(row.mode, modeWidth)
                out += "  "
                out += row.options
            } else {
                out += row.mode
            }
            out += "\n"
        }
        return out
    }

    static func pad(_ s: String, _ width: Int) -> String {
        let n = s.utf8.count
        return n >= width ? s : s + String(repeating: " ", count: width - n)
    }

    static func padLeft(_ s: String, _ width: Int) -> String {
        let n = s.utf8.count
        return n >= width ? s : String(repeating: " ", count: width - n) + s
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
