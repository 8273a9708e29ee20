import BallastCore
import BallastTestSupport
import Foundation
import Testing
@testable import BallastConfig

/// The libyaml composer must read every text exactly as Yams did (`YamsReading`):
/// the same nodes (text, style, tag, place) or the same findings, word for word.
///
/// In this test binary both readings run on the libyaml that Yams compiles in
/// (its definitions take precedence over the shared library's), so these tests
/// compare the composers; ballastd itself links Debian's libyaml 0.2.5.
@Suite struct LibYAMLParityTests {
    /// The nodes of every document, or the printed findings.
    static func reading(_ parse: (String, TextOrigin) throws(Diagnostics) -> [YAMLNode], _ text: String,
                        origin: TextOrigin = TextOrigin(file: "t.yaml")) -> [String] {
        do throws(Diagnostics) {
            return try parse(text, origin).map(FastYAMLTests.dump)
        } catch {
            return error.all.map(\.description)
        }
    }

    @discardableResult
    static func agree(_ text: String, origin: TextOrigin = TextOrigin(file: "t.yaml"),
                      sourceLocation: Testing.SourceLocation = #_sourceLocation) -> Bool {
        let composed = reading(YAMLDocuments.parseWithLibYAML, text, origin: origin)
        let reference = reading(YamsReading.parse, text, origin: origin)
        #expect(composed == reference, "input: \(String(reflecting: text))", sourceLocation: sourceLocation)
        return composed == reference
    }

    static let anchors = [
        "a: &x 1\nb: *x\n",
        "a: &x {k: v, l: [1, 2]}\nb: *x\nc: [*x, *x]\n",
        "&r [*r]\n",
        "a: &x 1\nb: &x 2\nc: *x\n",
        "--- &x a\n--- *x\n",
        "--- &x {k: v}\n---\n- *x\n- *x\n",
        "a: &k key\n? *k\n: v\n",
        "- &k x\n- {*k : 1}\n- *k\n",
        "? &c [a, b, {c: d}]\n: 1\nd: *c\n",
        "a: &e\nb: *e\n",
        "a: &x !t v\nb: *x\n",
        "a: &x ! v\n*x : 1\nb: *x\n",
        "a: &x 'q'\n*x : 1\n",
        "a: *x\n",
        "a: &x [1]\nb: &y [*x, *x]\nc: [*y, *y]\n",
        "&a a: &b b\n*b : *a\n",
    ]

    static let mergeKeys = [
        "base: &b {x: 1, y: 2}\nd:\n  <<: *b\n  y: 3\n",
        "a: &a {x: 1}\nb: &b {y: 2}\nd:\n  <<: [*a, *b]\n  z: 3\n",
        "<<: 1\n<<: 2\n",
        "d:\n  <<: {x: 1}\n  x: 2\n",
    ]

    static let blockScalars = [
        "a: |\n  x\n  y\n", "a: >-\n  x\n\n  y\n", "a: |2\n   x\n", "a: |+\n  x\n\n", "a: >+\n  x\n\n\n",
        "- |\n  a\n- >\n  b\n", "|\n  top\n", "--- >\n  folded\n  text\n", "a: |\n\n  after blank\n",
        "a: |-\n  x\nb: >2-\n    y\n", "a: !t |\n  x\n", "a: ! |\n  x\n", "a: |\n  x\n y\n", "a: |\n    x\n  y\n",
        "a: |0\n  x\n", "a: |1-+\n x\n", "? |\n  k\n: v\n", "a: >\n  x\n   indented\n  back\n",
    ]

    static let flowCollections = [
        "{a: [1, {b: c}], 'd': \"e\"}", "[a, b, {c: d}, [e]]", "{a, b: c}", "[a: b, c]", "{? a : b}", "[? a : b]",
        "{\"a\":1,}", "[1,,2]", "[a, b]]", "}", "{a: 1\n", "[\n  a,\n  b\n]\n", "{a: {b: {c: {}}}}", "[[], {}, '', \"\"]",
        "{a: b, a: c}", "[{a: 1, a: 2}]", "{\"a\": [1, 2.5, true, null, \"x\\u00e9\\ud83d\\ude00\"]}", "[a, b\nc]",
        "{a: [b, c}", "[a: b: c]", "{a: 'x\n  y'}", "[- a]", "{a: -b}", "{: a}", "[: a]", "{a: }",
    ]

