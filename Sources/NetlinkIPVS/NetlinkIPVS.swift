// NetlinkIPVS
