import ArgumentParser

/// `ballastctl ipvs …`: the kernel's IPVS table, read and written directly
/// (no daemon involved), in the current network namespace.
struct IPVSCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ipvs",
        abstract: "Show or declaratively apply the kernel's IPVS table (needs root).",
        discussion: "The table file format, ownership and draining are described in docs/ipvs-table.md.",
        subcommands: [IPVSShowCommand.self, IPVSApplyCommand.self])
}
