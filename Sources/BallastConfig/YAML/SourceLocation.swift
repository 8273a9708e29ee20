// Where a configuration problem is, and the problem itself. Every error a
// user sees about a file names FILE:LINE:COLUMN (the form compilers use, so
// editors jump to it) and says what to do.

/// A position in a configuration file. Line and column count from 1; line 0
/// means the file as a whole (it could not be read, or is empty).
public struct SourceLocation: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int

    public init(file: String, line: Int = 0, column: Int = 0) {
        self.file = file
        self.line = line
        self.column = column
    }

    /// "table.yaml:7:15", or "table.yaml" for the whole file.
    public var description: String { line > 0 ? "\(file):\(line):\(column)" : file }

    public static func < (a: Self, b: Self) -> Bool { (a.file, a.line, a.column) < (b.file, b.line, b.column) }
}

/// One problem found in a configuration file.
public struct ConfigDiagnostic: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var location: SourceLocation
    public var message: String

    public init(_ message: String, at location: SourceLocation) {
        self.location = location
        self.message = message
    }

    /// "table.yaml:7:15: error: port 70000 is out of range; use 1 to 65535"
    public var description: String { "\(location): error: \(message)" }

    public static func < (a: Self, b: Self) -> Bool { (a.location, a.message) < (b.location, b.message) }
}

/// A configuration file that cannot be used, with every problem found in it
/// (not just the first), sorted by position.
public struct ConfigError: Error, Sendable, Hashable, CustomStringConvertible {
    public var diagnostics: [ConfigDiagnostic]

    /// Sorted by position; problems at one position keep the order they were
    /// found in (the cause, such as an unknown key, before its consequences).
    public init(_ diagnostics: [ConfigDiagnostic]) {
        self.diagnostics = diagnostics.enumerated()
            .sorted { ($0.element.location, $0.offset) < ($1.element.location, $1.offset) }
            .map(\.element)
    }

    public init(_ message: String, at location: SourceLocation) {
        self.init([ConfigDiagnostic(message, at: location)])
    }

    /// One diagnostic per line.
    public var description: String { diagnostics.map(\.description).joined(separator: "\n") }
}
