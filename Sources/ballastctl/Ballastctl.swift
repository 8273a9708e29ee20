// ballastctl: argument parsing and printing only. Each subcommand lives in
// its own file (grouped by area: IPVS/ for the kernel table); formatting is in
// BallastConfig so that it is unit-tested; shared flags are option groups in
// Support/.

import ArgumentParser

@main
struct Ballastctl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ballastctl",
        abstract: "Inspect and control Ballast, a bare-metal load balancer for Linux.",
        subcommands: [StatusCommand.self, ServicesCommand.self, PoolsCommand.self, ExplainCommand.self, IPVSCommand.self])
}
