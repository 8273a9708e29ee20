// Shorthands that keep the reconcile case tables readable.

import BallastCore

// `ip(_:)` comes from AllocationTestSupport.swift (one helper for the whole test target).

func tcp(_ address: String, _ port: UInt16) -> VirtualServiceKey { .address(ip(address), port: port, protocol: .tcp) }
func udp(_ address: String, _ port: UInt16) -> VirtualServiceKey { .address(ip(address), port: port, protocol: .udp) }
func sctp(_ address: String, _ port: UInt16) -> VirtualServiceKey { .address(ip(address), port: port, protocol: .sctp) }
func fwm(_ mark: UInt32, _ family: AddressFamily = .ipv4) -> VirtualServiceKey { .firewallMark(mark, family: family) }

/// "10.0.0.5:8080" or "[2001:db8::5]:8080"
func ep(_ text: String) -> IPVSEndpoint {
    let colon = text.lastIndex(of: ":")!
    var host = String(text[..<colon])
    if host.hasPrefix("[") { host = String(host.dropFirst().dropLast()) }
    return IPVSEndpoint(address: ip(host), port: UInt16(text[text.index(after: colon)...])!)
}

func dest(_ endpoint: String, weight: Int32 = 1, forward: IPVSForwarding = .masquerade,
          upper: UInt32 = 0, lower: UInt32 = 0) -> IPVSDestination {
    let e = ep(endpoint)
    return IPVSDestination(address: e.address, port: e.port, forwarding: forward, weight: weight,
                           upperThreshold: upper, lowerThreshold: lower)
}

func service(_ key: VirtualServiceKey, _ scheduler: IPVSScheduler = .rr, flags: IPVSServiceFlags = [],
             persistence: IPVSPersistence? = nil, _ destinations: [IPVSDestination] = []) -> IPVSVirtualService {
    IPVSVirtualService(key: key, scheduler: scheduler, flags: flags, persistence: persistence,
                       destinations: destinations)
}

/// The default scheduler (rr) with destinations.
func service(_ key: VirtualServiceKey, persistence: IPVSPersistence? = nil,
             _ destinations: [IPVSDestination]) -> IPVSVirtualService {
    IPVSVirtualService(key: key, persistence: persistence, destinations: destinations)
}

/// What the kernel would report for `s`, with connection counts per endpoint
/// ("10.0.0.5:8080": active) and optional extra flag bits.
func observed(_ s: IPVSVirtualService, active: [String: UInt32] = [:], inactive: [String: UInt32] = [:],
              rawFlags: UInt32 = 0, persistence: IPVSPersistence?? = nil) -> ObservedVirtualService {
    ObservedVirtualService(
        key: s.key, scheduler: s.scheduler, flags: IPVSServiceFlags(rawValue: s.flags.rawValue | rawFlags),
        persistence: persistence ?? s.persistence,
        destinations: s.destinations.map { d in
            ObservedDestination(destination: d, activeConnections: active[d.endpoint.description] ?? 0,
                                inactiveConnections: inactive[d.endpoint.description] ?? 0)
        })
}

func owning(_ prefixes: String..., marks: Set<UInt32> = []) -> IPVSOwnership {
    IPVSOwnership(prefixes: prefixes.map { CIDR($0)! }, firewallMarks: marks)
}

let t0 = ContinuousClock.now
