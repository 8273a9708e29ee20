import BallastCore
import BallastTestSupport
import Foundation
import Testing
@testable import BallastConfig

/// FastYAML must read every text it accepts exactly as the reference reading
/// (libyaml, composed as Yams did: LibYAMLParityTests) does — text, style, tag
/// and place of every node — and give up on everything else.
@Suite struct FastYAMLTests {
    /// A node as text, with everything that the decoders can see.
    static func dump(_ node: YAMLNode) -> String {
        let at = "@\(node.location.line):\(node.location.column)"
        switch node.content {
        case .scalar(let s): return "\(s.style)\(s.tag.map { "<\($0)>" } ?? "")\(at)\(String(reflecting: s.text))"
        case .sequence(let items): return "[\(at) " + items.map(dump).joined(separator: ", ") + "]"
        case .mapping(let pairs): return "{\(at) " + pairs.map { dump($0.key) + ": " + dump($0.value) }.joined(separator: ", ") + "}"
        }
    }

    private static func reference(_ text: String) -> [String]? {
        try? YAMLDocuments.parseWithLibYAML(text, origin: TextOrigin(file: "t.yaml")).map(dump)
    }

    private static func fast(_ text: String) -> [String]? {
        FastYAML.parse(text, origin: TextOrigin(file: "t.yaml"))?.map(dump)
    }

    /// Whether FastYAML either gave up or agreed with the reference reading; records the difference if not.
    @discardableResult
    private static func agree(_ text: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) -> Bool? {
        guard let fast = fast(text) else { return nil }
        let reference = Self.reference(text)
        #expect(fast == reference, "input: \(String(reflecting: text))", sourceLocation: sourceLocation)
        return fast == reference
    }

    /// What manifests are made of: read by the fast path, and the same as the reference reading.
    static let sampleTexts = [
        "a: 1\nb: \"two\"\nc: 'thr''ee'\n",
        "a:\n  b:\n    c: d\n  e: f\ng: h",
        "ports:\n- name: http\n  port: 80\n- name: https\n  port: 443\nselector:\n  app: web\n",
        "ports:\n  - port: 80\n    protocol: TCP\n  -   port: 81\n",
        "a:\n-\n- x\n-\n  y: z\n",
        "a:\nb: ~\nc: null\nd:\n",
        "- a\n- - b\n",
        "---\n# only a comment\n---\na: 1\n---\n",
        "--- # first\na: 1\n---\nb: 2\n...\n",
        "metadata: {name: web-1, labels: {kubernetes.io/service-name: web}}\nendpoints: [{addresses: [10.0.0.1]}, {}]\n",
        "{\n    \"a\": [1, \"2\", true, null],\n    \"b\": {\"c\": \"d\"}\n}\n",
        "{\"a\":1,\"b\":[{\"c\":\"\\u00e9\\n\\t\\\"\\\\\\/\"}]}",
        "[\n\t1,\n\t2\n]\n",
        "a: \"x: y # z\"  # comment\nb: c # comment\nd: e#f\n",
        "url: http://example.com:8080/a?b=c\ntime: 2026-10-13T03:13:23Z\nneg: -1\ndash: -x\n",
        "config: |\n  a: 1\n\n  b: [x\nnext: 1\n",
        "keep: |+\n  a\n\n\nstrip: |-\n  b\n\nclip: |\n    c\n     d\n\n",
        "indented: |\n   x\n    y\n  \nz: 1",
        "é: ü\nname: \"日本\"\nx: 'Ω'",
        "  a: 1\n  b: 2\n",
        "a: {b: 1,\nc: 2}\n",
        "a: [x, y]  # c\n",
        "\"quoted key\": 1\n'single': 2\n",
        "- \"a\" : 1\n  b: 2\n",
        "a : 1\n",
        "a: 1\n\tb: 2\n",
        "a: b\n  c\n",
        "a: 'multi\n  line'\n",
        "a: &x 1\nb: *x\n",
        "a: !!str 1\n",
        "a: >\n  folded\n",
        "a: 1\na: 2\n",
        "{a: 1, a: 2}",
        "a: [1, 2,]\n",
        "a: \"\\uD83D\\uDE00\"\n",
        "a: \"\\uFEFFx\"\n",
        "a: b: c\n",
        "? a\n: b\n",
        "a: 1\r\nb: 2\r\n",
        "- a\nb: 1\n",
        "a:\n  - x\n  b: 1\n",
    ]

    @Test(arguments: sampleTexts)
    func samples(text: String) {
        Self.agree(text)
    }

