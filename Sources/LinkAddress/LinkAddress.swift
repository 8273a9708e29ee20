// LinkAddress
