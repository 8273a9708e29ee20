import BallastCore
import CNftables
import Logging
import Synchronization

/// Ballast's own nftables table (`table inet ballast`) holding the source NAT
/// that Cluster traffic policy needs: IPVS forwards a client's connection to
/// an endpoint on another node, and without SNAT that endpoint replies
/// straight to the client, which drops the reply.
///
/// The table is written as a whole in one libnftables transaction when it is
/// missing or wrong, and changed by adding and deleting set elements in one
/// transaction otherwise, each time with the digest of the elements
/// (`SNATTableDigest`); it is read back through nft's JSON output. No other
/// table is ever written; only libnftables' terse listing of the inet
/// ruleset passes over the others (see `shape()`).
/// Needs `net.ipv4.vs.conntrack=1` (`DataPlaneSysctl.enableIPVSConntrack`).
/// Shape and reasons: `SNATTableText` and docs/dataplane.md.
public final class NFTablesSNAT: SNATControl {
    public static let defaultTableName = "ballast"
    /// A packet-mark bit clear of kube-proxy's 0x4000 (masquerade) and 0x8000
    /// (drop). CNIs claim bits of their own (Calico's default mask is the upper
    /// 16 bits): pick a bit nothing else on the node uses. The bit is OR-ed in
    /// and tested under a mask, so other bits of the mark are left alone.
    public static let defaultMark: UInt32 = 0x1000_0000

    public let tableName: String
    public let mark: UInt32
    private let logger: Logger
    /// The digest of the elements the table holds as far as this object
    /// last wrote or read them: what an update moves by its change and
    /// writes with it. nil until a full read or a write, and after a failed
    /// write (the update then empties the digest set, see `SNATTableText`).
    private let digest = Mutex<SNATTableDigest?>(nil)

    /// Throws when `tableName` is not a plain nft identifier or `mark` is 0.
    public init(tableName: String = NFTablesSNAT.defaultTableName, mark: UInt32 = NFTablesSNAT.defaultMark,
                logger: Logger = Logger(label: "ballast.snat")) throws(DataPlaneError) {
        let isIdentifier = tableName.first.map { $0.isASCII && $0.isLetter } == true && tableName.count <= 64
            && tableName.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") }
        guard isIdentifier else {
            throw DataPlaneError(operation: "use nftables table \"\(tableName)\"",
                                 reason: "a table name is a letter followed by up to 63 letters, digits, \"_\" or \"-\"")
        }
        guard mark != 0 else {
            throw DataPlaneError(operation: "use packet mark 0x0 for source NAT", reason: "the mark needs at least one bit set")
        }
        self.tableName = tableName
        self.mark = mark
        self.logger = logger
    }

    private var tableDescription: String { "nftables table inet \(tableName)" }

    public func current() throws(DataPlaneError) -> SNATTable? {
        let operation = "read \(tableDescription)"
        guard try shape(operation) != .absent else {
            digest.withLock { $0 = nil }
            return nil
        }
        let listing = try NFTContext.run("list table inet \(tableName)", json: true, operation: operation)
        switch try decode(operation, { try SNATTableJSON.read(listing, table: tableName, mark: mark) }) {
        case .table(let contents, let found):
            digest.withLock { $0 = found }
            return contents
        case .unrecognized(let what):
            digest.withLock { $0 = nil }
            logger.warning("SNAT table holds something Ballast did not write; it will be replaced",
                           metadata: ["nft.table": "\(tableName)", "nft.found": "\(what)"])
            return nil
        }
    }

    /// Whether the table holds `table` as Ballast wrote it, shown without
    /// listing the set elements: a terse listing checks the table, its sets'
    /// declarations, chains and rules; then the one-element digest set is
    /// listed and compared with the digest of `table`. Milliseconds and a few
    /// MiB where `current()` takes seconds and ~130 MiB of libnftables
    /// memory for 100,000 elements (docs/performance.md).
    ///
    /// It proves what Ballast last wrote, not what the sets hold now: an
    /// element added or deleted by hand since leaves the digest as it was.
    /// That is why only the daemon's start relies on it
    /// (`RememberedSNATControl`); every resync lists the elements, and that
    /// listing replaces a table whose elements do not match its digest.
    public func holdsAsWritten(_ table: SNATTable) throws(DataPlaneError) -> Bool {
        let operation = "check \(tableDescription) against its digest"
        switch try shape(operation) {
        case .absent, .unrecognized:
            return false
        case .empty:
            // No sets: the terse listing showed everything there is.
            return table.isEmpty
        case .sets:
            guard !table.isEmpty else { return false }
            let listing = try NFTContext.run("list set inet \(tableName) \(SNATTableText.digestSet)", json: true,
                                             operation: operation)
            let wanted = SNATTableDigest(table)
            let found = try decode(operation) { try SNATTableJSON.digest(listing) }
            guard found == wanted else {
                logger.info("SNAT table's digest differs from the desired elements; listing them",
                            metadata: ["nft.table": "\(tableName)", "nft.digest": "\(found.map { "\($0)" } ?? "none")",
                                       "nft.desired_digest": "\(wanted)"])
                return false
            }
            digest.withLock { $0 = wanted }
            logger.info("SNAT table holds the digest of the desired elements; not listing them",
                        metadata: ["nft.table": "\(tableName)", "nft.digest": "\(wanted)"])
            return true
        }
    }

