import BallastCore
import SourceFiles
import Testing

@Suite struct ManifestFilesTests {
    @Test func mergesFilesAndKeepsLastGoodVersionOfABrokenFile() {
        var set = ManifestFiles()
        let changed1 = set.update(file: "a.yaml", path: "/d/a.yaml", contents: "service default/web", decoder: testDecoder)
        #expect(changed1)
        let changed2 = set.update(file: "b.yaml", path: "/d/b.yaml", contents: "service shop/api", decoder: testDecoder)
        #expect(changed2)
        #expect(set.merged().snapshot.services.keys.sorted() == [ref("default/web"), ref("shop/api")])

        // b.yaml breaks: its last good version stays, a.yaml is untouched.
        let changed3 = set.update(file: "b.yaml", path: "/d/b.yaml", contents: "service shop/api\nbogus", decoder: testDecoder)
        #expect(!changed3)
        let (snapshot, problems) = set.merged()
        #expect(snapshot.services.keys.sorted() == [ref("default/web"), ref("shop/api")])
        #expect(problems == [ManifestProblem(file: "b.yaml", kind: .invalid(usingLastGood: true),
                                             message: "/d/b.yaml:2: cannot read \"bogus\"")])
        #expect(problems[0].description == "/d/b.yaml:2: cannot read \"bogus\" (the last good version of b.yaml stays in force)")

        // Fixed: the problem goes away and the new content is in force.
        let changed4 = set.update(file: "b.yaml", path: "/d/b.yaml", contents: "service shop/cart", decoder: testDecoder)
        #expect(changed4)
        #expect(set.merged().problems.isEmpty)
        #expect(set.merged().snapshot.services.keys.sorted() == [ref("default/web"), ref("shop/cart")])
    }

    @Test func brokenNewFileContributesNothing() {
        var set = ManifestFiles()
        set.update(file: "new.yaml", path: "/d/new.yaml", contents: "oops", decoder: testDecoder)
        let (snapshot, problems) = set.merged()
        #expect(snapshot.services.isEmpty)
        #expect(problems.map(\.description) == ["/d/new.yaml:1: cannot read \"oops\" (nothing from new.yaml is in use)"])
    }

    @Test func removingAFileWithdrawsItsObjects() {
        var set = ManifestFiles()
        set.update(file: "a.yaml", path: "/d/a.yaml", contents: "service default/web", decoder: testDecoder)
        let changed5 = set.remove(file: "a.yaml")
        #expect(changed5)
        let changed6 = set.remove(file: "a.yaml")
        #expect(!changed6)
        #expect(set.merged().snapshot.services.isEmpty)
    }

    @Test func sameTextIsNotDecodedAgain() {
        var set = ManifestFiles()
        set.update(file: "a.yaml", path: "/d/a.yaml", contents: "service default/web", decoder: testDecoder)
        let failing: ManifestDecoder = { _, _ in throw TestDecodeError(path: "x", line: 1, message: "decoded again") }
        let changed7 = set.update(file: "a.yaml", path: "/d/a.yaml", contents: "service default/web", decoder: failing)
        #expect(!changed7)
        #expect(set.merged().problems.isEmpty)
    }

    @Test func duplicateObjectsKeepTheFirstFileByName() {
        var set = ManifestFiles()
        set.update(file: "b.yaml", path: "/d/b.yaml", contents: "service default/web\nnode n1", decoder: testDecoder)
        set.update(file: "a.yaml", path: "/d/a.yaml", contents: "service default/web", decoder: testDecoder)
        let (snapshot, problems) = set.merged()
        #expect(snapshot.services.count == 1)
        #expect(snapshot.nodes.keys.sorted() == ["n1"])
        // The Service and its EndpointSlice (the test decoder makes one per Service) are both reported.
        #expect(problems.map(\.kind) == [.warning, .warning])
        #expect(problems.first?.message.contains("Service default/web is defined in /d/a.yaml and in /d/b.yaml; the one in /d/b.yaml is ignored") == true)
    }

    @Test func realManifestsDecode() throws {
        var set = ManifestFiles()
        let yaml = """
            apiVersion: v1
            kind: Service
            metadata: {name: web, namespace: shop}
            spec:
              type: LoadBalancer
              ports: [{port: 80}]
            ---
            apiVersion: v1
            kind: Service
            metadata: {name: api, namespace: shop}
            spec:
              type: LoadBalancer
              ports: [{port: "eighty"}]
            """
        set.update(file: "shop.yaml", path: "/d/shop.yaml", contents: yaml, decoder: kubernetesManifestDecoder)
        let (snapshot, problems) = set.merged()
        #expect(snapshot.services.isEmpty)
        #expect(problems.count == 1)
        #expect(problems.first?.message.hasPrefix("/d/shop.yaml:13:") == true, "\(problems)")
    }

    @Test(arguments: [
        ("web.yaml", true), ("web.yml", true), ("web.json", true),
        (".web.yaml.swp", false), (".#web.yaml", false), ("web.yaml~", false), ("#web.yaml#", false),
        ("..data", false), (".web.yaml.tmp", false), ("README", false), ("web.yaml.kate-swp", false),
    ])
    func manifestFileNames(name: String, counts: Bool) {
        #expect(isManifestFileName(name) == counts)
    }
}
