// The edit path in process, natively: the real manifest watcher on a
// directory of one file per Service and its EndpointSlice, the real reconcile
// loop with BallastFakes' in-memory kernel (IPVS table remembered between
// syncs, SNAT table remembered, as in the daemon), then one endpoint address
// changed in one file (written aside and renamed over it, as an editor or
// `kubectl get -o yaml >` does) and timed until the sync that applies it has
// finished. Run through scripts/bench/edit-bench (release build). Prints
// numbers; asserts nothing but the edit's effect.
//
// --memory measures what the real daemon (not the dry run) keeps resident:
// the kernel is then a stand-in that holds nothing (every write succeeds; a
// dump is built afresh from the last plan, as netlink decoding would build
// it), so the process's resident size is the daemon's own. Printed after
// malloc_trim, as ballastd trims after every sync: at READY (a cold start),
// after a resync (a full dump of the 10,000-service table, as a warm start
// reads it) and after the edits.
import BallastConfig
import BallastCore
import BallastFakes
import Daemon
import FoundationEssentials
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Logging
import SourceFiles
import Synchronization

struct Options {
    var services = 10_000
    var endpoints = 10
    var edits = 7
    var directory = ".build/edit-bench/manifests"
    var memory = false

    init(_ arguments: [String]) {
        var rest = arguments.dropFirst()
        func value(_ name: String) -> String {
            guard let v = rest.popFirst() else { fatalError("\(name) needs a value") }
            return v
        }
        while let argument = rest.popFirst() {
            switch argument {
            case "--services": services = Int(value(argument))!
            case "--endpoints": endpoints = Int(value(argument))!
            case "--edits": edits = Int(value(argument))!
            case "--dir": directory = value(argument)
            case "--memory": memory = true
            default: fatalError("unknown argument \(argument) (--services N --endpoints M --edits K --dir DIR --memory)")
            }
        }
    }
}

/// Service i (0-based): svc-i in namespace ns-(i%10); its endpoint k is
/// 10.(k+1).(i/250).(i%250+1):8080 on node-(k%10), as in daemon-bench's files,
/// without their kubectl metadata (uid, last-applied-configuration, Pod names).
func serviceFile(_ i: Int, endpoints: Int, firstEndpoint: String? = nil) -> String {
    let name = "svc-\(fiveDigits(i))"
    let ns = "ns-\(i % 10)"
    var eps = ""
    for k in 0..<endpoints {
        let address = k == 0 ? firstEndpoint ?? "10.1.\(i / 250).\(i % 250 + 1)" : "10.\(k + 1).\(i / 250).\(i % 250 + 1)"
        eps += """
        - addresses:
          - \(address)
          conditions:
            ready: true
            serving: true
            terminating: false
          nodeName: node-\(k % 10)
          targetRef:
            kind: Pod
            name: \(name)-\(k)
            namespace: \(ns)

        """
    }
    return """
    apiVersion: v1
    kind: Service
    metadata:
      labels:
        app: \(name)
      name: \(name)
      namespace: \(ns)
    spec:
      externalTrafficPolicy: Cluster
      ports:
      - name: http
        port: 80
        protocol: TCP
        targetPort: 8080
      selector:
        app: \(name)
      type: LoadBalancer
    ---
    addressType: IPv4
    apiVersion: discovery.k8s.io/v1
    endpoints:
    \(eps)kind: EndpointSlice
    metadata:
      labels:
        kubernetes.io/service-name: \(name)
      name: \(name)-abcde
      namespace: \(ns)
    ports:
    - name: http
      port: 8080
      protocol: TCP

    """
}

/// The Services the edits touch, in order.
func editedServices(_ options: Options) -> [Int] {
    (0..<options.edits).map { options.services / 2 + $0 * 97 % max(1, options.services / 2) }
}

/// `n` in at least five digits, zeros in front, as the generated names have it.
func fiveDigits(_ n: Int) -> String {
    let digits = String(n)
    return String(repeating: "0", count: max(0, 5 - digits.count)) + digits
}

func write(_ text: String, to path: String) throws {
    try Data(text.utf8).write(to: URL(fileURLWithPath: path))
}

/// Writes the manifests, or (same shape already there) restores the files earlier edits changed.
func generate(_ options: Options) throws {
    let fm = FileManager.default
    let marker = options.directory + "/.generated-\(options.services)x\(options.endpoints)"
    if fm.fileExists(atPath: marker) {
        for i in editedServices(options) {
            try write(serviceFile(i, endpoints: options.endpoints), to: options.directory + "/svc-\(fiveDigits(i)).yaml")
        }
        return
    }
    try? fm.removeItem(atPath: options.directory)
    try fm.createDirectory(atPath: options.directory, withIntermediateDirectories: true)
    let nodes = (0..<10).map { "apiVersion: v1\nkind: Node\nmetadata:\n  name: node-\($0)\n" }.joined(separator: "---\n")
    try write(nodes, to: options.directory + "/nodes.yaml")
    for i in 0..<options.services {
        try write(serviceFile(i, endpoints: options.endpoints), to: options.directory + "/svc-\(fiveDigits(i)).yaml")
    }
    _ = fm.createFile(atPath: marker, contents: nil)
}

