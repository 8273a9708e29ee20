import BallastCore
import Daemon
import Foundation
import Testing

@Suite struct AssignmentStoreTests {
    let table: AssignmentTable = [
        ref("shop/api"): Assignment(pool: "public", addresses: [IPAddress("2001:db8::10")!, IPAddress("192.0.2.10")!]),
        ref("default/web"): Assignment(pool: "public", addresses: [IPAddress("192.0.2.11")!]),
    ]

    @Test func firstStartHasNoFile() throws {
        let dir = try TemporaryDirectory("ballast-state")
        #expect(try AssignmentStore(directory: dir.path).load() == .empty)
    }

    @Test func roundTripsAndWritesAStableSortedFile() throws {
        let dir = try TemporaryDirectory("ballast-state")
        let store = AssignmentStore(directory: dir.path)
        try store.save(table)
        #expect(try store.load() == .loaded(table))
        let text = try String(contentsOfFile: store.path, encoding: .utf8)
        #expect(text == """
            {
              "assignments" : [
                {
                  "addresses" : [
                    "192.0.2.11"
                  ],
                  "name" : "web",
                  "namespace" : "default",
                  "pool" : "public"
                },
                {
                  "addresses" : [
                    "2001:db8::10",
                    "192.0.2.10"
                  ],
                  "name" : "api",
                  "namespace" : "shop",
                  "pool" : "public"
                }
              ],
              "version" : 1
            }

            """)
        // No temporary file is left behind.
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == [AssignmentStore.fileName])
    }

    @Test func overwritesAtomically() throws {
        let dir = try TemporaryDirectory("ballast-state")
        let store = AssignmentStore(directory: dir.path)
        try store.save(table)
        try store.save([:])
        #expect(try store.load() == .loaded([:]))
    }

    @Test(arguments: [
        ("{not json", "not valid JSON of the expected shape"),
        (#"{"version":1,"assignments":[{"namespace":"a","name":"b","pool":"p","addresses":["300.1.1.1"]}]}"#,
         #""300.1.1.1" is not an IPv4 or IPv6 address at .assignments[0].addresses[0]"#),
        (#"{"version":2,"assignments":[]}"#, "format version 2 is not supported"),
        (#"{"version":1,"assignments":[{"namespace":"a","name":"b","pool":"p","addresses":[]},{"namespace":"a","name":"b","pool":"q","addresses":[]}]}"#,
         "a/b appears twice"),
    ])
    func corruptFileIsKeptAsideAndReported(contents: String, reason: String) throws {
        let dir = try TemporaryDirectory("ballast-state")
        let store = AssignmentStore(directory: dir.path)
        try contents.write(toFile: store.path, atomically: false, encoding: .utf8)
        let when = Date(timeIntervalSince1970: 1_700_000_000)  // 2023-11-14T22:13:20Z
        guard case .corrupt(let why, let keptAs) = try store.load(now: when) else {
            Issue.record("expected a corrupt result")
            return
        }
        #expect(why.contains(reason), "\(why)")
        #expect(keptAs == store.path + ".corrupt-20231114T221320Z")
        #expect(try String(contentsOfFile: keptAs!, encoding: .utf8) == contents)
        // The next start sees no file and starts afresh.
        #expect(try store.load() == .empty)
    }

    @Test func unreadableFileIsAnErrorNotAFreshStart() throws {
        let dir = try TemporaryDirectory("ballast-state")
        let store = AssignmentStore(directory: dir.path)
        try FileManager.default.createDirectory(atPath: store.path, withIntermediateDirectories: false)
        #expect(throws: SystemCallError.self) { try store.load() }
    }

    @Test func saveIntoAMissingDirectoryNamesThePath() throws {
        let dir = try TemporaryDirectory("ballast-state")
        let store = AssignmentStore(directory: dir.file("absent"))
        #expect {
            try store.save(table)
        } throws: { error in
            "\(error)" == "create \(dir.path)/absent/assignments.json.tmp-\(getpid()): No such file or directory (ENOENT)"
        }
    }
}
