import CBLAS

/// The only file that calls OpenBLAS. Row-major wrappers named after the cblas routine.
public enum BLAS {
    /// `openblas_set_num_threads`.
    public static func setThreads(_ n: Int) {
        openblas_set_num_threads(Int32(max(n, 1)))
    }

    /// `cblas_sgemm`: C[m×n] = α·op(A)·op(B) + β·C, row-major.
    @inline(__always)
    public static func sgemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
                             alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
                             b: UnsafePointer<Float>, ldb: Int, beta: Float = 0,
                             c: UnsafeMutablePointer<Float>, ldc: Int) {
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    blasint(m), blasint(n), blasint(k), alpha, a, blasint(lda), b, blasint(ldb), beta, c, blasint(ldc))
    }

    /// `cblas_sgemv`: y[m] = α·A[m×n]·x + β·y (or Aᵀ with `trans`), row-major.
    @inline(__always)
    public static func sgemv(trans: Bool = false, m: Int, n: Int, alpha: Float = 1, a: UnsafePointer<Float>,
                             lda: Int, x: UnsafePointer<Float>, beta: Float = 0, y: UnsafeMutablePointer<Float>) {
        cblas_sgemv(CblasRowMajor, trans ? CblasTrans : CblasNoTrans, blasint(m), blasint(n), alpha, a,
                    blasint(lda), x, 1, beta, y, 1)
    }
}