    public func replace(with contents: SNATTable) throws(DataPlaneError) {
        digest.withLock { $0 = nil }
        let written = SNATTableDigest(contents)
        let script = SNATTableText.replaceScript(table: tableName, mark: mark, contents: contents, digest: written)
        let operation = "replace \(tableDescription) with \(contents)"
        // In a child nft process where one is installed (see NFTProcess).
        let executable = NFTProcess.executable
        if let executable {
            try NFTContext.runIsolated(script, executable: executable, operation: operation)
        } else {
            try NFTContext.run(script, json: false, operation: operation)
        }
        digest.withLock { $0 = written }
        logger.info("replaced SNAT table", metadata: ["nft.table": "\(tableName)", "nft.marks": "\(contents.marks.count)",
                                                      "nft.masquerades": "\(contents.masquerades.count)",
                                                      "nft.writer": "\(executable ?? "libnftables")"])
    }

    public func update(_ change: SNATTableChange) throws(DataPlaneError) {
        guard !change.isEmpty else { return }
        let after = digest.withLock { digest in
            defer { digest = nil }
            return digest?.applying(change)
        }
        try NFTContext.run(SNATTableText.updateScript(table: tableName, change: change, digest: after), json: false,
                           operation: "update \(tableDescription) (\(change))")
        digest.withLock { $0 = after }
        logger.info("updated SNAT table", metadata: ["nft.table": "\(tableName)", "nft.change": "\(change)"])
    }

    public func removeTable() throws(DataPlaneError) {
        digest.withLock { $0 = nil }
        try NFTContext.run(SNATTableText.deleteScript(table: tableName), json: false,
                           operation: "delete \(tableDescription)")
        logger.info("deleted SNAT table", metadata: ["nft.table": "\(tableName)"])
    }

    /// The nft script `replace(with:)` runs for `contents` (for `ballastctl`, docs and tests).
    public func script(for contents: SNATTable) -> String {
        SNATTableText.replaceScript(table: tableName, mark: mark, contents: contents, digest: SNATTableDigest(contents))
    }

    /// The table's shape from libnftables' terse listing of the inet
    /// ruleset. In nftables 1.0.x that is the only listing that neither
    /// prints nor fetches set elements: `list tables` and `list table` (even
    /// terse) and `list chain` fill libnftables' cache with every element of
    /// every set first — 2.4 s and ~100 MiB for 100,000 elements just to
    /// learn that the table exists. Other inet tables' declarations and rules
    /// pass through the parse and are skipped.
    private func shape(_ operation: String) throws(DataPlaneError) -> SNATTableJSON.Shape {
        let listing = try NFTContext.run("list ruleset inet", json: true, terse: true, operation: operation)
        return try decode(operation) { try SNATTableJSON.shape(listing, table: tableName, mark: mark) }
    }

    private func decode<T>(_ operation: String, _ body: () throws -> T) throws(DataPlaneError) -> T {
        do {
            return try body()
        } catch {
            throw DataPlaneError(operation: operation, reason: "unexpected JSON from libnftables: \(error)")
        }
    }
}

/// One libnftables context per command. libnftables keeps global state (its
/// parser, the cache of the ruleset), so calls are serialized process-wide.
enum NFTContext {
    private static let lock = Mutex(())

    /// Runs `commands` as one transaction and returns what nft printed.
    @discardableResult
    static func run(_ commands: String, json: Bool, terse: Bool = false,
                    operation: String) throws(DataPlaneError) -> String {
        try lock.withLock { _ throws(DataPlaneError) -> String in
            guard let ctx = nft_ctx_new(UInt32(NFT_CTX_DEFAULT)) else {
                throw DataPlaneError(operation: operation, reason: "cannot create a libnftables context")
            }
            defer { nft_ctx_free(ctx) }
            _ = nft_ctx_buffer_output(ctx)
            _ = nft_ctx_buffer_error(ctx)
            var flags: UInt32 = 0
            if json { flags |= UInt32(NFT_CTX_OUTPUT_JSON) }
            if terse { flags |= UInt32(NFT_CTX_OUTPUT_TERSE) }
            nft_ctx_output_set_flags(ctx, flags)
            let status = nft_run_cmd_from_buffer(ctx, commands)
            let output = nft_ctx_get_output_buffer(ctx).map { String(cString: $0) } ?? ""
            guard status == 0 else {
                let errors = nft_ctx_get_error_buffer(ctx).map { String(cString: $0) } ?? ""
                throw DataPlaneError(operation: operation, reason: summarize(errors))
            }
            return output
        }
    }

    /// Runs `script` in a child nft process, serialized with the in-process calls.
    static func runIsolated(_ script: String, executable: String, operation: String) throws(DataPlaneError) {
        try lock.withLock { _ throws(DataPlaneError) in
            try NFTProcess.run(script, executable: executable, operation: operation)
        }
    }

    /// nft reports each error as "Error: …" followed by the offending input
    /// line and a caret line; keep the messages only.
    static func summarize(_ errors: String) -> String {
        let messages = errors.split(separator: "\n")
            .filter { $0.hasPrefix("Error: ") || $0.contains(": Error: ") }
            .map { line -> Substring in
                line[line.firstRange(of: "Error: ")!.upperBound...]
            }
        if messages.isEmpty { return errors.isEmpty ? "libnftables failed without a message" : errors }
        var seen: Set<Substring> = []
        return messages.filter { seen.insert($0).inserted }.joined(separator: "; ")
    }
}
