import BallastCore
import NetlinkIPVS

/// Opens the kernel's IPVS table and turns the two common failures into one
/// sentence that says what to do.
enum IPVSAccess {
    static func open() throws -> any IPVSControl {
        do {
            return try IPVSNetlinkClient()
        } catch {
            throw CommandFailure(explain(error))
        }
    }

    static func dump(_ control: any IPVSControl) throws -> [ObservedVirtualService] {
        do {
            return try control.dump()
        } catch {
            throw CommandFailure(explain(error))
        }
    }

    static func explain(_ error: IPVSError) -> String {
        switch error.errno {
        case 1, 13: // EPERM, EACCES: IPVS commands need CAP_NET_ADMIN.
            "permission denied by the kernel (\(error)); run ballastctl as root, it needs CAP_NET_ADMIN"
        case 2, 93, 97: // ENOENT, EPROTONOSUPPORT, EAFNOSUPPORT: no "IPVS" generic netlink family.
            "IPVS is not available in this kernel (\(error)); load it with `modprobe ip_vs` or use a kernel with CONFIG_IP_VS"
        default:
            error.description
        }
    }
}
