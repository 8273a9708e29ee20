import BallastCore
import Testing
@testable import BallastConfig

/// The generic layer: YAML/JSON to located nodes, typed reads, findings.
@Suite struct DecodingTests {
    /// Decodes `yaml`'s single document with `read` and returns the value and the printed findings.
    private func read<T>(_ yaml: String, _ read: (MappingReader) -> T?) throws -> (T?, [String]) {
        let sink = DiagnosticSink()
        let documents = try YAMLDocuments.parse(yaml, file: "t.yaml")
        let value = Value(node: documents[0], path: "", sink: sink).mapping().flatMap(read)
        return (value, sink.all.map(\.description))
    }

    @Test(arguments: [
        ("v: true", true), ("v: False", false), ("v: TRUE", true),
    ])
    func booleans(yaml: String, expected: Bool) throws {
        let (value, findings) = try read(yaml) { $0["v"]?.bool() }
        #expect(value == expected)
        #expect(findings.isEmpty)
    }

    /// YAML 1.2 core schema: yes/no/on/off are words, and a quoted value is a string.
    @Test(arguments: [
        ("v: yes", "t.yaml:1:4: error: v: expected true or false, found \"yes\"\n  hint: write true or false"),
        ("v: off", "t.yaml:1:4: error: v: expected true or false, found \"off\"\n  hint: write true or false"),
        ("v: \"true\"", "t.yaml:1:4: error: v: expected true or false, found \"true\"\n  hint: remove the quotes"),
        ("v: [true]", "t.yaml:1:4: error: v: expected true or false, found a list"),
    ])
    func notBooleans(yaml: String, expected: String) throws {
        let (value, findings) = try read(yaml) { $0["v"]?.bool() }
        #expect(value == nil)
        #expect(findings == [expected])
    }

    @Test(arguments: [
        ("v: 42", 42, nil),
        ("v: -7", -7, nil),
        ("v: '42'", nil, "t.yaml:1:4: error: v: expected an integer, found \"42\"\n  hint: remove the quotes"),
        ("v: 4.2", nil, "t.yaml:1:4: error: v: expected an integer, found \"4.2\""),
        ("v: 0x10", nil, "t.yaml:1:4: error: v: expected an integer, found \"0x10\""),
    ] as [(String, Int?, String?)])
    func integers(yaml: String, expected: Int?, finding: String?) throws {
        let (value, findings) = try read(yaml) { $0["v"]?.int() }
        #expect(value == expected)
        #expect(findings == (finding.map { [$0] } ?? []))
    }

    @Test func integersOutOfRange() throws {
        let (value, findings) = try read("v: 70000") { $0["v"]?.int(in: 1...65535) }
        #expect(value == nil)
        #expect(findings == ["t.yaml:1:4: error: v: 70000 is out of range 1-65535"])
    }

    @Test func stringsKeepTheirTextAndNullIsAbsent() throws {
        let yaml = """
        a: 1234
        b: "x: y"
        c: null
        d: ~
        e:
        f: no
        """
        let (value, findings) = try read(yaml) { m in
            [m["a"]?.string(), m["b"]?.string(), m["c"]?.string(), m["d"]?.string(), m["e"]?.string(), m["f"]?.string()]
        }
        #expect(value == ["1234", "x: y", nil, nil, nil, "no"])
        #expect(findings.isEmpty)
    }