    static let tags = [
        "!!str 1", "a: !!int '1'\n", "a: !foo bar\n", "a: !<tag:x.com,2000:y> v\n",
        "%TAG !e! tag:e.com,2000:\n---\na: !e!t v\n", "a: ! v\n", "a: ! 'v'\n", "!!map {a: 1}", "!!seq [1]",
        "a: !!binary aGk=\n", "!!null ''", "a: !!null\n", "!!str\n", "? !!str a\n: 1\na: 2\n", "!x a: 1\na: 2\n",
        "a: 1\n'a': 2\n", "1: a\n'1': b\n", "~: a\nnull: b\n", "? \n: a\n? \n: b\n", "[a]: 1\n[a]: 2\n",
        "{a: 1}: x\n{a: 1}: y\n", "!!seq [a]: 1\n[a]: 2\n", "!t [a]: 1\n[a]: 2\n",
        "{!!value k: name}: 1\n{!!value k: name}: 2\n", "b: 1\na: 2\nb: 3\na: 4\n", "é: 1\ne\u{301}: 2\n",
        "!e!x a\n", "%TAG ! a\n%TAG ! b\n---\nx\n", "!<> x", "!! x", "a: !!str\nb: !t\n", "! a: 1\na: 2\n",
        "a: !!str &x 1\n*x : 2\n", "z: 1\ny: 2\nz: 3\ny: 4\nx: 5\nx: 6\n",
    ]

    static let documents = [
        "a: 1\n---\nb: 2\n", "--- 1\n--- 2\n...\n", "---\n---\n", "", "# c\n", "...\n", "%YAML 1.1\n---\na: 1\n",
        "%YAML 1.3\n---\na\n", "%YAML 2.0\n---\n", "a: 1\n...\n---\nb\n", "--- |\n  x\n", "---\n~\n---\nnull\n---\n''\n",
        "%FOO bar\n---\na\n", "a\n---\n%YAML 1.1\n", "a\n...\n%YAML 1.1\n---\nb\n", "--- a\nb\n", "---a\n", "- a\n--- b\n",
        "%YAML 1.1\n%YAML 1.1\n---\n", "a: 1\n--- \n...\n...\n",
    ]

    static let bomsAndTabs = [
        "\u{FEFF}a: 1\n", "\u{FEFF}---\na: 1\n---\n\u{FEFF}b: 2\n", "a: \"\\uFEFFx\"\n", "a: \"\\uFEFF\\uFEFFx\"\n",
        "a: \u{FEFF}x\n", "\u{FEFF}", "\u{FEFF}\u{FEFF}a\n", "a:\n\u{FEFF}  b: 1\n", "a:\tb\n", "a: 1\n\tb: 2\n", "\ta: 1\n",
        "a: |\n\tx\n", "- \ta\n", "a: [\t1]\n", "a:\t\n\t- x\n", "a: 'x\ty'\n", "a: b\t# c\n",
    ]

    static let errors = [
        "a: [1, 2\nb: 3\n", "a: b: c\n", "'unterminated\n", "\"bad \\q escape\"\n", "- a\nb: c\n", "a: \u{1}\n",
        "x\u{7F}", "a: \u{FFFE}", "ab\u{0}cd", "é\u{1}", "e\u{301}\u{1}", "\r\n\u{1}", "日本\u{2}", "a: b\n\u{85}c: d\n",
        "key: value\n  - bad\n", "&a &b x", "!a !b x", "a: @b\n", "a: `b\n", "a:\n- b\n -c\n", "? a\n? b\n",
        "a: 'x\n\n  y'\n", "a: \"x\\\n  y\"\n", "a: plain\n  continued\n  more\n", "a:    \n", "- - - x\n", "-\n-\n",
        "\(String(repeating: "k", count: 1100)): v\n", "é: [1,\n ü: x\n", "日本: {a: [1,}\n", "a: 1\r\nb: [x\r\n",
        "a: \"\\uD83D\"\n", "a: \"\\x4\"\n", "*\n", "&\n", "a: &x\n", "? - a\n  - b\n: c\n", "- ? a\n  : b\n",
        "a:\n  b\n c\n", "a\nb: c\n", "[a\n,b]\n", "a: \"\n", "a: '", "- a\n - b\n", "a: !<x y\n",
        "%TAG !e! \n---\n", "%YAML\n", "--- !e!x\n", "a: b\n...\nc\n",
    ]

