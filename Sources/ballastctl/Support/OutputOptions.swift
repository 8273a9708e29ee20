import ArgumentParser

/// How a command prints its result; shared by every command with output.
/// `--output json` is the spelling every ballastctl command accepts; `--json`
/// is kept as a short form for the ipvs commands.
struct OutputOptions: ParsableArguments {
    @Option(name: [.short, .long], help: "Output format: text or json (a stable schema, documented in docs/).")
    var output: OutputFormat = .text

    @Flag(name: .customLong("json"), help: "Same as --output json.")
    var jsonFlag = false

    var json: Bool { jsonFlag || output == .json }
}
