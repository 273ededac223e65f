import SRCore

/// `eˣ` without a libm call, so that loops over it vectorise (SSE2, Swift's baseline):
/// the Cephes `expf` scheme — `x = n·ln 2 + r`, `n` rounded to nearest by adding
/// 1.5·2²³ (whose low mantissa bits then hold `n`), `r` reduced with ln 2 in two parts so it
/// is exact, `eʳ ≈ 1 + r + r²·P(r)` with Cephes' degree-5 `P`, and `2ⁿ` written into the
/// exponent bits. Relative error below 3·10⁻⁷ (tested against float64); inputs are clamped
/// to [−87.3, 88.7], where `eˣ` is a normal float.
@inline(__always) func fastExp(_ x: Float) -> Float {
    var v = x < -87.33654 ? -87.33654 : x
    v = v > 88.72283 ? 88.72283 : v
    let shifted = (12582912 as Float).addingProduct(v, 1.44269504088896341)  // 1.5·2²³: rounds to an integer
    let n = shifted - 12582912
    let r = v.addingProduct(n, -0.693359375).addingProduct(n, 2.12194440e-4)
    // Horner's scheme in fused multiply-adds (one rounding each; vfmadd on x86-64-v3).
    var p: Float = 1.9875691500e-4
    p = (1.3981999507e-3 as Float).addingProduct(p, r)
    p = (8.3334519073e-3 as Float).addingProduct(p, r)
    p = (4.1665795894e-2 as Float).addingProduct(p, r)
    p = (1.6666665459e-1 as Float).addingProduct(p, r)
    p = (5.0000001201e-1 as Float).addingProduct(p, r)
    let y = (r + 1).addingProduct(p, r * r)
    let exponent = (Int32(bitPattern: shifted.bitPattern) &- 0x4B40_0000 &+ 127) &<< 23
    return y * Float(bitPattern: UInt32(bitPattern: exponent))
}

extension Kernels {
    /// `eˣ` element-wise through `fastExp` (its twin test's entry point).
    public static func fastExp(_ x: Tensor) -> Tensor { map(x) { SRRuntime.fastExp($0) } }
}
