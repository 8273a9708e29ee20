import BallastCore
import BallastTestSupport
import Foundation
@testable import NFTables
import Testing

/// Not a test: the in-process measurements behind `scripts/bench/snat-bench
/// --in-process`, run only when it sets BALLAST_SNAT_BENCH=1. What ballastd's
/// start reads from its SNAT table, timed inside one process the way the
/// daemon runs libnftables: the digest check against the full listing, with
/// wall and CPU time and the process's peak resident memory per step, and
/// whether libnftables' memory is given back afterwards. Also the SNAT part
/// of every sync: building the desired elements and diffing them. Asserts
/// nothing about time.
@Suite(.enabled(if: ProcessInfo.processInfo.environment["BALLAST_SNAT_BENCH"] == "1"), .serialized)
struct SNATStartBenchmark {
    static var services: Int { Int(ProcessInfo.processInfo.environment["BALLAST_SNAT_BENCH_SERVICES"] ?? "") ?? 10_000 }
    static let remote = 9

    /// daemon-bench's shape: one VIP and TCP port per Service, 9 endpoints on other nodes.
    static func rules(movingOne: Bool = false) -> [SNATRule] {
        (0..<services).map { i in
            let vip = IPAddress.v4(IPv4Address(0x6440_0000 + UInt32(i)))
            let destinations = (0..<remote).map { j in
                IPAddress.v4(IPv4Address(0x0a80_0000 + UInt32(i * 16 + (movingOne && i == 0 && j == 0 ? 15 : j))))
            }
            return SNATRule(address: vip, port: UInt16(80 + i % 1000), protocol: .tcp, destinations: destinations)
        }
    }

    struct Step {
        var wall: Double
        var cpu: Double
        var peakMiB: Double
        var afterMiB: Double
    }

    /// Runs `body`, resetting the peak resident size first (clear_refs 5), so
    /// the peak is this step's own.
    static func measure<T>(_ body: () throws -> T) throws -> (T, Step) {
        try "5".write(toFile: "/proc/self/clear_refs", atomically: false, encoding: .utf8)
        let cpuBefore = cpuSeconds()
        let start = ContinuousClock.now
        let result = try body()
        let elapsed = ContinuousClock.now - start
        let wall = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return (result, Step(wall: wall, cpu: cpuSeconds() - cpuBefore, peakMiB: status("VmHWM"), afterMiB: status("VmRSS")))
    }

    static func cpuSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
            + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
    }

    /// A /proc/self/status field in MiB.
    static func status(_ field: String) -> Double {
        let text = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        let line = text.split(separator: "\n").first { $0.hasPrefix(field + ":") } ?? ""
        return (Double(line.split(separator: " ").dropFirst().first ?? "") ?? 0) / 1024
    }

    static func trim() {
        typealias Trim = @convention(c) (Int) -> Int32
        if let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim") {
            _ = unsafeBitCast(symbol, to: Trim.self)(0)
        }
    }

    static func line(_ label: String, _ step: Step) -> String {
        label.padding(toLength: 46, withPad: " ", startingAt: 0)
            + String(format: "%7.3f s wall %7.3f s CPU  peak RSS %6.1f MiB  after %6.1f MiB",
                     step.wall, step.cpu, step.peakMiB, step.afterMiB)
    }

    @Test func startRead() async throws {
        try #require(geteuid() == 0, "the SNAT benchmark needs root (network namespaces, nftables)")
        let ns = try await TestNetworkNamespace.make()
        var report: [String] = ["# in-process, \(Self.services) Services × \(Self.remote) remote endpoints"]

        // Every sync: the desired elements from the plan's rules, and the diff
        // against the remembered table (one endpoint moved).
        let rules = Self.rules()
        let moved = Self.rules(movingOne: true)
        let (table, built) = try Self.measure { SNATTable(rules: rules) }
        report.append(Self.line("per sync: SNATTable(rules:)", built))
        let (change, diffed) = try Self.measure { SNATTableChange(from: table, to: SNATTable(rules: moved)) }
        report.append(Self.line("per sync: rules → table → diff (one moved)", diffed))
        report.append("# change: \(change)")
        let (_, digested) = try Self.measure { SNATTableDigest(table) }
        report.append(Self.line("SNATTableDigest of the whole table", digested))

        let snat = try NFTablesSNAT()
        let (_, written) = try await ns.run { () throws in
            try Self.measure { try snat.replace(with: table) }
        }
        report.append(Self.line("write the table (replace)", written))
        Self.trim()
        report.append(String(format: "# RSS after malloc_trim: %.1f MiB", Self.status("VmRSS")))

        let (trusted, checked) = try await ns.run { () throws in
            try Self.measure { try NFTablesSNAT().holdsAsWritten(table) }
        }
        report.append(Self.line("start, after: holdsAsWritten (digest)", checked))
        let (listed, read) = try await ns.run { () throws in
            try Self.measure { try NFTablesSNAT().current() }
        }
        report.append(Self.line("start before / resync: current() (full)", read))
        Self.trim()
        report.append(String(format: "# RSS after malloc_trim: %.1f MiB", Self.status("VmRSS")))
        report.append("# digest trusted: \(trusted), full read matches: \(listed == table)")

        let text = report.joined(separator: "\n") + "\n"
        if let path = ProcessInfo.processInfo.environment["BALLAST_SNAT_BENCH_OUT"] {
            try text.write(toFile: path, atomically: false, encoding: .utf8)
        } else {
            print(text, terminator: "")
        }
    }
}
