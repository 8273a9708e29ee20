print("ballastctl: not yet implemented")
