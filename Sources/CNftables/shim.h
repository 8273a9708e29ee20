// libnftables: apply a whole ruleset (our table) atomically from text.
#include <nftables/libnftables.h>
