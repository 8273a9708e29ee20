print("ballastd: not yet implemented")
