// The Service annotations that steer allocation. Ballast reads its own prefix
// and both of MetalLB's, so Services written for MetalLB move over unchanged.

public enum ServiceAnnotations {
    /// In precedence order: Ballast's own, then MetalLB's current prefix, then
    /// its deprecated one (MetalLB itself prefers metallb.io over metallb.universe.tf).
    public static let prefixes = ["ballast.io", "metallb.io", "metallb.universe.tf"]

    /// Name of the pool to allocate from.
    public static let addressPool = "address-pool"
    /// Comma-separated addresses requested, at most one per family.
    public static let loadBalancerIPs = "loadBalancerIPs"
    /// Sharing key: Services with equal keys may share an address.
    public static let allowSharedIP = "allow-shared-ip"

    /// The value of `NAME` under the first prefix that sets it, with the full key
    /// (for messages that tell the user which annotation was read).
    public static func value(_ name: String, in annotations: [String: String]) -> (key: String, value: String)? {
        for prefix in prefixes {
            let key = "\(prefix)/\(name)"
            if let value = annotations[key] { return (key, value) }
        }
        return nil
    }
}
