// libnl-3 + libnl-genl-3 and the kernel's IPVS uapi, as one Clang module.
#include <netlink/netlink.h>
#include <netlink/msg.h>
#include <netlink/attr.h>
#include <netlink/genl/genl.h>
#include <netlink/genl/ctrl.h>
#include <netlink/genl/family.h>
#include <linux/ip_vs.h>
