/// "Did you mean" for misspelt keys and enum values.
enum Suggestion {
    /// The candidate closest to `word`: first one equal once case, `-` and `_`
    /// are ignored (so MetalLB's legacy `auto-assign` finds `autoAssign`), else
    /// the nearest by edit distance, if near enough to be a typo.
    static func closest(to word: String, in candidates: some Sequence<String>) -> String? {
        let normalized = normalize(word)
        var best: (candidate: String, distance: Int)?
        for candidate in candidates {
            if normalize(candidate) == normalized { return candidate }
            let d = editDistance(normalized, normalize(candidate))
            if d < best?.distance ?? .max { best = (candidate, d) }
        }
        guard let best else { return nil }
        let limit = max(1, min(3, word.count / 3))
        return best.distance <= limit ? best.candidate : nil
    }

    /// " — did you mean "x"?" style hint text, or the list of valid words.
    static func hint(for word: String, in candidates: [String], noun: String = "allowed") -> String {
        let list = candidates.joined(separator: ", ")
        if let match = closest(to: word, in: candidates) {
            return "did you mean \"\(match)\"? (\(noun): \(list))"
        }
        return "\(noun): \(list)"
    }

    private static func normalize(_ s: String) -> [Character] {
        s.lowercased().filter { $0 != "-" && $0 != "_" }.map { $0 }
    }

    /// Edit distance counting a swap of two neighbours as one edit (optimal
    /// string alignment), since "wbe" for "web" is one slip of the fingers.
    static func editDistance(_ a: [Character], _ b: [Character]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous2 = [Int](repeating: 0, count: b.count + 1)
        var previous = Array(0...b.count)
        for i in 1...a.count {
            var current = [i] + [Int](repeating: 0, count: b.count)
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    current[j] = min(current[j], previous2[j - 2] + 1)
                }
            }
            (previous2, previous) = (previous, current)
        }
        return previous[b.count]
    }
}
