// "did you mean" for misspelt keys and values.

enum Suggestion {
    /// The candidate closest to `word`, if it is close enough to be a likely
    /// typo: case, '-' and '_' are ignored ("upper_threshold" →
    /// "upperThreshold"), and at most a third of the letters may differ.
    static func closest(to word: String, in candidates: [String]) -> String? {
        let w = fold(word)
        var best: (String, Int)?
        for c in candidates {
            let d = distance(w, fold(c))
            if d <= max(1, w.count / 3), d < (best?.1 ?? .max) { best = (c, d) }
        }
        return best?.0
    }

    /// " (did you mean 'address'?)" or "".
    static func hint(for word: String, in candidates: [String]) -> String {
        closest(to: word, in: candidates).map { "; did you mean '\($0)'?" } ?? ""
    }

    private static func fold(_ s: String) -> [Character] {
        Array(s.lowercased().filter { $0 != "-" && $0 != "_" })
    }

    /// Levenshtein distance.
    private static func distance(_ a: [Character], _ b: [Character]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1,
                                 previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}