/// Announces nothing; the daemon's announcer is L2Announce's, with sockets.
struct SilentAnnouncer: Announcing {
    func run() async throws {}
    func announce(_ announcements: [Announcement]) async {}
    func stopAll() async {}
}

/// Hands each finished sync to the bench.
final class SyncWaiter: Sendable {
    private let records: AsyncStream<SyncRecord>
    private let continuation: AsyncStream<SyncRecord>.Continuation

    init() {
        (records, continuation) = AsyncStream.makeStream(of: SyncRecord.self)
    }

    func finished(_ record: SyncRecord) { continuation.yield(record) }

    var stream: AsyncStream<SyncRecord> { records }
}

/// The kernel's IPVS table for --memory: holds nothing but the last small
/// batch of writes; a dump is the last plan's table, built afresh on every call.
final class StandInIPVS: IPVSControl {
    private struct State {
        var plan: [IPVSVirtualService] = []
        var lastBatch: [IPVSOperation] = []
        var writes = 0
    }
    private let state = Mutex(State())

    /// What the next dump returns: the kernel once a sync applied `plan`.
    func kernelHolds(_ plan: [IPVSVirtualService]) { state.withLock { $0.plan = plan } }

    func dump() throws(IPVSError) -> [ObservedVirtualService] {
        state.withLock { $0.plan }.map(Self.observed)
    }

    func destinations(of service: VirtualServiceKey) throws(IPVSError) -> [ObservedDestination] {
        state.withLock { $0.plan.first { $0.key == service } }.map(Self.observed)?.destinations ?? []
    }

    func perform(_ operations: [IPVSOperation]) -> [Result<Void, IPVSError>] {
        // Only an edit's few writes are looked at (hasDestination); keeping
        // the cold start's 110,000 would add 6.7 MiB that ballastd never holds.
        state.withLock { $0.lastBatch = operations.count <= 64 ? operations : []; $0.writes += operations.count }
        return operations.map { _ in .success(()) }
    }

    var writes: Int { state.withLock { $0.writes } }
    var lastBatch: [IPVSOperation] { state.withLock { $0.lastBatch } }

    private static func observed(_ service: IPVSVirtualService) -> ObservedVirtualService {
        ObservedVirtualService(key: service.key, scheduler: service.scheduler, flags: service.flags,
                               persistence: service.persistence,
                               destinations: service.destinations.map { ObservedDestination(destination: $0) })
    }
}

/// VmRSS and RssAnon in MiB after giving free heap pages back (malloc_trim,
/// looked up at run time as ballastd's FreedMemory does).
func residentMiB() -> (rss: String, anon: String) {
    typealias Trim = @convention(c) (Int) -> Int32
    if let trim = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim") {
        _ = unsafeBitCast(trim, to: Trim.self)(0)
    }
    let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
    func field(_ name: String) -> String {
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix(name + ":") }),
              let kib = Double(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
        else { return "?" }
        let tenths = Int((kib / 102.4).rounded())
        return "\(tenths / 10).\(tenths % 10)"
    }
    return (field("VmRSS"), field("RssAnon"))
}

/// When the loop last received a snapshot from the watcher.
let lastUpdate = Mutex<ContinuousClock.Instant?>(nil)

func ms(_ d: Duration) -> String {
    let micros = d.components.seconds * 1_000_000 + d.components.attoseconds / 1_000_000_000_000
    let tenths = (micros + 50) / 100
    return "\(tenths / 10).\(tenths % 10)"
}

func median(_ values: [Duration]) -> Duration { values.sorted()[values.count / 2] }

