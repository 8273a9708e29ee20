// `ballastctl services`.
import ArgumentParser
import Daemon

struct ServicesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "services",
        abstract: "List the LoadBalancer Services Ballast handles: addresses, pool, announcing node, endpoints.")

    @OptionGroup var query: DaemonQueryOptions

    func run() throws {
        guard let services = try query.ask(.services).services else { throw DaemonReplyError(message: "empty reply") }
        print(query.output == .json ? StatusText.json(services) : StatusText.services(services), terminator: "")
    }
}
