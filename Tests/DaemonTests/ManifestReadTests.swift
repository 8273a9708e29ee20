import Foundation
@testable import SourceFiles
import Testing

/// `readManifest`: the one-read path for ASCII text and the validating path
/// for everything else must give the same answers.
struct ManifestReadTests {
    let directory: String

    init() throws {
        directory = NSTemporaryDirectory() + "ballast-read-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    func write(_ bytes: [UInt8], to name: String) throws -> String {
        let path = directory + "/" + name
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    func text(_ read: ManifestRead) -> String? {
        if case .contents(let text) = read { return text }
        return nil
    }

    func problem(_ read: ManifestRead) -> String? {
        if case .problem(let message) = read { return message }
        return nil
    }

    static let texts: [String] = [
        "",
        "kind: Service\n",
        "metadata:\n  annotations:\n    note: café ☕\n",
        // Longer than one 64 KiB chunk of the validating path, non-ASCII at both ends.
        "é" + String(repeating: "apiVersion: v1\n", count: 6000) + "ü",
        String(repeating: "kind: Node\n", count: 20000),
    ]

    @Test(arguments: texts.indices)
    func readsTheTextAsWritten(index: Int) throws {
        let expected = Self.texts[index]
        let path = try write(Array(expected.utf8), to: "m\(index).yaml")
        #expect(text(readManifest(at: path)) == expected)
    }

    @Test func invalidUTF8IsAProblem() throws {
        let path = try write(Array("kind: Service\nname: ".utf8) + [0xC3, 0x28, 0x0A], to: "bad.yaml")
        #expect(problem(readManifest(at: path)) == "\(path): not UTF-8 text")
    }

    @Test func aDirectoryIsAProblemAndAMissingFileIsMissing() throws {
        #expect(problem(readManifest(at: directory)) == "\(directory): not a regular file")
        guard case .missing = readManifest(at: directory + "/gone.yaml") else {
            Issue.record("a missing file should read as missing")
            return
        }
    }
}
