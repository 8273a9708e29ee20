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
/// transaction otherwise; it is read back through nft's JSON output. No other table is ever read or written.
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
        let tables = try NFTContext.run("list tables inet", json: true, operation: operation)
        guard try decode(operation, { try SNATTableJSON.listsTable(tables, table: tableName) }) else { return nil }
        let listing = try NFTContext.run("list table inet \(tableName)", json: true, operation: operation)
        switch try decode(operation, { try SNATTableJSON.read(listing, table: tableName, mark: mark) }) {
        case .table(let contents):
            return contents
        case .unrecognized(let what):
            logger.warning("SNAT table holds something Ballast did not write; it will be replaced",
                           metadata: ["nft.table": "\(tableName)", "nft.found": "\(what)"])
            return nil
        }
    }

    public func replace(with contents: SNATTable) throws(DataPlaneError) {
        try NFTContext.run(script(for: contents), json: false, operation: "replace \(tableDescription) with \(contents)")
        logger.info("replaced SNAT table", metadata: ["nft.table": "\(tableName)", "nft.marks": "\(contents.marks.count)",
                                                      "nft.masquerades": "\(contents.masquerades.count)"])
    }

    public func update(_ change: SNATTableChange) throws(DataPlaneError) {
        guard !change.isEmpty else { return }
        try NFTContext.run(SNATTableText.updateScript(table: tableName, change: change), json: false,
                           operation: "update \(tableDescription) (\(change))")
        logger.info("updated SNAT table", metadata: ["nft.table": "\(tableName)", "nft.change": "\(change)"])
    }

    public func removeTable() throws(DataPlaneError) {
        try NFTContext.run(SNATTableText.deleteScript(table: tableName), json: false,
                           operation: "delete \(tableDescription)")
        logger.info("deleted SNAT table", metadata: ["nft.table": "\(tableName)"])
    }

    /// The nft script `replace(with:)` runs for `contents` (for `ballastctl`, docs and tests).
    public func script(for contents: SNATTable) -> String {
        SNATTableText.replaceScript(table: tableName, mark: mark, contents: contents)
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
    static func run(_ commands: String, json: Bool, operation: String) throws(DataPlaneError) -> String {
        try lock.withLock { _ throws(DataPlaneError) -> String in
            guard let ctx = nft_ctx_new(UInt32(NFT_CTX_DEFAULT)) else {
                throw DataPlaneError(operation: operation, reason: "cannot create a libnftables context")
            }
            defer { nft_ctx_free(ctx) }
            _ = nft_ctx_buffer_output(ctx)
            _ = nft_ctx_buffer_error(ctx)
            if json { nft_ctx_output_set_flags(ctx, UInt32(NFT_CTX_OUTPUT_JSON)) }
            let status = nft_run_cmd_from_buffer(ctx, commands)
            let output = nft_ctx_get_output_buffer(ctx).map { String(cString: $0) } ?? ""
            guard status == 0 else {
                let errors = nft_ctx_get_error_buffer(ctx).map { String(cString: $0) } ?? ""
                throw DataPlaneError(operation: operation, reason: summarize(errors))
            }
            return output
        }
    }

    /// nft reports each error as "Error: …" followed by the offending input
    /// line and a caret line; keep the messages only.
    private static func summarize(_ errors: String) -> String {
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
