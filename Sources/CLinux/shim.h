/* Linux system calls that Swift's Glibc module does not import (their declarations sit
   behind _GNU_SOURCE or in headers outside the module). Values from the kernel's uapi
   headers, identical on x86_64 and aarch64. SRCore/LinuxSystem.swift is the one user, and
   SRRuntime/WorkerPool.swift of the spin-wait hint. */
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

extern int prctl(int option, ...);
extern int renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, unsigned int flags);

/* An unnamed file in `dir` (open(2) O_TMPFILE = __O_TMPFILE | O_DIRECTORY): it vanishes
   with the process unless it is linked to a name. -1 with errno where the file system
   does not support it. */
static inline int srlinux_open_tmpfile(const char *dir, mode_t mode) {
    return open(dir, 020000000 | 0200000 | O_WRONLY | O_CLOEXEC, mode);
}

/* Gives the unnamed file `fd` the name `path` (linkat(2) through /proc/self/fd, else
   AT_EMPTY_PATH = 0x1000, which needs CAP_DAC_READ_SEARCH). */
static inline int srlinux_link_fd(int fd, const char *path) {
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
    if (linkat(AT_FDCWD, proc, AT_FDCWD, path, AT_SYMLINK_FOLLOW) == 0) return 0;
    return linkat(fd, "", AT_FDCWD, path, 0x1000);
}

/* Swaps two paths atomically (renameat2(2) RENAME_EXCHANGE = 1 << 1). */
static inline int srlinux_exchange(const char *a, const char *b) {
    return renameat2(AT_FDCWD, a, AT_FDCWD, b, 1u << 1);
}

/* Asks the kernel to SIGKILL this process when its parent dies (prctl(2)
   PR_SET_PDEATHSIG = 1). */
static inline int srlinux_die_with_parent(void) {
    return prctl(1, (unsigned long)SIGKILL, 0UL, 0UL, 0UL);
}

/* Whether the CPU has AVX2 and FMA, which srtool's kernels are compiled for on x86_64
   (Package.swift); 1 on other architectures. */
static inline int srlinux_cpu_has_avx2_fma(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return 1;
#endif
}

/* A spin-wait hint to the CPU (x86 PAUSE, aarch64 YIELD): SRRuntime's waiting workers. */
static inline void srlinux_cpu_relax(void) {
#if defined(__x86_64__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* Sets mallopt(3) M_MMAP_THRESHOLD and M_TRIM_THRESHOLD to `bytes`: allocations of that
   size or more are mapped of their own and unmapped when freed; smaller ones come from the
   heap, whose free top is returned past `bytes`. A set threshold also stops glibc sliding
   it up after each free. */
static inline void srlinux_malloc_thresholds(int bytes) {
    mallopt(M_MMAP_THRESHOLD, bytes);
    mallopt(M_TRIM_THRESHOLD, bytes);
}
