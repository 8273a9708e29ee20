// A stable, human-readable rendering of a DesiredState, printed by
// `ballastd --dry-run`. Everything is sorted, so two renderings of equal
// states are equal text and a diff of two renderings shows what changed.

extension DesiredState: CustomStringConvertible {
    public var description: String { rendered() }

    public func rendered() -> String {
        var lines = ["Desired state for node \(node)"]
        func section<T>(_ title: String, _ items: [T], _ render: (T) -> [String]) {
            lines.append("")
            lines.append("\(title) (\(items.count)):")
            if items.isEmpty { lines.append("  (none)") }
            for item in items { lines += render(item).map { "  " + $0 } }
        }

        section("IPVS virtual services", ipvs) { service in
            var head = "\(service.key) \(service.scheduler.rawValue)"
            if let p = service.persistence { head += " persistent \(p.timeout)s netmask /\(p.netmaskPrefix)" }
            if service.destinations.isEmpty { return [head, "  (no destinations)"] }
            return [head] + service.destinations.map { d in
                "  → \(d.endpoint) \(d.forwarding.rawValue) weight \(d.weight)" + (d.weight == 0 ? " (draining)" : "")
            }
        }
        section("VIPs held by this node", vips) { [$0.description] }
        section("SNAT rules", snat) { [$0.description] }
        section("Announcements", announcements) { a in
            let by = a.node == node ? "\(a.node) (this node)" : a.node
            let on = a.interfaces.map { $0.joined(separator: ", ") } ?? "automatic interface"
            return ["\(a.address) by \(by) on \(on) (pool \(a.pool)): " + a.services.map(\.description).joined(separator: ", ")]
        }
        section("Services", services.values.sorted { $0.ref < $1.ref }) { plan in
            var head = "\(plan.ref): "
            if plan.addresses.isEmpty {
                head += "no address"
            } else {
                head += plan.addresses.map(\.description).joined(separator: ", ") + " (pool \(plan.pool ?? "?"))"
                head += ", externalTrafficPolicy \(plan.externalTrafficPolicy.rawValue)"
                head += ", endpoints \(plan.endpoints)"
                head += ", \(plan.destinations) destination\(plan.destinations == 1 ? "" : "s")"
                    + (plan.drainingDestinations > 0 ? " + \(plan.drainingDestinations) draining" : "") + " here"
            }
            return [head] + plan.reasons.map { "  - \($0)" } + plan.withdrawn.map { "  - \($0)" }
        }
        section("Pools", pools) { [$0.description] }
        return lines.joined(separator: "\n") + "\n"
    }
}
