// Timing of a manifest directory load: files → ManifestSets → ClusterSnapshot,
// what ballastd does before it is READY. Run through scripts/bench/manifest-bench
// (release build). Prints numbers; asserts nothing.
import BallastConfig
import BallastCore
import FoundationEssentials
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

struct Options {
    var directory = ".build/manifest-bench"
    var services = 10_000
    var endpoints = 10
    var runs = 5
    var layouts = Layout.allCases

    init(_ arguments: ArraySlice<String>) {
        var args = arguments
        func value(_ flag: String) -> String {
            guard let v = args.popFirst() else { fatalError("\(flag) needs a value") }
            return v
        }
        var named: [Layout] = []
        while let arg = args.popFirst() {
            switch arg {
            case "--dir": directory = value(arg)
            case "--services": services = Int(value(arg))!
            case "--endpoints": endpoints = Int(value(arg))!
            case "--runs": runs = Int(value(arg))!
            default:
                guard let layout = Layout(rawValue: arg) else {
                    fatalError("unknown argument \(arg); layouts: \(Layout.allCases.map(\.rawValue).joined(separator: " "))")
                }
                named.append(layout)
            }
        }
        if !named.isEmpty { layouts = named }
    }
}

/// User + system time of the whole process: the load may run on several threads.
func processCPUTime() -> Duration {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    func duration(_ t: timeval) -> Duration { .seconds(t.tv_sec) + .microseconds(t.tv_usec) }
    return duration(usage.ru_utime) + duration(usage.ru_stime)
}

func ms(_ d: Duration) -> String {
    let micros = d.components.seconds * 1_000_000 + d.components.attoseconds / 1_000_000_000_000
    return "\((micros + 500) / 1000) ms"
}

/// Generates `layout` unless the directory already holds it for this shape.
func prepare(_ layout: Layout, _ shape: ClusterShape, under root: String) throws -> String {
    let directory = "\(root)/\(layout.rawValue)"
    let stamp = "\(root)/\(layout.rawValue).done"
    let expected = "\(shape.services) \(shape.endpointsPerService) \(generatorVersion)"
    if (try? String(contentsOfFile: stamp, encoding: .utf8)) == expected { return directory }
    try layout.write(shape, to: directory)
    try Data(expected.utf8).write(to: URL(fileURLWithPath: stamp), options: .atomic)
    return directory
}

/// Bumped whenever Generator.swift changes what it writes.
let generatorVersion = 2

struct Loaded {
    var files: Int
    var snapshot: ClusterSnapshot
    var problems: Int
}

func load(_ directory: String) -> Loaded {
    guard case .success(let files) = ManifestDirectory.load(directory: directory) else {
        fatalError("cannot list \(directory)")
    }
    var sets: [String: ManifestSet] = [:]
    var problems = 0
    for file in files {
        switch file.result {
        case .success(let set): sets[file.path] = set
        case .failure(let diagnostics):
            problems += diagnostics.errors.count
            if problems == diagnostics.errors.count { print(diagnostics) }
        }
    }
    let (snapshot, diagnostics) = ManifestSet.snapshot(of: sets)
    return Loaded(files: files.count, snapshot: snapshot, problems: problems + diagnostics.count)
}

func bytes(in directory: String) -> Int {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
    return names.reduce(0) { total, name in
        let size = (try? FileManager.default.attributesOfItem(atPath: directory + "/" + name)[.size]) as? Int
        return total + (size ?? 0)
    }
}

let options = Options(CommandLine.arguments.dropFirst())
let shape = ClusterShape(services: options.services, endpointsPerService: options.endpoints)
print("manifest-bench: \(shape.services) LoadBalancer Services + \(shape.services) EndpointSlices "
      + "x \(shape.endpointsPerService) endpoints, \(options.runs) runs, \(ProcessInfo.processInfo.activeProcessorCount) CPUs")
let clock = ContinuousClock()
for layout in options.layouts {
    let directory = try prepare(layout, shape, under: options.directory)
    var wall: [Duration] = []
    var cpu: [Duration] = []
    var last: Loaded?
    for _ in 0..<options.runs {
        let start = clock.now, startCPU = processCPUTime()
        let loaded = load(directory)
        cpu.append(processCPUTime() - startCPU)
        wall.append(clock.now - start)
        last = loaded
    }
    wall.sort()
    cpu.sort()
    let result = last!
    let endpoints = result.snapshot.endpointSlices.values.reduce(0) { $0 + $1.endpoints.count }
    let megabytes = Double(bytes(in: directory)) / 1_000_000
    print("\(layout.rawValue) (\(layout.summary); \(result.files) files, \((megabytes * 10).rounded() / 10) MB): "
          + "wall median \(ms(wall[options.runs / 2])) (min \(ms(wall[0]))), "
          + "CPU user+sys median \(ms(cpu[options.runs / 2])) (min \(ms(cpu[0]))); "
          + "\(result.snapshot.services.count) services, \(result.snapshot.endpointSlices.count) slices, "
          + "\(endpoints) endpoints, \(result.problems) problems")
}
