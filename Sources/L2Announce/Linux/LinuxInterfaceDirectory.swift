import BallastCore
import Glibc
import L2Frames

/// Interfaces from getifaddrs(3) (which asks rtnetlink for links and
/// addresses in one go), sysctls through /proc/sys.
public struct LinuxInterfaceDirectory: InterfaceDirectory {
    public var namespace: NetworkNamespace?

    public init(namespace: NetworkNamespace? = nil) { self.namespace = namespace }

    public func interfaces() throws(DataPlaneError) -> [NetworkInterface] {
        try namespace.perform { () throws(DataPlaneError) in try Self.listInterfaces() }
    }

    public func sysctl(_ key: String) throws(DataPlaneError) -> String {
        try namespace.perform { () throws(DataPlaneError) in try Self.readFile("/proc/sys/\(key)") }
    }

    public func setSysctl(_ key: String, to value: String) throws(DataPlaneError) {
        try namespace.perform { () throws(DataPlaneError) in try Self.writeFile("/proc/sys/\(key)", value + "\n") }
    }

    private static func listInterfaces() throws(DataPlaneError) -> [NetworkInterface] {
        var head: UnsafeMutablePointer<ifaddrs>?
        try systemCall("list interfaces (getifaddrs)") { getifaddrs(&head) }
        defer { freeifaddrs(head) }

        var byName: [String: NetworkInterface] = [:]
        var order: [String] = []
        var entry = head
        while let current = entry?.pointee {
            defer { entry = current.ifa_next }
            guard let addr = current.ifa_addr, let cName = current.ifa_name else { continue }
            let name = String(cString: cName)
            let flags = current.ifa_flags
            if byName[name] == nil {
                order.append(name)
                byName[name] = NetworkInterface(name: name, index: 0, mac: nil)
            }
            byName[name]!.isUp = flags & Kernel.iffUp != 0 && flags & Kernel.iffRunning != 0
            byName[name]!.isNOARP = flags & Kernel.iffNoARP != 0
            byName[name]!.isLoopback = flags & Kernel.iffLoopback != 0

            switch Int32(addr.pointee.sa_family) {
            case AF_PACKET:
                // One AF_PACKET entry per link: ifindex, hardware type and address.
                let ll = UnsafeRawPointer(addr).loadUnaligned(as: LinkLayerSocketAddress.self)
                byName[name]!.index = ll.ifindex
                if ll.hardwareType == Kernel.arphrdEther, ll.addressLength == 6 {
                    byName[name]!.mac = withUnsafeBytes(of: ll.address) { MACAddress(bytes: $0.prefix(6)) }
                }
            case AF_INET, AF_INET6:
                if let network = network(address: addr, netmask: current.ifa_netmask) {
                    byName[name]!.networks.append(network)
                }
            default:
                break
            }
        }
        return order.compactMap { byName[$0] }
    }

    private static func network(address: UnsafeMutablePointer<sockaddr>,
                                netmask: UnsafeMutablePointer<sockaddr>?) -> CIDR? {
        func bytes(_ sa: UnsafeMutablePointer<sockaddr>) -> [UInt8]? {
            switch Int32(sa.pointee.sa_family) {
            case AF_INET:
                sa.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { withUnsafeBytes(of: $0.pointee.sin_addr) { Array($0) } }
            case AF_INET6:
                sa.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { withUnsafeBytes(of: $0.pointee.sin6_addr) { Array($0) } }
            default: nil
            }
        }
        guard let addressBytes = bytes(address), let ip = IPAddress(bytes: addressBytes) else { return nil }
        let prefixLength = netmask.flatMap(bytes).map { $0.reduce(0) { $0 + $1.nonzeroBitCount } }
            ?? ip.family.bitWidth
        return CIDR(network: ip, prefixLength: min(prefixLength, ip.family.bitWidth))
    }

    private static func readFile(_ path: String) throws(DataPlaneError) -> String {
        let fd = try systemCall("open \(path)") { open(path, O_RDONLY | O_CLOEXEC) }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 256)
        let count = try systemCall("read \(path)") { buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) } }
        var text = String(decoding: buffer[..<count], as: UTF8.self)
        while text.last?.isWhitespace == true { text.removeLast() }
        return text
    }

    private static func writeFile(_ path: String, _ text: String) throws(DataPlaneError) {
        let fd = try systemCall("open \(path) for writing") { open(path, O_WRONLY | O_CLOEXEC) }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        try systemCall("write \(text.debugDescription) to \(path)") {
            bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        }
    }
}
