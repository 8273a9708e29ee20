@testable import Daemon
import Logging
import Testing

@Suite struct JournalLogHandlerTests {
    @Test(arguments: [
        (Logger.Level.debug, "<7>"), (.info, "<6>"), (.notice, "<5>"), (.warning, "<4>"), (.error, "<3>"), (.critical, "<2>"),
    ])
    func priorityPrefix(level: Logger.Level, prefix: String) {
        #expect(JournalLogHandler.format(level: level, message: "m", metadata: [:]) == prefix + "m\n")
    }

    @Test func metadataIsSortedAndQuotedWhenNeeded() {
        let line = JournalLogHandler.format(
            level: .error, message: "sync operation failed\nsecond line",
            metadata: ["sync.reason": "resync", "error": "add service TCP 192.0.2.10:80: File exists (EEXIST)", "a": ""])
        #expect(line == #"<3>sync operation failed second line a="" error="add service TCP 192.0.2.10:80: File exists (EEXIST)" sync.reason=resync"# + "\n")
    }

    @Test func journalStreamMustMatchStderr() {
        #expect(!LoggingBootstrap.stderrIsJournal(nil))
        #expect(!LoggingBootstrap.stderrIsJournal("garbage"))
        #expect(!LoggingBootstrap.stderrIsJournal("1:1"))
    }
}