/// CPU time of the whole process (watcher thread, loop, kernel queue): on a
/// shared, loaded machine wall-clock time mostly measures the neighbours.
func processCPUTime() -> Duration {
    var usage = rusage()
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
    return .seconds(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
        + .microseconds(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec)
}

let options = Options(CommandLine.arguments)
let clock = ContinuousClock()
let generated = clock.now
try generate(options)
print("edit-bench: \(options.services) Services × \(options.endpoints) endpoints in \(options.directory) "
      + "(generated in \(ms(generated.duration(to: clock.now))) ms)")

// As ballastd does first thing (FreedMemory.configure).
if options.memory { FreedMemory.configure() }
var logger = Logger(label: "ballast.edit-bench")
logger.logLevel = .error
let fake = FakeIPVS()
let standIn = StandInIPVS()
let ipvs: any IPVSControl = options.memory ? standIn : fake
/// IPVS writes so far.
func ipvsWrites() -> Int { options.memory ? standIn.writes : fake.writes.count }
/// Whether the kernel (or the last batch of writes, for the stand-in) has a destination at `address`.
func hasDestination(_ address: String) -> Bool {
    if options.memory {
        return standIn.lastBatch.contains {
            if case .addDestination(_, let d) = $0 { d.address.description == address } else { false }
        }
    }
    return fake.table.contains { $0.destinations.contains { $0.destination.address.description == address } }
}
let vips = FakeVIPControl()
let snat = FakeSNATControl()
let remembered = RememberedSNATControl(wrapping: snat)
let reconciler = DrainingIPVSReconciler(control: ipvs, drainTimeout: .seconds(300))
let stages = SyncStages(ipvs: reconciler, vips: vips, snat: remembered, announcer: SilentAnnouncer(),
                        forgetKernelView: { remembered.forget(); reconciler.forget() })
let pool = AddressPool(name: "bench", ranges: [AddressRange(try CIDR(parsing: "198.18.0.0/16"))])
let configuration = Configuration(pools: [pool], ipvs: IPVSSettings(resyncInterval: .seconds(3600)))
let board = StatusBoard(node: "node-0", dryRun: false, startedAt: Date(), configPath: "edit-bench",
                        source: options.directory)
let waiter = SyncWaiter()
let loop = ReconcileLoop(stages: stages, configuration: configuration, nodeName: "node-0", assignments: [:],
                         persist: nil, board: board, metrics: BallastMetrics(), logger: logger,
                         onSync: { record, _ in waiter.finished(record) })
let source = ManifestFilesSource(directory: options.directory, decoder: kubernetesManifestDecoder, logger: logger)

/// Starts the watcher and the loop, waits for the first sync, then times the edits.
func bench() async throws {
    let started = clock.now
    let updates = try source.updates()
    let feeder = Task {
        for await update in updates {
            lastUpdate.withLock { $0 = clock.now }
            await loop.sourceChanged(update.snapshot, changes: update.changes)
        }
    }
    let runner = Task { await loop.run() }
    var syncs = waiter.stream.makeAsyncIterator()
    guard let first = await syncs.next() else { fatalError("no first sync") }
    print("start: first sync after \(ms(started.duration(to: clock.now))) ms (sync \(ms(first.duration)) ms), "
          + "\(ipvsWrites()) IPVS writes, \(first.plan.ipvs.count) virtual services")
    var memory = ""
    if options.memory {
        let ready = residentMiB()
        standIn.kernelHolds(first.plan.ipvs)
        await loop.trigger(.resync)
        guard let resync = await syncs.next() else { fatalError("no resync") }
        // The stand-in now holds the resync's plan, which the loop and the
        // remembered table hold too: the first plan's arrays would otherwise
        // stay alive in the stand-in only (the kernel's memory, not ballastd's).
        standIn.kernelHolds(resync.plan.ipvs)
        let resynced = residentMiB()
        print("memory: ready rss \(ready.rss) MiB (anon \(ready.anon)), after a resync (full dump) rss \(resynced.rss) MiB "
              + "(anon \(resynced.anon))")
        memory = " ready_rss_mib=\(ready.rss) ready_anon_mib=\(ready.anon) resync_rss_mib=\(resynced.rss) resync_anon_mib=\(resynced.anon)"
    }

    var total: [Duration] = []
    var watcher: [Duration] = []
    var syncDurations: [Duration] = []
    var writeCounts: [Int] = []
    var cpu: [Duration] = []
    for (edit, i) in editedServices(options).enumerated() {
        let new = "10.200.\(i / 250).\(i % 250 + 1)"
        let path = options.directory + "/svc-\(fiveDigits(i)).yaml"
        let aside = options.directory + "/.edit.tmp"
        try write(serviceFile(i, endpoints: options.endpoints, firstEndpoint: new), to: aside)
        let writesBefore = ipvsWrites()
        try await Task.sleep(for: .milliseconds(300))  // a quiet period: the watcher applies a lone change at once
        let edited = clock.now
        let cpuBefore = processCPUTime()
        guard rename(aside, path) == 0 else { fatalError("rename \(aside) → \(path): errno \(errno)") }
        guard let record = await syncs.next() else { fatalError("no sync after the edit") }
        let done = clock.now
        cpu.append(processCPUTime() - cpuBefore)
        let writes = ipvsWrites() - writesBefore
        let arrived = lastUpdate.withLock { $0 } ?? done
        total.append(edited.duration(to: done))
        watcher.append(edited.duration(to: arrived))
        syncDurations.append(record.duration)
        writeCounts.append(writes)
        let moved = hasDestination(new)
        print("edit \(edit + 1): svc-\(i) endpoint → \(new): \(ms(edited.duration(to: done))) ms to sync finished, \(ms(cpu.last!)) ms CPU "
              + "(watcher \(ms(edited.duration(to: arrived))) ms, sync \(ms(record.duration)) ms), \(writes) IPVS writes"
              + (moved ? "" : " — NOT APPLIED"))
    }
    print("edit-bench services=\(options.services) endpoints=\(options.services * options.endpoints) "
          + "edit_to_synced_ms=\(ms(median(total))) cpu_ms=\(ms(median(cpu))) watcher_ms=\(ms(median(watcher))) sync_ms=\(ms(median(syncDurations))) "
          + "edit_writes=\(writeCounts.max() ?? 0)" + memory
          + (options.memory ? " edited_rss_mib=\(residentMiB().rss)" : ""))
    source.stop()
    runner.cancel()
    feeder.cancel()
}

try await bench()
