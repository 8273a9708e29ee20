import ArgumentParser
import BallastConfig
import BallastCore
import Daemon

/// `ballastctl ipvs show [--json]`
struct IPVSShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Print the IPVS table with connection counts, like a readable `ipvsadm -Ln`.",
        discussion: """
            Services are sorted by address, port and protocol (firewall marks last), destinations by \
            address and port. With --json the output is itself a valid table file for `ipvs apply`.
            """)

    @OptionGroup var output: OutputOptions

    @Option(help: ArgumentHelp("ballastd's status socket, asked which Service owns each virtual service.",
                               valueName: "path"))
    var socket = StatusClient.defaultSocketPath

    func run() throws {
        let table = try IPVSAccess.dump(IPVSAccess.open())
        if output.json {
            print(IPVSTableJSON.render(table), terminator: "")
            return
        }
        // The kernel is the source of truth for the table; ballastd only adds who owns
        // what, so the command still works (without owners) when the daemon is down.
        let owners = Self.owners(of: table, socket: socket)
        print(IPVSTableText.render(table, owners: owners ?? [:]), terminator: "")
        if owners == nil && !table.isEmpty {
            print("(owners not shown: ballastd is not answering on \(socket))")
        }
    }

    /// Virtual service → "namespace/name" from ballastd's view, matched by the text form
    /// both sides print ("TCP 192.0.2.10:80"); nil when the daemon does not answer.
    static func owners(of table: [ObservedVirtualService], socket: String) -> [VirtualServiceKey: String]? {
        guard let reply = try? StatusClient(path: socket, timeout: .seconds(2)).send(.ipvs),
              let rows = reply.ipvs?.services else { return nil }
        let byText = Dictionary(rows.compactMap { row in row.owner.map { (row.service, $0) } },
                                uniquingKeysWith: { first, _ in first })
        return Dictionary(uniqueKeysWithValues: table.compactMap { s in byText[s.key.description].map { (s.key, $0) } })
    }
}
