import BallastConfig
import BallastCore
import Foundation
import SourceFiles
import Testing

/// A fresh directory under $TMPDIR, removed when the test ends.
final class TemporaryDirectory {
    let path: String

    init(_ label: String = "ballast-test") throws {
        let base = ProcessInfo.processInfo.environment["TMPDIR"] ?? "/tmp"
        var template = Array("\(base)/\(label)-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
        path = String(cString: made)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    func file(_ name: String) -> String { path + "/" + name }

    func write(_ name: String, _ text: String) throws {
        try text.write(toFile: file(name), atomically: false, encoding: .utf8)
    }
}

/// A decoding error with a location, as BallastConfig reports them.
struct TestDecodeError: Error, CustomStringConvertible {
    var path: String
    var line: Int
    var message: String
    var description: String { "\(path):\(line): \(message)" }
}

/// Test manifest format: one object per line, "service NAMESPACE/NAME" (a
/// LoadBalancer Service on port 80 with one ready endpoint on node n1, see
/// lbService) or "node NAME"; anything else fails with the line number; blank
/// lines are skipped.
let testDecoder: ManifestDecoder = { path, contents in
    var objects = ManifestSet()
    for (index, line) in contents.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
        let words = line.split(separator: " ")
        if words.isEmpty { continue }
        switch (words.first, words.count) {
        case ("service", 2):
            guard let ref = ObjectRef(parsing: String(words[1])) else { fallthrough }
            objects.services.append(lbService(ref.description))
            objects.endpointSlices.append(slice(for: ref.description))
        case ("node", 2):
            objects.nodes.append(Node(name: String(words[1])))
        default:
            throw TestDecodeError(path: path, line: index + 1, message: "cannot read \"\(line)\"")
        }
    }
    return objects
}

func ref(_ text: String) -> ObjectRef { ObjectRef(parsing: text)! }
