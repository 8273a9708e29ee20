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

    /// Levenshtein distance with one rolling row.
    static func editDistance(_ a: [Character], _ b: [Character]) -> Int {
        if a.isEmpty { return b.count }
        var row = Array(0...b.count)
        for i in 1...a.count {
            var diagonal = row[0]
            row[0] = i
            for j in stride(from: 1, through: b.count, by: 1) {
                let above = row[j]
                row[j] = min(row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1))
                diagonal = above
            }
        }
        return row[b.count]
    }
}
