// `ballastctl status`, and the options every daemon query shares.
import ArgumentParser
import Daemon
import FoundationEssentials

enum OutputFormat: String, ExpressibleByArgument, CaseIterable, Sendable {
    case text, json
}

/// How to reach ballastd and how to print its answer.
struct DaemonQueryOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The status socket of ballastd.", valueName: "path"))
    var socket = StatusClient.defaultSocketPath

    @Option(name: [.short, .long], help: "Output format: text (aligned columns) or json (the status API's own form).")
    var output: OutputFormat = .text

    /// Sends `request`; a daemon-side error becomes this command's error.
    func ask(_ request: StatusRequest) throws -> StatusReply {
        let reply = try StatusClient(path: socket).send(request)
        if let error = reply.error { throw DaemonReplyError(message: error) }
        return reply
    }
}

struct DaemonReplyError: Error, CustomStringConvertible {
    var message: String
    var description: String { "ballastd: \(message)" }
}

struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show whether ballastd is healthy, its configuration and its last sync.",
        discussion: """
            Health is ok, degraded (serving, but something needs attention: the problems are listed) \
            or starting (no sync finished yet). A stale configuration means the last reload was \
            rejected and the previous one still runs.
            """)

    @OptionGroup var query: DaemonQueryOptions

    func run() throws {
        guard let status = try query.ask(.status).status else { throw DaemonReplyError(message: "empty reply") }
        print(query.output == .json ? StatusText.json(status) : StatusText.status(status, now: Date()), terminator: "")
    }
}
