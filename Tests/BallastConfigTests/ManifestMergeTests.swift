// ManifestMerge, patched file by file, must agree with ManifestSet.snapshot(of:)
// over all files after every change (objects defined twice, legacy Endpoints,
// files removed), name every Service whose object or slices changed, and give
// back each file's objects as it took them (it keeps no copy per file).
import BallastConfig
import BallastCore
import BallastTestSupport
import Testing

@Suite struct ManifestMergeTests {
    static let paths = (0..<6).map { "/m/f\($0).yaml" }
    static let names = (0..<5).map { "s\($0)" }

    /// A random file: a few of a small set of objects, so that files often define the same ones.
    static func randomSet(path: String, using rng: inout SplitMix64) -> ManifestSet {
        var set = ManifestSet()
        var line = 1
        // Mostly where the decoder says (the file's path); sometimes none or
        // elsewhere, which the merge must not rely on.
        func next() -> BallastCore.SourceLocation? {
            line += 3
            if rng.chance(0.1) { return nil }
            return BallastCore.SourceLocation(file: rng.chance(0.9) ? path : rng.pick(paths), line: line)
        }
        for name in names.filter({ _ in rng.chance(0.3) }) {
            set.services.append(Service(ref: ObjectRef(namespace: "ns", name: name), type: .loadBalancer,
                                        ports: [ServicePort(port: rng.pick([80, 443]))], location: next()))
        }
        for name in names.filter({ _ in rng.chance(0.3) }) {
            let endpoints = (0..<Int.random(in: 0...2, using: &rng)).map { e in
                Endpoint(address: IPAddress("10.0.0.\(e + 1)")!, conditions: EndpointConditions(ready: rng.chance(0.7)))
            }
            set.endpointSlices.append(EndpointSlice(ref: ObjectRef(namespace: "ns", name: "\(name)-abc"),
                                                    serviceName: rng.chance(0.9) ? name : rng.pick(names),
                                                    addressType: .ipv4, endpoints: endpoints, location: next()))
        }
        if rng.chance(0.1) {
            let name = rng.pick(names)
            set.legacyEndpointSlices.append(EndpointSlice(ref: ObjectRef(namespace: "ns", name: "\(name)-endpoints-0"),
                                                          serviceName: name, addressType: .ipv4,
                                                          endpoints: [Endpoint(address: IPAddress("10.0.1.1")!)],
                                                          location: next()))
        }
        for name in ["n1", "n2"] where rng.chance(0.15) {
            set.nodes.append(Node(name: name, ready: rng.chance(0.8)))
        }
        if rng.chance(0.1) { set.namespaces.append(Namespace(name: "ns", labels: rng.chance(0.5) ? ["a": "b"] : [:])) }
        return set
    }

    @Test(arguments: 0..<200)
    func patchedMergeEqualsFullMerge(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        var files: [String: ManifestSet] = [:]
        var merge = ManifestMerge()
        var before = ClusterSnapshot()
        for step in 0..<40 {
            let path = rng.pick(Self.paths)
            let set: ManifestSet? = rng.chance(0.2) ? nil : Self.randomSet(path: path, using: &rng)
            files[path] = set
            let changes = merge.update(path: path, to: set)
            let (snapshot, diagnostics) = ManifestSet.snapshot(of: files)
            #expect(merge.snapshot == snapshot, "seed \(seed) step \(step): snapshot")
            #expect(merge.diagnostics == diagnostics, "seed \(seed) step \(step): diagnostics")
            for path in Self.paths {
                #expect(merge.objects(definedIn: path) == files[path], "seed \(seed) step \(step): objects of \(path)")
            }

            // Every change is named (more may be named; never fewer).
            if before.nodes != snapshot.nodes || before.namespaces != snapshot.namespaces {
                #expect(changes.everything, "seed \(seed) step \(step): Nodes or Namespaces changed")
            }
            if !changes.everything {
                for ref in Set(before.services.keys).union(snapshot.services.keys)
                where before.services[ref] != snapshot.services[ref] {
                    #expect(changes.serviceObjects.contains(ref), "seed \(seed) step \(step): Service \(ref)")
                }
                for ref in Set(before.endpointSlices.keys).union(snapshot.endpointSlices.keys)
                where before.endpointSlices[ref] != snapshot.endpointSlices[ref] {
                    for owner in [before.endpointSlices[ref]?.serviceRef, snapshot.endpointSlices[ref]?.serviceRef]
                    where owner != nil {
                        #expect(changes.endpoints.contains(owner!), "seed \(seed) step \(step): slice \(ref)")
                    }
                }
            }
            before = snapshot
        }
    }

    @Test func oneEditedSliceNamesItsServiceAlone() {
        func file(_ name: String, endpoint: String) -> ManifestSet {
            ManifestSet(services: [Service(ref: ObjectRef(namespace: "ns", name: name), type: .loadBalancer,
                                           ports: [ServicePort(port: 80)])],
                        endpointSlices: [EndpointSlice(ref: ObjectRef(namespace: "ns", name: "\(name)-abc"), serviceName: name,
                                                       addressType: .ipv4, endpoints: [Endpoint(address: IPAddress(endpoint)!)])])
        }
        var merge = ManifestMerge()
        merge.update(path: "/m/a.yaml", to: file("a", endpoint: "10.0.0.1"))
        merge.update(path: "/m/b.yaml", to: file("b", endpoint: "10.0.0.2"))
        let changes = merge.update(path: "/m/b.yaml", to: file("b", endpoint: "10.0.0.3"))
        #expect(changes == SnapshotChanges(endpoints: [ObjectRef(namespace: "ns", name: "b")]))
        #expect(merge.update(path: "/m/b.yaml", to: file("b", endpoint: "10.0.0.3")).isEmpty)
    }
}
