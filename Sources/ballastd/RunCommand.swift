import ArgumentParser
import BallastConfig
import BallastCore
import Daemon
import FoundationEssentials
import Logging

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the daemon (the default command).")

    @OptionGroup var options: CommonOptions

    @Flag(help: "Read the kernel and compute everything, but change nothing: log each write instead, announce nothing, save no state.")
    var dryRun = false

    @Flag(help: "Validate the configuration (FILE, or --config) and print a summary; exit 0 when valid, 1 otherwise.")
    var checkConfig = false

    @Argument(help: ArgumentHelp("With --check-config: the file to check.", valueName: "file"))
    var checkFile: String?

    func validate() throws {
        if checkFile != nil && !checkConfig {
            throw ValidationError("a FILE argument is only accepted with --check-config")
        }
        if checkConfig && dryRun {
            throw ValidationError("--check-config and --dry-run exclude each other")
        }
    }

    func run() async throws {
        if checkConfig {
            try check(path: checkFile ?? options.config)
            return
        }
        let environment = ProcessInfo.processInfo.environment
        LoggingBootstrap.bootstrap(level: options.logLevel, environment: environment)
        let logger = Logger(label: "ballastd")
        let registry = MetricsBootstrap.prometheus()

        let loaded: LoadedConfiguration
        do {
            loaded = try ConfigurationFile.load(path: options.config)
        } catch {
            // The log line is the message (journald keeps it); no second copy on stderr.
            logger.critical("cannot start: invalid configuration", metadata: ["config.path": "\(options.config)", "error": "\(error)"])
            throw ExitCode.failure
        }
        for diagnostic in loaded.diagnostics where diagnostic.severity != .note {
            logger.warning("configuration warning", metadata: ["config.path": "\(options.config)", "warning": "\(diagnostic)"])
        }
        do {
            try await BallastDaemon.run(
                configuration: loaded.configuration,
                options: DaemonOptions(configPath: options.config, dryRun: dryRun, environment: environment,
                                       metricsRegistry: registry),
                wiring: Wiring.daemon(),
                logger: logger)
        } catch let error as DaemonStartupError {
            logger.critical("cannot start", metadata: ["error": "\(error)"])
            throw ExitCode.failure
        }
    }

    /// `--check-config`: BallastConfig's report, with the pools' free
    /// addresses counted against this node's saved assignments when readable.
    func check(path: String) throws {
        let stateDirectory = (try? ConfigurationFile.load(path: path))?.configuration.stateDirectory
        let assignments = stateDirectory.flatMap { AssignmentStore(directory: $0).peek() }?.mapValues(\.addresses)
        let (output, valid) = BallastConfig.checkConfig(path: path, assignments: assignments)
        print(output)
        if !valid { throw ExitCode(1) }
    }
}
