import BallastCore

/// One finding about an input file, printed like a compiler message:
///
///     ballast.yaml:7:9: error: pools[0].addresses[1]: "192.0.2.1/24" has host bits set
///       hint: did you mean 192.0.2.0/24? For the single address write 192.0.2.1/32
///
/// Findings are values so that tests assert on them and the daemon can show
/// them in its status output, not only in a log.
public struct Diagnostic: Sendable, Hashable, CustomStringConvertible {
    public enum Severity: String, Sendable, Hashable, CaseIterable {
        /// The input is rejected.
        case error
        /// The input is used, but probably not as its author meant.
        case warning
        /// Something was dropped or converted on purpose (e.g. an FQDN EndpointSlice).
        case note
    }

    public var severity: Severity
    public var location: SourceLocation?
    public var message: String
    /// What to do about it.
    public var hint: String?

    public init(_ severity: Severity, _ message: String, at location: SourceLocation?, hint: String? = nil) {
        self.severity = severity
        self.location = location
        self.message = message
        self.hint = hint
    }

    public var description: String {
        var text = location.map { "\($0): " } ?? ""
        text += "\(severity.rawValue): \(message)"
        if let hint { text += "\n  hint: \(hint)" }
        return text
    }
}

/// Every finding about an input that was rejected: the errors, and the
/// warnings met on the way (a compiler prints both, in order).
public struct Diagnostics: Error, Sendable, Hashable, CustomStringConvertible {
    public var all: [Diagnostic]

    public init(_ all: [Diagnostic]) { self.all = all }

    public var errors: [Diagnostic] { all.filter { $0.severity == .error } }
    public var warnings: [Diagnostic] { all.filter { $0.severity != .error } }

    /// One message per line block, then a count: "2 errors, 1 warning".
    public var description: String {
        (all.map(\.description) + [Diagnostics.summary(errors: errors.count, warnings: all.count - errors.count)])
            .joined(separator: "\n")
    }

    static func summary(errors: Int, warnings: Int) -> String {
        func plural(_ n: Int, _ word: String) -> String { "\(n) \(word)\(n == 1 ? "" : "s")" }
        return "\(plural(errors, "error")), \(plural(warnings, "warning"))"
    }
}

/// Collects findings while one input is decoded, so decoding goes on after
/// the first error and the user sees all of them at once. Lives for one
/// decode call on one task; never shared.
final class DiagnosticSink {
    private(set) var all: [Diagnostic] = []
    /// Prefixed to messages while one object is decoded ("Service default/web").
    var subject: String?
    /// Files in the order they were read, which orders the findings.
    var fileOrder: [String] = []

    var hasErrors: Bool { errorCount > 0 }
    private(set) var errorCount = 0

    /// Runs `decode` and keeps its result only if it reported no error: the
    /// decoders then read optional fields with `?? default` and stay short.
    func clean<T>(_ decode: () -> T?) -> T? {
        let before = errorCount
        let value = decode()
        return errorCount == before ? value : nil
    }

    func report(_ severity: Diagnostic.Severity, _ message: String, at location: SourceLocation?, hint: String? = nil) {
        let text = subject.map { "\($0): \(message)" } ?? message
        all.append(Diagnostic(severity, text, at: location, hint: hint))
        if severity == .error { errorCount += 1 }
    }

    func error(_ message: String, at location: SourceLocation?, hint: String? = nil) {
        report(.error, message, at: location, hint: hint)
    }

    func warning(_ message: String, at location: SourceLocation?, hint: String? = nil) {
        report(.warning, message, at: location, hint: hint)
    }

    func note(_ message: String, at location: SourceLocation?, hint: String? = nil) {
        report(.note, message, at: location, hint: hint)
    }

    func append(_ diagnostics: some Sequence<Diagnostic>) {
        for d in diagnostics {
            all.append(d)
            if d.severity == .error { errorCount += 1 }
        }
    }

    /// Runs `body` with `subject` set, restoring the previous one afterwards.
    func about<T>(_ subject: String, _ body: () -> T) -> T {
        let saved = self.subject
        self.subject = subject
        defer { self.subject = saved }
        return body()
    }

    /// The value if nothing went wrong, else every finding.
    func result<T>(_ value: T) throws(Diagnostics) -> T {
        if hasErrors { throw Diagnostics(inFileOrder) }
        return value
    }

    var warnings: [Diagnostic] { inFileOrder.filter { $0.severity != .error } }

    /// Findings sorted by position, as a compiler prints them: files in the
    /// order they were read (else first mentioned), then line and column. Decoders report
    /// in the order they read keys, which need not be the order of the file.
    var inFileOrder: [Diagnostic] {
        var fileRank: [String: Int] = [:]
        for file in fileOrder + all.compactMap(\.location?.file) where fileRank[file] == nil {
            fileRank[file] = fileRank.count
        }
        return all.enumerated().sorted { a, b in
            func key(_ e: (offset: Int, element: Diagnostic)) -> (Int, Int, Int, Int) {
                guard let l = e.element.location else { return (-1, 0, 0, e.offset) }
                return (fileRank[l.file]!, l.line, l.column, e.offset)
            }
            return key(a) < key(b)
        }.map(\.element)
    }
}
