// The edit path in process, natively: the real manifest watcher on a
// directory of one file per Service and its EndpointSlice, the real reconcile
// loop with BallastFakes' in-memory kernel (IPVS table remembered between
// syncs, SNAT table remembered, as in the daemon), then one endpoint address
// changed in one file (written aside and renamed over it, as an editor or
// `kubectl get -o yaml >` does) and timed until the sync that applies it has
// finished. Run through scripts/bench/edit-bench (release build). Prints
// numbers; asserts nothing but the edit's effect.
import BallastConfig
import BallastCore
import BallastFakes
import Daemon
import Foundation
import Logging
import SourceFiles
import Synchronization

struct Options {
    var services = 10_000
    var endpoints = 10
    var edits = 7
    var directory = ".build/edit-bench/manifests"

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
            default: fatalError("unknown argument \(argument) (--services N --endpoints M --edits K --dir DIR)")
            }
        }
    }
}

/// Service i (0-based): svc-i in namespace ns-(i%10); its endpoint k is
/// 10.(k+1).(i/250).(i%250+1):8080 on node-(k%10) (daemon-bench's shape).
func serviceFile(_ i: Int, endpoints: Int, firstEndpoint: String? = nil) -> String {
    let name = String(format: "svc-%05d", i)
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

/// Writes the manifests, or (same shape already there) restores the files earlier edits changed.
func generate(_ options: Options) throws {
    let fm = FileManager.default
    let marker = options.directory + "/.generated-\(options.services)x\(options.endpoints)"
    if fm.fileExists(atPath: marker) {
        for i in editedServices(options) {
            try serviceFile(i, endpoints: options.endpoints)
                .write(toFile: options.directory + String(format: "/svc-%05d.yaml", i), atomically: false, encoding: .utf8)
        }
        return
    }
    try? fm.removeItem(atPath: options.directory)
    try fm.createDirectory(atPath: options.directory, withIntermediateDirectories: true)
    let nodes = (0..<10).map { "apiVersion: v1\nkind: Node\nmetadata:\n  name: node-\($0)\n" }.joined(separator: "---\n")
    try nodes.write(toFile: options.directory + "/nodes.yaml", atomically: false, encoding: .utf8)
    for i in 0..<options.services {
        try serviceFile(i, endpoints: options.endpoints)
            .write(toFile: options.directory + String(format: "/svc-%05d.yaml", i), atomically: false, encoding: .utf8)
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

var logger = Logger(label: "ballast.edit-bench")
logger.logLevel = .error
let ipvs = FakeIPVS()
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
          + "\(ipvs.writes.count) IPVS writes, \(ipvs.table.count) virtual services")

    var total: [Duration] = []
    var watcher: [Duration] = []
    var syncDurations: [Duration] = []
    var writeCounts: [Int] = []
    var cpu: [Duration] = []
    for (edit, i) in editedServices(options).enumerated() {
        let new = "10.200.\(i / 250).\(i % 250 + 1)"
        let path = options.directory + String(format: "/svc-%05d.yaml", i)
        let aside = options.directory + "/.edit.tmp"
        try serviceFile(i, endpoints: options.endpoints, firstEndpoint: new).write(toFile: aside, atomically: false, encoding: .utf8)
        let writesBefore = ipvs.writes.count
        try await Task.sleep(for: .milliseconds(300))  // a quiet period: the watcher applies a lone change at once
        let edited = clock.now
        let cpuBefore = processCPUTime()
        guard rename(aside, path) == 0 else { fatalError("rename \(aside) → \(path): errno \(errno)") }
        guard let record = await syncs.next() else { fatalError("no sync after the edit") }
        let done = clock.now
        cpu.append(processCPUTime() - cpuBefore)
        let writes = ipvs.writes.count - writesBefore
        let arrived = lastUpdate.withLock { $0 } ?? done
        total.append(edited.duration(to: done))
        watcher.append(edited.duration(to: arrived))
        syncDurations.append(record.duration)
        writeCounts.append(writes)
        let moved = ipvs.table.contains { $0.destinations.contains { $0.destination.address.description == new } }
        print("edit \(edit + 1): svc-\(i) endpoint → \(new): \(ms(edited.duration(to: done))) ms to sync finished, \(ms(cpu.last!)) ms CPU "
              + "(watcher \(ms(edited.duration(to: arrived))) ms, sync \(ms(record.duration)) ms), \(writes) IPVS writes"
              + (moved ? "" : " — NOT APPLIED"))
    }
    print("edit-bench services=\(options.services) endpoints=\(options.services * options.endpoints) "
          + "edit_to_synced_ms=\(ms(median(total))) cpu_ms=\(ms(median(cpu))) watcher_ms=\(ms(median(watcher))) sync_ms=\(ms(median(syncDurations))) "
          + "edit_writes=\(writeCounts.max() ?? 0)")
    source.stop()
    runner.cancel()
    feeder.cancel()
}

try await bench()