    /// The common shapes must not fall back to the reference reading, or the fast path would be pointless.
    @Test(arguments: [
        "a: 1\nb: \"two\"\nc: 'thr''ee'\n",
        "ports:\n- name: http\n  port: 80\nselector:\n  app: web\n",
        "{\n    \"a\": [1, \"2\", true, null],\n    \"b\": {\"c\": \"d\"}\n}\n",
        "metadata: {name: web-1, labels: {kubernetes.io/service-name: web}}\n",
        "config: |\n  a: 1\n\n  b: [x\nnext: 1\n",
        "---\n# only a comment\n---\na: 1\n---\n",
    ])
    func commonShapesAreRead(text: String) {
        #expect(Self.agree(text) == true)
    }

    @Test func fixturesAreReadAlike() throws {
        let manifests = Fixture.directory.appendingPathComponent("manifests")
        for name in try FileManager.default.contentsOfDirectory(atPath: manifests.path).sorted() {
            let text = try Fixture.text("manifests/\(name)")
            #expect(Self.agree(text) == true, "\(name)")
        }
    }

    /// Random documents of the kinds above, each also with a few random edits
    /// (which mostly make them invalid or exotic): FastYAML agrees or gives up.
    @Test func randomDocumentsAgree() {
        var generator = Generator(r: SplitMix64(seed: 0x5eed))
        var accepted = 0, cases = 0
        for _ in 0..<3000 {
            let text = generator.document()
            for variant in [text, generator.mutate(text), generator.mutate(text)] {
                cases += 1
                switch Self.agree(variant) {
                case true: accepted += 1
                case false: return  // one reported difference is enough
                case nil: continue
                }
            }
        }
        // The unmutated third of the cases is mostly inside the fast path.
        #expect(accepted > cases / 4)
    }

    // MARK: Random documents

    /// Writes random YAML of the shapes manifests have, with the odd exotic turn.
    struct Generator {
        var r: SplitMix64
        var out = ""

        static let words = ["a", "name", "port", "80", "-1", "true", "null", "~", "", "x y", "10.0.0.1", "é",
                            "a:b", "a#b", "http://h:1/p", "-x", "2026-10-13T03:13:23Z", "日本", "a'b", "a\"b"]

        mutating func chance(_ n: Int) -> Bool { Int.random(in: 0..<n, using: &r) == 0 }
        mutating func pick<T>(_ items: [T]) -> T { items.randomElement(using: &r)! }

        mutating func scalar(flow: Bool) -> String {
            let word = pick(Self.words)
            switch Int.random(in: 0..<6, using: &r) {
            case 0: return "'" + word.replacingOccurrences(of: "'", with: "''") + "'"
            case 1:
                let escaped = word.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
                return "\"" + escaped + pick(["", "\\n", "\\t", "\\u00e9", "\\x41", "\\/", "\\U0001F600"]) + "\""
            default:
                let plain = word.isEmpty || word.hasPrefix("'") ? "w" : word
                return flow ? plain.replacingOccurrences(of: ":", with: "") : plain
            }
        }

        mutating func flow(depth: Int) -> String {
            let separator = chance(8) ? ",\n  " : pick([", ", ",", " , "])
            let count = Int.random(in: 0..<4, using: &r)
            let isMapping = Bool.random(using: &r)
            var items: [String] = []
            for n in 0..<count {
                let item = depth < 2 && chance(4) ? flow(depth: depth + 1) : scalar(flow: true)
                items.append(isMapping ? "k\(n)" + pick([": ", ":  "]) + item : item)
            }
            return isMapping ? "{" + items.joined(separator: separator) + "}" : "[" + items.joined(separator: separator) + "]"
        }

        /// The rest of a line after "key:" or "-", and the lines below it.
        mutating func value(indent: Int, depth: Int, inSequence: Bool) {
            let step = Int.random(in: 1...4, using: &r)
            switch Int.random(in: 0..<(depth < 3 ? 10 : 6), using: &r) {
            case 0: out += "\n"
            case 1: out += " " + flow(depth: 0) + "\n"
            case 2:
                out += " |" + pick(["", "-", "+"]) + "\n"
                let pad = String(repeating: " ", count: indent + step)
                for _ in 0..<Int.random(in: 1...3, using: &r) {
                    out += Bool.random(using: &r) ? pad + pick(Self.words) + "\n" : "\n"
                    if chance(4) { out += pad + "  more\n" }
                }
            case 3, 4, 5: out += " " + scalar(flow: false) + (chance(5) ? "  # note" : "") + "\n"
            case 6, 7:
                out += "\n"
                mapping(indent: indent + step, depth: depth + 1)
            default:
                // Under a key, often kubectl's unindented list.
                out += "\n"
                sequence(indent: inSequence || Bool.random(using: &r) ? indent + step : indent, depth: depth + 1)
            }
        }

