import CBLAS
import Foundation

/// The only file that calls OpenBLAS. Row-major wrappers named after the cblas routine.
public enum BLAS {
    /// The kernel family OpenBLAS picked at load time (`openblas_get_corename`).
    public static var coreName: String {
        guard let p = openblas_get_corename() else { return "unknown" }
        return String(cString: p)
    }

    /// A better OpenBLAS kernel family for this CPU when OpenBLAS fell back to its generic
    /// `Prescott` kernels because it does not know the processor (Debian's 0.3.21 on recent
    /// Xeons, 2–3× slower): `SkylakeX` with AVX-512 F/CD/BW/DQ/VL, `Haswell` with AVX2 + FMA.
    /// nil when the user set `OPENBLAS_CORETYPE` or OpenBLAS chose well. The choice only takes
    /// effect in a process started with it in the environment (OpenBLAS reads it on load).
    public static func betterCoreType() -> String? {
        guard ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] == nil,
              coreName.lowercased() == "prescott",
              let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let line = info.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return nil }
        let flags = Set(line.split(separator: " ").map(String.init))
        if ["avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"].allSatisfy(flags.contains) { return "SkylakeX" }
        if ["avx2", "fma"].allSatisfy(flags.contains) { return "Haswell" }
        return nil
    }

    /// OpenBLAS's own threads stay at one: srtool's workers call it concurrently. The
    /// threads OpenBLAS started when it loaded are stopped: each would otherwise spin in
    /// `sched_yield` for about 0.1 s before it sleeps (about 0.07 s of a core at every start).
    /// `blas_thread_shutdown_` is OpenBLAS's own (its fork handler's), looked up so that a
    /// build without it only keeps the threads.
    public static func useSingleThreadedKernels() {
        // Setting the count again would start a server thread again.
        if openblas_get_num_threads() != 1 { openblas_set_num_threads(1) }
        stopThreads
    }

    private static let stopThreads: Void = {
        typealias Shutdown = @convention(c) () -> Int32
        // The process's global scope: the executable and the libraries it loaded.
        guard let scope = dlopen(nil, RTLD_LAZY), let symbol = dlsym(scope, "blas_thread_shutdown_") else { return }
        _ = unsafeBitCast(symbol, to: Shutdown.self)()
    }()

    /// `cblas_sgemm`: C[m×n] = α·op(A)·op(B) + β·C, row-major. OpenBLAS runs single-threaded;
    /// srtool splits C across its own workers (`Parallel`): by columns when C is at least
    /// twice as wide as tall (a transformer's token rows, a 1×1 convolution's pixels), so
    /// each worker packs only its part of B, the larger operand; by rows otherwise.
    public static func sgemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
                             alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
                             b: UnsafePointer<Float>, ldb: Int, beta: Float = 0,
                             c: UnsafeMutablePointer<Float>, ldc: Int) {
        if n >= 2 * m {
            Parallel.forEach(n, minChunk: m * n * k > 1 << 20 ? 32 : n) { cols in
                let b0 = transB ? b + cols.lowerBound * ldb : b + cols.lowerBound
                cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                            blasint(m), blasint(cols.count), blasint(k), alpha, a, blasint(lda), b0, blasint(ldb), beta,
                            c + cols.lowerBound, blasint(ldc))
            }
            return
        }
        let chunk = m * n * k > 1 << 20 ? 8 : m
        Parallel.forEach(m, minChunk: chunk) { rows in
            let a0 = transA ? a + rows.lowerBound : a + rows.lowerBound * lda
            cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                        blasint(rows.count), blasint(n), blasint(k), alpha, a0, blasint(lda), b, blasint(ldb), beta,
                        c + rows.lowerBound * ldc, blasint(ldc))
        }
    }

    /// `cblas_sgemm` on the calling thread only (inside a worker).
    @inline(__always)
    public static func sgemmSingle(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int, a: UnsafePointer<Float>,
                                   lda: Int, b: UnsafePointer<Float>, ldb: Int, c: UnsafeMutablePointer<Float>, ldc: Int) {
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans, blasint(m), blasint(n), blasint(k),
                    1, a, blasint(lda), b, blasint(ldb), 0, c, blasint(ldc))
    }

    /// `cblas_dgemm` with Bᵀ on the calling thread: C[m×n] = A[m×k]·B[n×k]ᵀ, row-major, double.
    @inline(__always)
    public static func dgemmSingle(m: Int, n: Int, k: Int, a: UnsafePointer<Double>, lda: Int,
                                   b: UnsafePointer<Double>, ldb: Int, c: UnsafeMutablePointer<Double>, ldc: Int) {
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, blasint(m), blasint(n), blasint(k), 1, a, blasint(lda),
                    b, blasint(ldb), 0, c, blasint(ldc))
    }

    /// `cblas_sgemv`: y = α·A[m×n]·x + β·y (or Aᵀx with `trans`), row-major; the output is
    /// split across workers.
    public static func sgemv(trans: Bool = false, m: Int, n: Int, alpha: Float = 1, a: UnsafePointer<Float>,
                             lda: Int, x: UnsafePointer<Float>, beta: Float = 0, y: UnsafeMutablePointer<Float>) {
        let outputs = trans ? n : m
        Parallel.forEach(outputs, minChunk: m * n > 1 << 18 ? 64 : outputs) { r in
            if trans {
                cblas_sgemv(CblasRowMajor, CblasTrans, blasint(m), blasint(r.count), alpha, a + r.lowerBound,
                            blasint(lda), x, 1, beta, y + r.lowerBound, 1)
            } else {
                cblas_sgemv(CblasRowMajor, CblasNoTrans, blasint(r.count), blasint(n), alpha, a + r.lowerBound * lda,
                            blasint(lda), x, 1, beta, y + r.lowerBound, 1)
            }
        }
    }
}
