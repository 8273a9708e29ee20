import ArgumentParser
import BallastConfig

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

    func run() throws {
        let table = try IPVSAccess.dump(IPVSAccess.open())
        print(output.json ? IPVSTableJSON.render(table) : IPVSTableText.render(table), terminator: "")
    }
}