    @Test(arguments: anchors + mergeKeys + blockScalars + flowCollections + tags + documents + bomsAndTabs + errors)
    func corpus(text: String) {
        Self.agree(text)
    }

    /// The test cases of FastYAMLTests and the manifest fixtures.
    @Test func fastYAMLCasesAgree() throws {
        for text in FastYAMLTests.sampleTexts { Self.agree(text) }
        let manifests = Fixture.directory.appendingPathComponent("manifests")
        for name in try FileManager.default.contentsOfDirectory(atPath: manifests.path).sorted() {
            Self.agree(try Fixture.text("manifests/\(name)"))
        }
    }

    /// Lines and columns of findings shift with an embedded text's place; a pinned text reports at the string.
    @Test(arguments: ["a: [1,\nb", "a: 1\na: 2\n", "\t- x", "a: *y\n", "a: \u{1}"])
    func placedTexts(text: String) {
        Self.agree(text, origin: TextOrigin(file: "cm.yaml", lineOffset: 4, columnOffset: 6))
        Self.agree(text, origin: TextOrigin(pinnedTo: Location(file: "cm.yaml", line: 3, column: 11)))
    }

    /// FastYAMLTests' random documents and their random edits, one and several documents to a text.
    @Test func randomDocumentsAgree() {
        var generator = FastYAMLTests.Generator(r: SplitMix64(seed: 0x11b7a))
        for _ in 0..<1500 {
            let text = generator.document()
            for variant in [text, generator.mutate(text), generator.mutate(text)] where !Self.agree(variant) {
                return  // one reported difference is enough
            }
        }
        for _ in 0..<200 {
            let text = (0..<Int.random(in: 2...5, using: &generator.r)).map { _ in generator.document() }.joined()
            guard Self.agree(generator.mutate(text)) else { return }
        }
    }

    /// The same documents with the YAML that manifests rarely use spliced in:
    /// anchors and aliases, merge keys, tags, explicit keys, block scalars, BOMs.
    @Test func randomExoticEditsAgree() {
        var generator = FastYAMLTests.Generator(r: SplitMix64(seed: 0xe7071c))
        let splices = ["&a ", "&b ", "*a", "*b", " *a", "<<: *a\n", "<<: [*a, *b]\n", "!!str ", "!t ", "! ", "!!int ",
                       "!<tag:x> ", "? ", "? *a\n: ", "|\n  ", ">-\n  ", "|+\n", "\u{FEFF}", "---\n", "--- &a ", "...\n",
                       "%YAML 1.1\n---\n", "{a: *a}", "[*a, *b]", "&a [", "&b {k: ", "k: 1\n", "k: 2\n", "\"\\uFEFF\"",
                       "'", "\t", "\u{1}", "é", "e\u{301}"]
        for _ in 0..<2000 {
            var scalars = Array(generator.document().unicodeScalars)
            for _ in 0..<Int.random(in: 1...4, using: &generator.r) {
                let at = Int.random(in: 0...scalars.count, using: &generator.r)
                scalars.insert(contentsOf: generator.pick(splices).unicodeScalars, at: at)
            }
            var text = String.UnicodeScalarView()
            text.append(contentsOf: scalars)
            guard Self.agree(String(text)) else { return }
        }
    }

    /// Nesting is bounded, as the decoders recurse. (Here Yams' libyaml sets
    /// a bound of its own near the composer's, so a smaller one is tried.)
    @Test func nestingIsBounded() {
        let deep = String(repeating: "[", count: 300) + String(repeating: "]", count: 300)
        #expect(Self.agree(deep))
        let tooDeep = String(repeating: "- ", count: 60) + "x\n"
        let reading = Self.reading({ (text, origin) throws(Diagnostics) in
            try LibYAMLComposer.compose(text, origin: origin, maxDepth: 50)
        }, tooDeep)
        #expect(reading == ["t.yaml:1:101: error: YAML syntax: collections nested more than 50 deep"])
    }

    /// A scalar with a tag of its own keeps its text (the tree once put the tag in its place).
    @Test func taggedScalarsKeepTheirText() throws {
        let node = try YAMLDocuments.parseWithLibYAML("a: !!int '1'\nb: !t x\n", origin: TextOrigin(file: "t.yaml"))[0]
        let a = node.value(0).scalar, b = node.value(1).scalar
        #expect(a?.text == "1")
        #expect(a?.tag == "tag:yaml.org,2002:int")
        #expect(b?.text == "x")
        #expect(b?.tag == "!t")
    }
}
