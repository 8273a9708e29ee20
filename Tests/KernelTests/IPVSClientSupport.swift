// Support for IPVSClientTests: a fresh network namespace per test, ipvsadm
// run inside it, and a reader of `ipvsadm -Sn` output as an independent view
// of the kernel's table.
//
// Isolation: each test creates its own network namespace, creates its
// IPVSNetlinkClient on a short-lived thread that has entered that namespace
// (a netlink socket stays in the namespace it was opened in), and runs
// ipvsadm inside it. Tests therefore run in parallel without seeing each
// other's services, and nothing is left behind in the namespace of the test
// process.

import BallastCore
import BallastTestSupport
import Foundation
import NetlinkIPVS
import Testing

let ipvsKernelTestsEnabled = ProcessInfo.processInfo.environment["BALLAST_KERNEL_TESTS"] == "1"

/// A network namespace made for one test, with routes so that IPVS accepts
/// real servers in 10.0.0.0/8 and 2001:db8::/32 (it refuses destinations it
/// cannot route as unicast) and a dummy link for virtual addresses.
final class IPVSTestNamespace: Sendable {
    let namespace: TestNetworkNamespace

    init() throws {
        namespace = try TestNetworkNamespace()
        for command in [
            ["link", "add", "ipvst0", "type", "dummy"],
            ["link", "set", "ipvst0", "up"],
            ["route", "add", "10.0.0.0/8", "dev", "ipvst0"],
            ["-6", "route", "add", "2001:db8::/32", "dev", "ipvst0"],
        ] {
            try namespace.shellSucceeds(["ip"] + command)
        }
    }

    /// An IPVS client whose socket lives in this namespace.
    func client() throws -> IPVSNetlinkClient {
        try namespace.inside { try IPVSNetlinkClient() }
    }

    /// An IPVS client opened by a thread without CAP_NET_ADMIN in its effective
    /// set. The kernel checks the capability of the socket's opener as well as
    /// the caller's, so every IPVS command through it is refused.
    func clientWithoutNetAdmin() throws -> IPVSNetlinkClient {
        try namespace.inside {
            try dropEffectiveCapability(12)  // CAP_NET_ADMIN
            return try IPVSNetlinkClient()
        }
    }

    /// Runs a command inside the namespace and returns what it printed.
    @discardableResult
    func run(_ arguments: String...) throws -> String {
        try namespace.shellSucceeds(arguments)
    }

    /// Expects `ipvsadm -Sn` to print exactly `services`, and `ipvsadm -Ln
    /// --thresholds` their destinations' thresholds, which -S does not save.
    func expectIpvsadmSave(_ services: [IPVSVirtualService],
                           sourceLocation: Testing.SourceLocation = #_sourceLocation) throws {
        let text = try run("ipvsadm", "-Sn")
        let withoutThresholds = services.map { service in
            var copy = service
            for index in copy.destinations.indices {
                copy.destinations[index].upperThreshold = 0
                copy.destinations[index].lowerThreshold = 0
            }
            return copy
        }
        #expect(try IPVSAdmSaveParser.parse(text) == withoutThresholds, "ipvsadm -Sn printed:\n\(text)",
                sourceLocation: sourceLocation)

        let listing = try run("ipvsadm", "-Ln", "--thresholds")
        var thresholds: [String: [UInt32]] = [:]
        for line in listing.split(separator: "\n") {
            let columns = line.split(separator: " ")
            if columns.count >= 4, columns[0] == "->", let upper = UInt32(columns[2]), let lower = UInt32(columns[3]) {
                thresholds[String(columns[1]), default: []] += [upper, lower]
            }
        }
        var expected: [String: [UInt32]] = [:]
        for destination in services.flatMap(\.destinations) {
            expected[destination.endpoint.description, default: []] += [destination.upperThreshold,
                                                                        destination.lowerThreshold]
        }
        #expect(thresholds == expected, "ipvsadm -Ln --thresholds printed:\n\(listing)", sourceLocation: sourceLocation)
    }
}

/// Clears one capability from the calling thread's effective set (capset(2)
/// acts per thread). glibc exports capget/capset but declares them only in
/// libcap's header, so they are looked up by name.
private func dropEffectiveCapability(_ capability: Int) throws {
    struct Header { var version: UInt32 = 0x2008_0522; var pid: Int32 = 0 }  // _LINUX_CAPABILITY_VERSION_3
    struct Data { var effective: UInt32 = 0; var permitted: UInt32 = 0; var inheritable: UInt32 = 0 }
    typealias Call = @convention(c) (UnsafeMutableRawPointer, UnsafeMutableRawPointer) -> Int32
    guard let handle = dlopen(nil, RTLD_NOW), let get = dlsym(handle, "capget"), let set = dlsym(handle, "capset") else {
        throw IPVSTestFailure("capget/capset not found")
    }
    var header = Header()
    var data = [Data(), Data()]
    guard unsafeBitCast(get, to: Call.self)(&header, &data) == 0 else { throw IPVSTestFailure("capget: errno \(errno)") }
    data[capability / 32].effective &= ~(1 << UInt32(capability % 32))
    guard unsafeBitCast(set, to: Call.self)(&header, &data) == 0 else { throw IPVSTestFailure("capset: errno \(errno)") }
}

