import BallastCore
import NetlinkIPVS

/// Opens the kernel's IPVS table and turns the two common failures (not
/// root, no IPVS in the kernel) into one sentence that says what to do.
enum IPVSAccess {
    static func open() throws -> any IPVSControl {
        do {
            return try IPVSNetlinkClient()
        } catch {
            // ENOENT, EPROTONOSUPPORT, EAFNOSUPPORT: no "IPVS" generic netlink family.
            if [2, 93, 97].contains(error.errno) {
                throw CommandFailure("IPVS is not available in this kernel: load the ip_vs module "
                                     + "(modprobe ip_vs) or use a kernel built with CONFIG_IP_VS")
            }
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
        // EPERM, EACCES: every IPVS command, dumps included, needs CAP_NET_ADMIN.
        if [1, 13].contains(error.errno) {
            return "permission denied: run ballastctl as root (IPVS needs CAP_NET_ADMIN)"
        }
        return error.description
    }
}
