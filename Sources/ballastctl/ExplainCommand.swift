// `ballastctl explain NAMESPACE/NAME`.
import ArgumentParser
import BallastCore
import Daemon

struct ExplainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "explain",
        abstract: "Explain, in sentences, what Ballast did with one Service and why.")

    @Argument(help: ArgumentHelp("The Service; a bare NAME is in namespace default.", valueName: "namespace/name"))
    var service: String

    @OptionGroup var query: DaemonQueryOptions

    func validate() throws {
        guard ObjectRef(parsing: service) != nil else {
            throw ValidationError("\"\(service)\" is not NAMESPACE/NAME")
        }
    }

    func run() throws {
        let ref = ObjectRef(parsing: service)!
        guard let explanation = try query.ask(.explain(ref)).explain else { throw DaemonReplyError(message: "empty reply") }
        print(query.output == .json ? StatusText.json(explanation) : StatusText.explain(explanation), terminator: "")
    }
}
