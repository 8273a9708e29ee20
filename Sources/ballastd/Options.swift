import ArgumentParser
import BallastConfig
import Logging

extension Logger.Level: @retroactive ExpressibleByArgument {}

/// Options every ballastd command takes.
struct CommonOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The configuration file.", valueName: "file"))
    var config = ConfigurationFile.defaultPath

    @Option(help: ArgumentHelp("trace, debug, info, notice, warning, error or critical.", valueName: "level"))
    var logLevel: Logger.Level = .info
}

/// A failure to report to the person at the terminal (ArgumentParser prints it, exit status 1).
struct StartupFailure: Error, CustomStringConvertible {
    var description: String
}
