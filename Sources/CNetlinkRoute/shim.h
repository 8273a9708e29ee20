// libnl-route-3: links and addresses (the VIP dummy link). libnl has no
// header for the dummy link type: it is created by kind name ("dummy").
#include <netlink/netlink.h>
#include <netlink/socket.h>
#include <netlink/errno.h>
#include <netlink/cache.h>
#include <netlink/route/link.h>
#include <netlink/route/addr.h>
#include <linux/if.h>
#include <linux/if_addr.h>
