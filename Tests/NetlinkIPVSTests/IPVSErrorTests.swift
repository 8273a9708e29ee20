// What a user reads when something fails.

import BallastCore
import Testing
@testable import NetlinkIPVS

@Suite struct IPVSErrorTests {
    static let service = VirtualServiceKey.address(IPAddress("192.0.2.10")!, port: 80, protocol: .tcp)

    @Test func missingServiceReadsAsInTheBrief() {
        let operation = IPVSOperation.addDestination(Self.service,
                                                     IPVSDestination(address: IPAddress("10.0.0.5")!, port: 8080))
        let error = IPVSError.kernel(operation, errno: 3)
        #expect(error.description == "add destination 10.0.0.5:8080 to TCP 192.0.2.10:80: No such process (ESRCH)")
        #expect(error.errno == 3)
    }

    @Test(arguments: [
        (Int32(1), "Operation not permitted (EPERM)"),
        (2, "No such file or directory (ENOENT)"),
        (12, "Cannot allocate memory (ENOMEM)"),
        (16, "Device or resource busy (EBUSY)"),
        (17, "File exists (EEXIST)"),
        (22, "Invalid argument (EINVAL)"),
        (34, "Numerical result out of range (ERANGE)"),
        (95, "Operation not supported (EOPNOTSUPP)"),
        (97, "Address family not supported by protocol (EAFNOSUPPORT)"),
        (105, "No buffer space available (ENOBUFS)"),
        (13, "Permission denied (EACCES)"),
        (4242, "errno 4242"),
    ])
    func errnoText(_ code: Int32, _ text: String) {
        #expect(Errno.describe(code) == text)
    }

    @Test func permissionErrorsSayWhatToDo() {
        let error = IPVSError.kernel(.deleteService(Self.service), errno: Errno.EPERM)
        #expect(error.description == "delete service TCP 192.0.2.10:80: Operation not permitted (EPERM): "
                + "IPVS needs CAP_NET_ADMIN in this network namespace; run as root or grant the capability")
    }

    @Test func missingSchedulerModuleIsNamed() {
        let error = IPVSError.kernel(.addService(IPVSVirtualService(key: Self.service, scheduler: .mh)),
                                     errno: Errno.ENOENT)
        #expect(error.description == "add service TCP 192.0.2.10:80: No such file or directory (ENOENT): "
                + "scheduler mh is not available (module ip_vs_mh)")
    }

    @Test func missingIPVSIsOneClearSentence() {
        #expect(IPVSError.unavailable.reason
                == "IPVS is not available in this kernel: load the ip_vs module or enable CONFIG_IP_VS")
        #expect(IPVSError.unavailable.description == "resolve generic netlink family IPVS: "
                + "IPVS is not available in this kernel: load the ip_vs module or enable CONFIG_IP_VS")
    }

    @Test func firewallMarkZeroIsRefusedBeforeSending() {
        var writer = NetlinkMessageWriter()
        let operation = IPVSOperation.addService(IPVSVirtualService(key: .firewallMark(0, family: .ipv4)))
        #expect(throws: IPVSError(operation: "add service FWM 0", errno: Errno.EINVAL,
                                  reason: "firewall mark 0 is not a mark; use 1 or more")) {
            try IPVSRequestEncoder(family: 32).append(operation, sequence: 1, to: &writer)
        }
        #expect(writer.count == 0)
    }

    @Test(arguments: [
        (VirtualServiceKey.address(IPAddress("192.0.2.1")!, port: 1, protocol: .tcp), 33, "0-32 for IPv4"),
        (.firewallMark(5, family: .ipv6), 0, "1-128 for IPv6"),
        (.firewallMark(5, family: .ipv6), 129, "1-128 for IPv6"),
    ])
    func persistenceNetmaskOutOfRange(_ key: VirtualServiceKey, _ prefix: Int, _ range: String) {
        var writer = NetlinkMessageWriter()
        let service = IPVSVirtualService(key: key, persistence: IPVSPersistence(timeout: 60, netmaskPrefix: prefix))
        #expect(throws: IPVSError(operation: "edit service \(key)", errno: Errno.EINVAL,
                                  reason: "persistence netmask /\(prefix) is out of range \(range)")) {
            try IPVSRequestEncoder(family: 32).append(.editService(service), sequence: 1, to: &writer)
        }
    }
}
