// L2Announce