struct IPVSTestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Reads `ipvsadm -Sn` (rules in ipvsadm's own command-line syntax) back into
/// values, written independently of NetlinkIPVS's decoder.
enum IPVSAdmSaveParser {
    static func parse(_ text: String) throws -> [IPVSVirtualService] {
        var services: [VirtualServiceKey: IPVSVirtualService] = [:]
        for line in text.split(separator: "\n") {
            var tokens = line.split(separator: " ").map(String.init)[...]
            let verb = tokens.popFirst()
            var key: VirtualServiceKey?
            var service = IPVSVirtualService(key: .firewallMark(1, family: .ipv4))
            var destination = IPVSDestination(address: IPAddress("0.0.0.0")!, port: 0)
            var ipv6 = false
            var mark: UInt32?
            var timeout: UInt32?
            var netmask: Int?
            while let option = tokens.popFirst() {
                switch option {
                case "-t", "-u", "--sctp-service":
                    let proto: IPVSProtocol = option == "-t" ? .tcp : option == "-u" ? .udp : .sctp
                    let (address, port) = try endpoint(tokens.popFirst())
                    key = .address(address, port: port, protocol: proto)
                case "-f": mark = UInt32(tokens.popFirst() ?? "")
                case "-6": ipv6 = true
                case "-s": service.scheduler = try value(IPVSScheduler(rawValue: tokens.popFirst() ?? ""), line)
                case "-p": timeout = UInt32(tokens.popFirst() ?? "")
                case "-M":
                    let mask = tokens.popFirst() ?? ""
                    netmask = try Int(mask) ?? value(IPv4Address(mask), line).value.nonzeroBitCount
                case "-o": service.flags.insert(.onePacket)
                case "-b":
                    for flag in (tokens.popFirst() ?? "").split(separator: ",") {
                        switch flag {
                        case "sh-fallback", "mh-fallback": service.flags.insert(.schedFlag1)
                        case "sh-port", "mh-port": service.flags.insert(.schedFlag2)
                        case "flag-3": service.flags.insert(.schedFlag3)
                        default: throw IPVSTestFailure("unknown -b flag \(flag) in: \(line)")
                        }
                    }
                case "-r":
                    (destination.address, destination.port) = try endpoint(tokens.popFirst())
                case "-m": destination.forwarding = .masquerade
                case "-g": destination.forwarding = .directRoute
                case "-i": destination.forwarding = .tunnel
                case "-w": destination.weight = try value(Int32(tokens.popFirst() ?? ""), line)
                case "-x": destination.upperThreshold = try value(UInt32(tokens.popFirst() ?? ""), line)
                case "-y": destination.lowerThreshold = try value(UInt32(tokens.popFirst() ?? ""), line)
                case "--tun-type":
                    guard tokens.popFirst() == "ipip" else { throw IPVSTestFailure("tunnel type in: \(line)") }
                default:
                    throw IPVSTestFailure("unknown option \(option) in: \(line)")
                }
            }
            if let mark { key = .firewallMark(mark, family: ipv6 ? .ipv6 : .ipv4) }
            let serviceKey = try value(key, line)
            switch verb {
            case "-A":
                service.key = serviceKey
                if let timeout {
                    service.persistence = IPVSPersistence(timeout: timeout,
                                                          netmaskPrefix: netmask ?? serviceKey.family.bitWidth)
                }
                services[serviceKey] = service
            case "-a":
                services[serviceKey, default: IPVSVirtualService(key: serviceKey)].destinations.append(destination)
            default:
                throw IPVSTestFailure("unexpected line: \(line)")
            }
        }
        return Array(services.values).inDumpOrder
    }

    private static func endpoint(_ token: String?) throws -> (IPAddress, UInt16) {
        guard let token, let colon = token.lastIndex(of: ":") else { throw IPVSTestFailure("endpoint \(token ?? "")") }
        var host = token[..<colon]
        if host.hasPrefix("[") { host = host.dropFirst().dropLast() }
        guard let address = IPAddress(String(host)), let port = UInt16(token[token.index(after: colon)...]) else {
            throw IPVSTestFailure("endpoint \(token)")
        }
        return (address, port)
    }

    private static func value<T>(_ value: T?, _ line: Substring) throws -> T {
        guard let value else { throw IPVSTestFailure("cannot read: \(line)") }
        return value
    }
}

/// The counters `ipvsadm -Ln --stats` prints, by "service" or "-> destination" line.
enum IPVSAdmStatsParser {
    /// Conns column of each line, keyed by the address text ipvsadm prints
    /// ("TCP  192.0.2.10:80" → "192.0.2.10:80"; "  -> 10.0.0.5:8080" → "10.0.0.5:8080").
    static func connections(_ text: String) -> [String: UInt64] {
        var result: [String: UInt64] = [:]
        for line in text.split(separator: "\n") {
            let columns = line.split(separator: " ")
            guard columns.count >= 3 else { continue }
            if columns[0] == "->", let conns = UInt64(columns[2]) {
                result[String(columns[1])] = conns
            } else if ["TCP", "UDP", "SCTP"].contains(columns[0]), let conns = UInt64(columns[2]) {
                result[String(columns[1])] = conns
            }
        }
        return result
    }
}

extension Array where Element == IPVSVirtualService {
    /// In the order a dump returns: services by key, destinations by endpoint.
    var inDumpOrder: [IPVSVirtualService] {
        map { service in
            var sorted = service
            sorted.destinations.sort()
            return sorted
        }.sorted { $0.key < $1.key }
    }
}
