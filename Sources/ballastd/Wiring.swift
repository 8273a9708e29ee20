// The production implementations behind the Daemon's seams.
import BallastConfig
import Daemon

enum Wiring {
    static func daemon() -> DaemonWiring {
        DaemonWiring(
            loadConfiguration: { path in try ConfigurationFile.load(path: path) },
            allocate: DefaultStages.allocate,
            plan: DefaultStages.plan,
            makeSource: { source, logger in try LinuxKernel.source(source, logger: logger) },
            makeKernel: { configuration, logger in try LinuxKernel.controls(for: configuration, logger: logger) })
    }
}
