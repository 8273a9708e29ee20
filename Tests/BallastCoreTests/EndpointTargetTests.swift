import Testing
@testable import BallastCore

/// The targetRef of an endpoint, kept as a 64-bit hash (issue 5, memory).
@Suite struct EndpointTargetTests {
    /// 100,000 endpoints at 10,000 Services: every byte of an Endpoint is 100 KB.
    @Test func endpointIs48Bytes() {
        #expect(MemoryLayout<Endpoint>.stride == 48)
        #expect(MemoryLayout<EndpointTarget>.stride == 8)
    }

    /// FNV-1a 64 of "Pod\0shop\0web-0\0", the same in every process (unlike Swift's seeded Hasher).
    @Test func theHashIsFNV1aOverTheFieldsEachEndedByAZeroByte() {
        #expect(EndpointTarget(kind: "Pod", namespace: "shop", name: "web-0").value == 0xc455_ed5b_7fb2_b1b1)
        #expect(EndpointTarget.pod(ObjectRef(namespace: "shop", name: "web-0"))
                == EndpointTarget(kind: "Pod", namespace: "shop", name: "web-0"))
    }

    @Test func bytesAndStringsHashAlike() {
        var hash = EndpointTarget.FNV1a()
        for field in ["Pod", "shop", "web-7d9f8b6c5d-x2k4q"] {
            Array(field.utf8).withUnsafeBufferPointer { hash.combine($0) }
        }
        #expect(hash.target == EndpointTarget(kind: "Pod", namespace: "shop", name: "web-7d9f8b6c5d-x2k4q"))
    }

    /// The separators keep the fields apart: moving a character across a boundary is another object.
    @Test(arguments: [("Pod", "ab", "c"), ("Pod", "a", "bc"), ("Po", "dab", "c"), ("", "Podab", "c"), ("Pod", "abc", "")])
    func fieldBoundariesCount(kind: String, namespace: String, name: String) {
        let others = [("Pod", "ab", "c"), ("Pod", "a", "bc"), ("Po", "dab", "c"), ("", "Podab", "c"), ("Pod", "abc", "")]
            .filter { $0 != (kind, namespace, name) }
            .map { EndpointTarget(kind: $0.0, namespace: $0.1, name: $0.2) }
        #expect(!others.contains(EndpointTarget(kind: kind, namespace: namespace, name: name)))
    }

    @Test func noneIsNotAnyObject() {
        #expect(EndpointTarget.none.isNone && EndpointTarget.none.value == 0)
        #expect(!EndpointTarget(kind: "", namespace: "", name: "").isNone)
        #expect(Endpoint(address: ip("10.0.0.1")).target == .none)
    }

    /// Endpoints of a Service in two slices: one Pod counts once, two Pods twice,
    /// and endpoints without a targetRef count by address.
    @Test func podsCountOnceAcrossSlices() {
        let state = desired(for: "node-a", cluster([lb("ns/web")], [
            slice("web-1", of: "ns/web", [endpoint("10.0.0.1", on: "node-a", pod: "ns/pod-1"),
                                          endpoint("10.0.0.3", on: "node-a"),
                                          endpoint("10.0.0.4", on: "node-a")]),
            slice("web-2", of: "ns/web", [endpoint("10.0.0.1", on: "node-a", pod: "ns/pod-1"),
                                          endpoint("10.0.0.2", on: "node-a", pod: "ns/pod-2"),
                                          endpoint("10.0.0.3", on: "node-a")]),
        ]), live: ["node-a"])
        #expect(state.services[ref("ns/web")]?.endpoints == EndpointCounts(ready: 4, draining: 0, total: 4))
    }
}