        mutating func sequence(indent: Int, depth: Int) {
            let pad = String(repeating: " ", count: indent)
            for _ in 0..<Int.random(in: 1...3, using: &r) {
                out += pad + "-"
                if Bool.random(using: &r) {
                    out += " k: " + scalar(flow: false) + "\n" + String(repeating: " ", count: indent + 2) + "j:"
                    value(indent: indent + 2, depth: depth, inSequence: false)
                } else {
                    value(indent: indent, depth: depth, inSequence: true)
                }
            }
        }

        mutating func mapping(indent: Int, depth: Int) {
            let pad = String(repeating: " ", count: indent)
            for n in 0..<Int.random(in: 1...4, using: &r) {
                if chance(6) { out += pad + "# comment\n" }
                if chance(8) { out += "\n" }
                out += pad + (chance(6) ? "\"k \(n)\"" : "k\(n)") + ":"
                value(indent: indent, depth: depth, inSequence: false)
            }
        }

        mutating func document() -> String {
            out = ""
            for n in 0..<Int.random(in: 1...2, using: &r) {
                if n > 0 || Bool.random(using: &r) { out += "---\n" }
                switch Int.random(in: 0..<6, using: &r) {
                case 0: out += flow(depth: 0) + "\n"
                case 1: sequence(indent: 0, depth: 0)
                default: mapping(indent: 0, depth: 0)
                }
            }
            return out
        }

        mutating func mutate(_ text: String) -> String {
            var chars = Array(text.unicodeScalars)
            for _ in 0..<Int.random(in: 1...3, using: &r) {
                let at = Int.random(in: 0...chars.count, using: &r)
                if at < chars.count && chance(3) {
                    chars.remove(at: at)
                } else {
                    chars.insert(contentsOf: pick(FastYAMLTests.edits).unicodeScalars, at: at)
                }
            }
            var s = String.UnicodeScalarView()
            s.append(contentsOf: chars)
            return String(s)
        }
    }

    static let edits: [String] = [" ", "  ", "\t", "\n", ":", ": ", "- ", "#", " #", "'", "\"", "{", "}", "[", "]", ",", "|",
                                  ">", "&a ", "*a", "!", "? ", "é", "\\", "a", "1", "---\n", "...\n", "\u{2028}", "\u{00A0}",
                                  "\u{0085}", "\r", "\n  ", "\n    ", "\n- ", "\n#", "  -", "x:", "|-", "\"\\", "'\n", "{a: "]
}

/// A large file is read and decoded in parts; the result and every finding
/// must be those of one pass over the whole file.
@Suite struct ManifestPartsTests {
    @Test func partsReadLikeTheWhole() {
        var generator = FastYAMLTests.Generator(r: SplitMix64(seed: 0x9a47))
        for _ in 0..<300 {
            let text = (0..<Int.random(in: 2...8, using: &generator.r)).map { _ in generator.document() }.joined()
            guard let parts = FastYAML.parseInParts(text, file: "t.yaml", parts: 4, minimumPart: 1) else { continue }
            let whole = try? YAMLDocuments.parseWithLibYAML(text, origin: TextOrigin(file: "t.yaml"))
            #expect(parts.joined().map(FastYAMLTests.dump) == whole?.map(FastYAMLTests.dump), "input: \(String(reflecting: text))")
        }
    }

    @Test func largeFileFindingsAreThoseOfOnePass() {
        // 4,000 Services of 6 lines (about 700 KB), with mistakes near the start, the middle and the end;
        // document n starts on line 6n + 1.
        var lines: [String] = []
        for n in 0..<4000 {
            let port = n == 10 || n == 2500 ? "0" : "80"
            let name = n == 3999 ? "svc-7" : "svc-\(n)"
            lines += ["---", "apiVersion: v1", "kind: Service", "metadata: {name: \(name), namespace: team}",
                      "spec: {type: LoadBalancer, ports: [{port: \(port)}]}", "# \(String(repeating: "x", count: 100))"]
        }
        lines += ["---", "kind: Service"]
        let yaml = lines.joined(separator: "\n") + "\n"
        #expect(yaml.utf8.count > 600_000)
        #expect(messages { () throws(Diagnostics) in try ManifestSet.decode(yaml: yaml, file: "big.yaml") } == [
            "big.yaml:65:43: error: Service team/svc-10: spec.ports[0].port: 0 is out of range 1-65535",
            "big.yaml:15005:43: error: Service team/svc-2500: spec.ports[0].port: 0 is out of range 1-65535",
            "big.yaml:23996:1: error: Service team/svc-7 is defined twice in this file\n  hint: the first definition is at big.yaml:44:1; keep one",
            "big.yaml:24002:1: error: an object needs both apiVersion and kind",
        ])
    }
}