    @Test func unknownKeysSuggestTheNearestKnownOne() throws {
        let yaml = """
        autoassign: true
        avoid-buggy-ips: true
        adresses: []
        colour: red
        """
        let sink = DiagnosticSink()
        let node = try YAMLDocuments.parse(yaml, file: "t.yaml")[0]
        _ = Value(node: node, path: "pools[0]", sink: sink)
            .mapping(keys: ["autoAssign", "avoidBuggyIPs", "addresses"], unknownKeys: .error)
        #expect(sink.all.map(\.description) == [
            "t.yaml:1:1: error: pools[0]: unknown key \"autoassign\"\n  hint: did you mean \"autoAssign\"? (keys allowed here: autoAssign, avoidBuggyIPs, addresses)",
            "t.yaml:2:1: error: pools[0]: unknown key \"avoid-buggy-ips\"\n  hint: did you mean \"avoidBuggyIPs\"? (keys allowed here: autoAssign, avoidBuggyIPs, addresses)",
            "t.yaml:3:1: error: pools[0]: unknown key \"adresses\"\n  hint: did you mean \"addresses\"? (keys allowed here: autoAssign, avoidBuggyIPs, addresses)",
            "t.yaml:4:1: error: pools[0]: unknown key \"colour\"\n  hint: keys allowed here: autoAssign, avoidBuggyIPs, addresses",
        ])
    }

    @Test func choicesAreExactAndSuggest() throws {
        let (value, findings) = try read("type: Loadbalancer") { $0["type"]?.choice(ServiceType.self) }
        #expect(value == nil)
        #expect(findings == ["""
            t.yaml:1:7: error: type: "Loadbalancer" is not valid
              hint: did you mean "LoadBalancer"? (valid values: ClusterIP, NodePort, LoadBalancer, ExternalName)
            """])
    }

    @Test(arguments: [
        ("a: 1\n\tb: 2\n", "t.yaml:2:1: error: YAML syntax: found a tab character that violates indentation (while scanning a plain scalar at line 1)\n  hint: indent with spaces; YAML does not allow tabs for indentation"),
        ("a: [1, 2\nb: 3\n", "t.yaml:2:2: error: YAML syntax: did not find expected ',' or ']' (while parsing a flow sequence at line 1)"),
        ("a: 1\nb: 2\na: 3\n", "t.yaml:1:1: error: key \"a\" appears more than once in one mapping\n  hint: keep one of them; YAML mappings cannot repeat a key"),
        ("a: *nowhere\n", "t.yaml:1:4: error: YAML syntax: found undefined alias"),
    ])
    func syntaxErrorsAreLocated(yaml: String, expected: String) {
        #expect(messages { () throws(Diagnostics) in try YAMLDocuments.parse(yaml, file: "t.yaml") } == [expected])
    }

    @Test func emptyDocumentsAreDropped() throws {
        let documents = try YAMLDocuments.parse("---\n# only a comment\n---\na: 1\n---\n", file: "t.yaml")
        #expect(documents.count == 1)
        #expect(documents[0].location == Location(file: "t.yaml", line: 4, column: 1))
    }

    @Test func jsonIsRead() throws {
        let json = "{\n    \"a\": [1, \"2\", true, null],\n    \"b\": {\"c\": \"d\"}\n}\n"
        let (value, findings) = try read(json) { m -> [String?]? in
            guard let a = m["a"]?.list() else { return nil }
            return [a[0].int().map(String.init), a[1].string(), a[2].bool().map(String.init), a[3].isNull ? "null" : nil,
                    m["b"]?.mapping()?["c"]?.string(), "\(m["b"]!.location)"]
        }
        #expect(value == ["1", "2", "true", "null", "d", "t.yaml:3:10"])
        #expect(findings.isEmpty)
    }

    /// A literal block scalar maps line for line onto the file; other styles pin to the scalar.
    @Test func embeddedTextKeepsFilePositions() throws {
        let outer = "data:\n  config: |\n    a: 1\n\n    b: [x\n"
        let block = try YAMLDocuments.parse(outer, file: "cm.yaml")[0]
        guard case .mapping(let pairs) = block.content, case .mapping(let data) = pairs[0].value.content else {
            Issue.record("unexpected shape")
            return
        }
        let origin = TextOrigin(embeddedIn: data[0].value, source: outer)
        #expect(messages { () throws(Diagnostics) in try YAMLDocuments.parse(data[0].value.scalar!.text, origin: origin) }
            == ["cm.yaml:6:5: error: YAML syntax: did not find expected ',' or ']' (while parsing a flow sequence at line 5)"])

        let quoted = try YAMLDocuments.parse("config: \"a: [x\"\n", file: "cm.yaml")[0]
        guard case .mapping(let q) = quoted.content else { return }
        #expect(messages { () throws(Diagnostics) in
            try YAMLDocuments.parse(q[0].value.scalar!.text, origin: TextOrigin(embeddedIn: q[0].value, source: ""))
        }.map { $0.prefix(13) } == ["cm.yaml:1:9: "])
    }

    @Test(arguments: [
        ("autoassign", ["autoAssign", "addresses"], "autoAssign"),
        ("intrefaces", ["interfaces", "nodeSelectors"], "interfaces"),
        ("burst-count", ["burstCount", "burstInterval"], "burstCount"),
        ("xyz", ["pools", "announce"], nil),
        ("pool", ["pools", "ipvs"], "pools"),
    ] as [(String, [String], String?)])
    func suggestions(word: String, candidates: [String], expected: String?) {
        #expect(Suggestion.closest(to: word, in: candidates) == expected)
    }

    @Test func diagnosticsPrintLikeACompiler() {
        let d = Diagnostics([
            Diagnostic(.error, "bad", at: Location(file: "f.yaml", line: 7, column: 9), hint: "fix it"),
            Diagnostic(.warning, "odd", at: nil),
        ])
        #expect(d.description == "f.yaml:7:9: error: bad\n  hint: fix it\nwarning: odd\n1 error, 1 warning")
    }
}
