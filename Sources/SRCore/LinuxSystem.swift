import CLinux
import Foundation

/// The Linux system calls Swift's Glibc does not import, through the `CLinux` shim (this
/// file is its one user).
public enum LinuxSystem {
    /// An unnamed file in `folder` (`O_TMPFILE`), or -1 with `errno` set.
    static func openUnnamedFile(in folder: String) -> Int32 { srlinux_open_tmpfile(folder, 0o666) }

    /// Gives the unnamed file `fd` the name `path` (`linkat`).
    static func link(_ fd: Int32, to path: String) -> Bool { srlinux_link_fd(fd, path) == 0 }

    /// Swaps two paths atomically (`renameat2` RENAME_EXCHANGE).
    static func exchange(_ a: String, _ b: String) -> Bool { srlinux_exchange(a, b) == 0 }

    /// Allocations up to 1 GiB come from the heap and stay there when freed (glibc would
    /// map and unmap each large one): a forward pass then reuses the pages of freed
    /// activations instead of faulting fresh ones in for every layer.
    public static func keepFreedMemory() {
        srlinux_malloc_thresholds(1 << 30)
    }

    /// For a process that runs forward passes only (`srtool run`, `predict`), after
    /// `keepFreedMemory`: freed tensor buffers go back to the heap at once (`BufferPool.bypass`
    /// says why).
    public static func reuseFreedMemoryAcrossSizes() {
        BufferPool.shared.bypass()
    }

    /// Allocations of 1 MiB or more are mapped of their own and unmapped when freed: for
    /// reading a model, whose importers decode, copy and drop weights (a MatMul weight's
    /// original once its transpose is made). Kept in the heap, those freed weights stayed
    /// resident as holes: ConvNeXt-Tiny's 114 MB of weights took 225 MB of heap.
    public static func unmapFreedMemory() {
        srlinux_malloc_thresholds(1 << 20)
    }

    /// Whether this CPU runs the kernels as built: on x86_64 they are compiled for AVX2 and
    /// FMA unless the build set SRTOOL_PORTABLE (Package.swift).
    public static var cpuRunsKernels: Bool { srlinux_cpu_has_avx2_fma() != 0 }

    /// Makes the kernel kill this process when its parent dies (`PR_SET_PDEATHSIG`), and
    /// exits at once when the parent `parent` is already gone.
    public static func dieWithParent(_ parent: pid_t) {
        _ = srlinux_die_with_parent()
        if getppid() != parent { _exit(70) }
    }

    /// Caps this process's CPU time (`RLIMIT_CPU`): SIGXCPU after `seconds`, SIGKILL 5 s later.
    public static func limitCPUTime(seconds: Int) {
        var limit = rlimit(rlim_cur: rlim_t(seconds), rlim_max: rlim_t(seconds + 5))
        _ = setrlimit(__rlimit_resource_t(RLIMIT_CPU.rawValue), &limit)
    }
}
