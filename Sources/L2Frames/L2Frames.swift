// L2Frames
