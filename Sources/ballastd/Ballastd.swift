// ballastd: wiring only. Parsing here, logic in the Daemon target.
import ArgumentParser
import Daemon

@main
enum Main {
    static func main() async {
        // Before any other thread allocates (see FreedMemory).
        FreedMemory.configure()
        await Ballastd.main()
    }
}

struct Ballastd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ballastd",
        abstract: "Ballast load balancer daemon: IPVS virtual services for LoadBalancer Services, announced with ARP/NDP.",
        discussion: "Signals: SIGHUP reloads the configuration; SIGTERM and SIGINT stop announcing and exit, "
            + "leaving the data plane in place. See docs/operations.md.",
        subcommands: [RunCommand.self, CleanupCommand.self],
        defaultSubcommand: RunCommand.self)
}
