// libnftables: apply a whole ruleset (our table) atomically from text.
#include <nftables/libnftables.h>

// memfd_create(2), for the script and output of a child nft process
// (NFTProcess): declared by glibc only under _GNU_SOURCE, which Swift's Glibc
// module is built without.
#include <sys/syscall.h>
#include <unistd.h>

#define BALLAST_MFD_CLOEXEC 0x0001U

static inline int ballast_memfd_create(const char *name, unsigned int flags) {
    return (int)syscall(SYS_memfd_create, name, flags);
}
