import Foundation
import SRCore

/// sRGB (D65) → CIELab, each channel normalised to [0, 1] with fixed bounds:
/// `L/100`, `(a + 128)/255`, `(b + 128)/255`.
public enum CIELab {
    /// `[3, H, W]` sRGB values 0…255 → `[3, H, W]` normalised Lab, in Double.
    public static func convert(_ rgb: [Double], height: Int, width: Int) -> [Double] {
        let n = height * width
        var out = [Double](repeating: 0, count: 3 * n)
        func linear(_ v: Double) -> Double {
            let c = v / 255
            return c <= 0.04045 ? c / 12.92 : pow((c + 0.055) / 1.055, 2.4)
        }
        let delta = 6.0 / 29.0
        func f(_ t: Double) -> Double { t > delta * delta * delta ? cbrt(t) : t / (3 * delta * delta) + 4.0 / 29.0 }
        for i in 0..<n {
            let (r, g, b) = (linear(rgb[i]), linear(rgb[n + i]), linear(rgb[2 * n + i]))
            let x = (0.4124564 * r + 0.3575761 * g + 0.1804375 * b) / 0.95047
            let y = 0.2126729 * r + 0.7151522 * g + 0.0721750 * b
            let z = (0.0193339 * r + 0.1191920 * g + 0.9503041 * b) / 1.08883
            let (fx, fy, fz) = (f(x), f(y), f(z))
            out[i] = (116 * fy - 16) / 100
            out[n + i] = (500 * (fx - fy) + 128) / 255
            out[2 * n + i] = (200 * (fy - fz) + 128) / 255
        }
        return out
    }
}
