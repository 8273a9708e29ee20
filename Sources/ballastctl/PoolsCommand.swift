// `ballastctl pools`.
import ArgumentParser
import Daemon

struct PoolsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pools",
        abstract: "Show each address pool's size, addresses in use and free addresses, per family.")

    @OptionGroup var query: DaemonQueryOptions

    func run() throws {
        guard let pools = try query.ask(.pools).pools else { throw DaemonReplyError(message: "empty reply") }
        print(query.output == .json ? StatusText.json(pools) : StatusText.pools(pools), terminator: "")
    }
}
