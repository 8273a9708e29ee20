// The Service annotations that steer allocation. Ballast reads its own prefix
// and both of MetalLB's, so Services written for MetalLB move over unchanged.

public enum ServiceAnnotations {
    /// In precedence order: Ballast's own, then MetalLB's current prefix, then
    /// its deprecated one (MetalLB itself prefers metallb.io over metallb.universe.tf).
    public static let prefixes = ["ballast.io", "metallb.io", "metallb.universe.tf"]

    /// Name of the pool to allocate from.
    public static let addressPool = keys("address-pool")
    /// Comma-separated addresses requested, at most one per family.
    public static let loadBalancerIPs = keys("loadBalancerIPs")
    /// Sharing key: Services with equal keys may share an address.
    public static let allowSharedIP = keys("allow-shared-ip")

    /// Whether annotation `key` (its UTF-8 bytes) is under one of `prefixes`.
    /// Ballast reads no other annotation, so decoding keeps only these: real
    /// objects carry large ones, such as kubectl's last-applied-configuration
    /// (the whole object as JSON), that would otherwise be held in memory.
    public static func isKnown(_ key: UnsafeBufferPointer<UInt8>) -> Bool {
        prefixBytes.contains { key.starts(with: $0) }
    }

    /// `prefixes`, each with the "/" that ends it, as UTF-8.
    private static let prefixBytes = prefixes.map { Array("\($0)/".utf8) }

    /// The full keys of annotation `name`, one per prefix, in precedence order.
    public static func keys(_ name: String) -> [String] { prefixes.map { "\($0)/\(name)" } }

    /// The value of the first of `keys` that is set, with that key (messages
    /// tell the user which annotation was read).
    public static func value(_ keys: [String], in annotations: [String: String]) -> (key: String, value: String)? {
        guard !annotations.isEmpty else { return nil }
        for key in keys {
            if let value = annotations[key] { return (key, value) }
        }
        return nil
    }
}
