/// Durations as written in the configuration: Go's `time.ParseDuration`
/// syntax that Kubernetes and MetalLB users know ("500ms", "5s", "1m30s",
/// "1.5h"), or a bare number of seconds.
enum DurationText {
    private static let units: [(suffix: String, nanoseconds: Int64)] = [
        ("ns", 1), ("us", 1_000), ("µs", 1_000), ("μs", 1_000), ("ms", 1_000_000),
        ("s", 1_000_000_000), ("m", 60_000_000_000), ("h", 3_600_000_000_000),
    ]

    /// nil for anything else, including negative durations and overflow.
    static func parse(_ text: String) -> Duration? {
        if text == "0" { return .zero }
        var rest = Substring(text)
        var total: Int64 = 0
        guard !rest.isEmpty else { return nil }
        while !rest.isEmpty {
            let whole = rest.prefix { $0.isASCII && $0.isNumber }
            rest = rest.dropFirst(whole.count)
            var fraction: Substring = ""
            if rest.first == "." {
                rest = rest.dropFirst()
                fraction = rest.prefix { $0.isASCII && $0.isNumber }
                rest = rest.dropFirst(fraction.count)
            }
            guard !(whole.isEmpty && fraction.isEmpty) else { return nil }
            // Longest suffix first, so "ms" is not read as "m" followed by "s".
            let unitText = rest.prefix { !($0.isASCII && $0.isNumber) && $0 != "." }
            guard let unit = units.first(where: { $0.suffix == unitText }) else { return nil }
            rest = rest.dropFirst(unitText.count)
            guard let w = Int64(whole.isEmpty ? "0" : whole) else { return nil }
            let (scaled, overflow) = w.multipliedReportingOverflow(by: unit.nanoseconds)
            guard !overflow else { return nil }
            var part = scaled
            var scale = unit.nanoseconds
            for digit in fraction {
                scale /= 10
                part += Int64(digit.wholeNumberValue!) * scale
            }
            let (sum, sumOverflow) = total.addingReportingOverflow(part)
            guard !sumOverflow else { return nil }
            total = sum
        }
        return .nanoseconds(total)
    }

    /// The shortest exact form: "1h", "1m30s", "500ms", "0s".
    static func format(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        let nanos = attoseconds / 1_000_000_000
        if nanos != 0 {
            let total = seconds * 1_000_000_000 + nanos
            if total % 1_000_000 == 0 { return "\(total / 1_000_000)ms" }
            if total % 1_000 == 0 { return "\(total / 1_000)us" }
            return "\(total)ns"
        }
        if seconds == 0 { return "0s" }
        let (h, m, s) = (seconds / 3600, seconds % 3600 / 60, seconds % 60)
        return (h > 0 ? "\(h)h" : "") + (m > 0 ? "\(m)m" : "") + (s > 0 ? "\(s)s" : "")
    }
}

extension Value {
    /// A duration (see DurationText); `allowZero` for timeouts where 0 means "at once".
    func duration(allowZero: Bool = false) -> Duration? {
        let hint = "write a number with a unit, such as 500ms, 5s, 1m or 1h30m (a bare number is seconds)"
        guard let s = node.scalar, !isNull else {
            mismatch(expected: "a duration", hint: hint)
            return nil
        }
        let parsed: Duration? = if s.isPlain, let n = Int(s.text) {
            n >= 0 ? .seconds(n) : nil
        } else {
            DurationText.parse(s.text)
        }
        guard let parsed else {
            error("\"\(s.text)\" is not a duration", hint: hint)
            return nil
        }
        if parsed == .zero && !allowZero {
            error("must be longer than 0", hint: hint)
            return nil
        }
        return parsed
    }
}
