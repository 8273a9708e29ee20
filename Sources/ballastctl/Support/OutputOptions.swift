import ArgumentParser

/// How a command prints its result; shared by every command with output.
struct OutputOptions: ParsableArguments {
    @Flag(help: "Print JSON (a stable schema, documented in docs/) instead of text.")
    var json = false
}
