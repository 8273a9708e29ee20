// libnl-3 + libnl-genl-3 and the kernel's IPVS uapi, as one Clang module.
#include <netlink/netlink.h>
#include <netlink/msg.h>
#include <netlink/attr.h>
#include <netlink/genl/genl.h>
#include <netlink/genl/ctrl.h>
#include <netlink/genl/family.h>
#include <linux/ip_vs.h>

// recvmmsg(2), which NetlinkIPVS uses to read many acks per system call, is
// declared by glibc only under _GNU_SOURCE, and Swift's Glibc module is built
// without it. Same layout as the kernel's struct mmsghdr.
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

struct ballast_mmsghdr {
    struct msghdr msg_hdr;
    unsigned int msg_len;
};

static inline int ballast_recvmmsg(int fd, struct ballast_mmsghdr *messages, unsigned int count, int flags) {
    return (int)syscall(SYS_recvmmsg, fd, messages, count, flags, (void *)0);
}
