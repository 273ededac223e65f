import SRCore
@testable import SRRuntime
import SRTestSupport
import XCTest

/// The fast kernels against their naive twins on random small shapes (fixed seeds).
final class NaiveTwinTests: XCTestCase {
    func random(_ shape: [Int], _ rng: inout Seeded) -> Tensor {
        let t = Tensor(zeros: shape)
        for i in 0..<t.count { t.pointer[i] = Float.random(in: -1...1, using: &rng) }
        return t
    }

    /// `f` in float64 over `t`, in place (the reference for a fused activation).
    func activate(_ t: Tensor, _ f: FusedActivation?) {
        for j in 0..<t.count {
            let v = Double(t.pointer[j])
            switch f {
            case .relu(let slope)?: t.pointer[j] = Float(v > 0 ? v : v * Double(slope))
            case .clip(let lo, let hi)?: t.pointer[j] = Float(min(max(v, Double(lo)), Double(hi)))
            case .unary(let u)?: t.pointer[j] = Float(u.referenceValue(v))
            case nil: break
            }
        }
    }

    func testConvolutionMatchesNaive() throws {
        var rng = Seeded(state: 42)
        let cases: [(c: Int, o: Int, h: Int, w: Int, a: Conv2DAttributes)] = [
            (3, 4, 9, 7, Conv2DAttributes(kernel: [3, 3], pads: [1, 1, 1, 1])),
            (4, 6, 8, 8, Conv2DAttributes(kernel: [3, 3], stride: [2, 2], pads: [0, 1, 1, 0])),
            (4, 4, 9, 9, Conv2DAttributes(kernel: [3, 2], stride: [1, 2], dilation: [2, 1])),
            (6, 6, 5, 5, Conv2DAttributes(kernel: [3, 3], pads: [1, 1, 1, 1], group: 3)),
            (4, 8, 6, 6, Conv2DAttributes(kernel: [3, 3], pads: [2, 2, 2, 2], group: 4)),
            (5, 7, 6, 4, Conv2DAttributes(kernel: [1, 1])),
            (5, 7, 6, 4, Conv2DAttributes(kernel: [1, 1], stride: [2, 2])),
            // 1×1 over more than 64 channels: one matrix product, split by columns (pixels)
            // or, for a small map, by rows (output channels)
            (80, 16, 40, 41, Conv2DAttributes(kernel: [1, 1])),
            (80, 200, 9, 9, Conv2DAttributes(kernel: [1, 1])),
            // 1×1 over at most 64 channels on a map of 7×7 to 32×32: forward-only, the packed product
            (16, 40, 9, 10, Conv2DAttributes(kernel: [1, 1])),
            (2, 3, 11, 13, Conv2DAttributes(kernel: [5, 5], stride: [3, 2], pads: [2, 1, 0, 2])),
            (6, 5, 5, 4, Conv2DAttributes(kernel: [3, 3], stride: [2, 3], pads: [1, 3, 0, 4])),  // windows past both sides
            // Depthwise (the direct kernel): strides, dilation, asymmetric pads, a multiplier, 7×7.
            (6, 6, 9, 8, Conv2DAttributes(kernel: [3, 3], pads: [1, 1, 1, 1], group: 6)),
            (5, 5, 10, 11, Conv2DAttributes(kernel: [3, 3], stride: [2, 2], pads: [0, 1, 1, 0], group: 5)),
            (4, 8, 9, 9, Conv2DAttributes(kernel: [5, 3], stride: [1, 2], pads: [2, 1, 2, 1], dilation: [1, 2], group: 4)),
            (3, 3, 14, 13, Conv2DAttributes(kernel: [7, 7], pads: [3, 3, 3, 3], group: 3)),
            (4, 4, 6, 5, Conv2DAttributes(kernel: [1, 1], stride: [2, 2], group: 4)),
            (2, 2, 5, 5, Conv2DAttributes(kernel: [3, 3], pads: [4, 4, 4, 4], group: 2)),
            // An image's first layer (the direct kernel over three channels): a stride-2 stem,
            // one output block per worker, stride 1.
            (3, 16, 33, 35, Conv2DAttributes(kernel: [3, 3], stride: [2, 2], pads: [1, 1, 1, 1])),
            (3, 40, 18, 20, Conv2DAttributes(kernel: [5, 5], pads: [2, 2, 2, 2])),
            (2, 6, 7, 9, Conv2DAttributes(kernel: [3, 3], stride: [2, 2], pads: [0, 1, 1, 0], dilation: [2, 1])),
            // Wider inputs (the unfolding products): dilation across, asymmetric pads and strides,
            // a 7×7 stride-2 stem over three channels and 33 outputs (past one panel).
            (8, 40, 10, 12, Conv2DAttributes(kernel: [3, 3], stride: [1, 2], pads: [1, 2, 0, 3], dilation: [1, 2])),
            (6, 10, 9, 11, Conv2DAttributes(kernel: [2, 3], stride: [3, 1], pads: [0, 1, 2, 0], dilation: [2, 2], group: 2)),
            (3, 33, 23, 21, Conv2DAttributes(kernel: [7, 7], stride: [2, 2], pads: [3, 3, 3, 3])),
            // Pads far past the kernel's reach with a stride as large (a file may ask for it):
            // the result is a few windows, not a padded plane of 2^21 × 2^21 (dense, depthwise,
            // an image's first layer).
            (8, 8, 4, 5, Conv2DAttributes(kernel: [3, 3], stride: [1 << 20, 1 << 20], pads: [1 << 20, 1 << 20, 1 << 20, 1 << 20])),
            (8, 8, 4, 5, Conv2DAttributes(kernel: [3, 3], stride: [1 << 20, 1 << 20], pads: [1 << 20, 1, 1 << 20, 1], group: 8)),
            (3, 16, 4, 5, Conv2DAttributes(kernel: [3, 3], stride: [1 << 20, 2], pads: [1 << 20, 1, 1 << 20, 1])),
            (6, 6, 5, 5, Conv2DAttributes(kernel: [1, 1], pads: [2, 2, 2, 2])),  // a 1×1 with pads (Caffe allows it)
        ]
        for (i, k) in cases.enumerated() {
            let x = random([2, k.c, k.h, k.w], &rng)
            let w = random([k.o, k.c / k.a.group] + k.a.kernel, &rng)
            let b = random([k.o], &rng)
            let out = try Op.conv2d(k.a).outputShape(inputs: [x.shape], params: ["weight": w.shape, "bias": b.shape], node: "t")
            let slow = NaiveKernels.conv2d(x, weight: w, bias: b, k.a, outShape: out)
            // .f4x4: a forward-only run (Winograd F(4×4) where it applies); .f2x2: an explanation's.
            for tile in [WinogradTile.f2x2, .f4x4] {
                let fast = Kernels.conv2d(x, weight: w, bias: b, k.a, outShape: out, winograd: tile)
                if let why = closeness(fast, slow, atol: 1e-5, rtol: 1e-5) { XCTFail("case \(i), \(tile): \(why)") }
            }
        }
        // Small maps, one image, four workers: unfolded once, the output channels split.
        let small: [(c: Int, o: Int, h: Int, w: Int, a: Conv2DAttributes)] = [
            (8, 128, 7, 9, Conv2DAttributes(kernel: [3, 3], pads: [1, 1, 1, 1])),
            (16, 150, 10, 11, Conv2DAttributes(kernel: [3, 3], stride: [2, 2], pads: [1, 1, 1, 1])),
        ]
        for (i, k) in small.enumerated() {
            let x = random([1, k.c, k.h, k.w], &rng)
            let w = random([k.o, k.c / k.a.group] + k.a.kernel, &rng)
            let b = random([k.o], &rng)
            let out = try Op.conv2d(k.a).outputShape(inputs: [x.shape], params: ["weight": w.shape, "bias": b.shape], node: "t")
            let slow = NaiveKernels.conv2d(x, weight: w, bias: b, k.a, outShape: out)
            for j in 0..<slow.count { slow.pointer[j] = max(slow.pointer[j], 0) }
            for tile in [WinogradTile.f2x2, .f4x4] {
                let fast = Parallel.using(4) {
                    Kernels.conv2d(x, weight: w, bias: b, k.a, outShape: out, activation: .relu(slope: 0), winograd: tile)
                }
                if let why = closeness(fast, slow, atol: 1e-5, rtol: 1e-5) { XCTFail("small map \(i), \(tile): \(why)") }
            }
        }
    }

    /// Max pooling's two-pass rows against a direct loop over each window, exactly: the ResNet
    /// stem's 3×3/2 with padding, widths that are not a multiple of eight, Caffe's ceil-mode
    /// overhang, asymmetric pads, a window larger than the input, and a NaN (never wins).
    func testMaxPoolingMatchesNaive() throws {
        var rng = Seeded(state: 5)
        let cases: [(c: Int, h: Int, w: Int, a: Pool2DAttributes)] = [
            (3, 13, 17, Pool2DAttributes(kernel: [3, 3], stride: [2, 2], pads: [1, 1, 1, 1])),
            (2, 24, 24, Pool2DAttributes(kernel: [3, 3], stride: [1, 1], pads: [1, 1, 1, 1])),
            (2, 7, 9, Pool2DAttributes(kernel: [3, 3], stride: [2, 2], ceilMode: true)),
            (2, 11, 10, Pool2DAttributes(kernel: [5, 4], stride: [3, 2], pads: [2, 0, 1, 3])),
            (1, 3, 4, Pool2DAttributes(kernel: [6, 6], stride: [1, 1], pads: [2, 2, 2, 2])),
            (4, 10, 8, Pool2DAttributes(kernel: [2, 3], stride: [2, 3], pads: [0, 1, 0, 1], ceilMode: true)),
            (2, 9, 41, Pool2DAttributes(kernel: [3, 3], stride: [2, 2], pads: [1, 1, 1, 1])),
        ]
        for (i, k) in cases.enumerated() {
            let x = random([2, k.c, k.h, k.w], &rng)
            x.pointer[k.w + 1] = .nan
            x.pointer[min(k.w + 20, x.count - 1)] = .nan
            let out = try Op.maxPool2d(k.a).outputShape(inputs: [x.shape], params: [:], node: "t")
            let fast = Kernels.maxPool2d(x, k.a, outShape: out), slow = NaiveKernels.maxPool2d(x, k.a, outShape: out)
            XCTAssertEqual(fast.shape, slow.shape, "case \(i)")
            for j in 0..<slow.count where fast.pointer[j] != slow.pointer[j] {
                XCTFail("case \(i): element \(j) is \(fast.pointer[j]), want \(slow.pointer[j])")
                break
            }
        }
    }

    /// Global average pooling against float64 means: planes shorter than a vector, between
    /// one and four vectors, and long ones with a remainder of every kind (a run of 32, then
    /// eights, then single values), two images.
    func testGlobalAveragePoolingMatchesNaive() throws {
        var rng = Seeded(state: 7)
        for (h, w) in [(1, 1), (1, 7), (3, 5), (7, 7), (8, 8), (5, 13), (14, 14), (56, 57)] {
            let x = random([2, 3, h, w], &rng)
            for j in 0..<x.count { x.pointer[j] += 0.5 }  // a mean well away from 0
            let got = Kernels.globalAvgPool(x)
            XCTAssertEqual(got.shape, [2, 3, 1, 1])
            let want = (0..<6).map { plane in
                Float((0..<(h * w)).reduce(0.0) { $0 + Double(x.pointer[plane * h * w + $1]) } / Double(h * w))
            }
            if let why = closeness(got.values, want, atol: 1e-7, rtol: 1e-6) { XCTFail("\(h)×\(w): \(why)") }
        }
    }

    /// The 2×2/2 average pooling path gives the general window loop's bits (odd sizes drop
    /// the last row and column; −0 sums as in the loop, which starts from +0).
    func testAveragePooling2x2MatchesTheWindowLoop() throws {
        var rng = Seeded(state: 6)
        let x = random([2, 3, 9, 12], &rng)
        for i in 0..<(9 * 12) { x.pointer[i] = -0.0 }  // the first plane: windows of −0 only
        let a = Pool2DAttributes(kernel: [2, 2], stride: [2, 2])
        let out = try Op.avgPool2d(a).outputShape(inputs: [x.shape], params: [:], node: "t")
        let fast = Kernels.avgPool2d(x, a, outShape: out)
        let (h, w, ho, wo) = (9, 12, out[2], out[3])
        for nc in 0..<6 { for oy in 0..<ho { for ox in 0..<wo {
            var s: Float = 0
            for y in (2 * oy)..<(2 * oy + 2) { for xx in (2 * ox)..<(2 * ox + 2) { s += x.pointer[(nc * h + y) * w + xx] } }
            let got = fast.pointer[(nc * ho + oy) * wo + ox]
            XCTAssertEqual(got.bitPattern, (s / 4).bitPattern, "plane \(nc), (\(oy), \(ox))")
        } } }
    }

    /// The 1×1 paths: one multiplication per image and group for wide inputs (> 64 channels
    /// per group), `pointwiseConv2d` for narrow ones — tiles of four rows and sixteen
    /// columns, the last columns and rows one at a time, groups, and output channels split
    /// between workers when the map gives fewer bands than workers.
    func testPointwiseConvolutionMatchesNaive() throws {
        var rng = Seeded(state: 11)
        let cases: [(n: Int, c: Int, o: Int, h: Int, w: Int, group: Int, threads: Int, f: FusedActivation?)] = [
            (1, 16, 96, 30, 30, 1, 2, .unary(.silu)),     // 900 columns: bands of 512
            (1, 16, 32, 9, 9, 1, 2, .clip(min: -0.5, max: 0.5)),  // ReLU6's kind of Clip
            (2, 24, 40, 9, 7, 2, 2, .relu(slope: 0)),      // groups
            (1, 40, 192, 7, 7, 1, 4, .unary(.hardSwish)),  // one band, three row blocks
            (1, 96, 40, 12, 12, 1, 2, nil),                // > 64 channels: the whole-map product
            (1, 70, 96, 7, 7, 1, 2, .unary(.silu)),        // > 64 channels, 49 pixels: split by panels
            (2, 130, 40, 5, 9, 2, 2, .relu(slope: 0)),     // groups of 65, two panels of 20 rows: by columns
            (2, 5, 6, 5, 7, 1, 2, .unary(.gelu)),          // two rows after a tile of four
        ]
        for (i, k) in cases.enumerated() {
            let a = Conv2DAttributes(kernel: [1, 1], group: k.group)
            let x = random([k.n, k.c, k.h, k.w], &rng)
            let w = random([k.o, k.c / k.group, 1, 1], &rng)
            let b = random([k.o], &rng)
            let out = try Op.conv2d(a).outputShape(inputs: [x.shape], params: ["weight": w.shape, "bias": b.shape], node: "t")
            let slow = NaiveKernels.conv2d(x, weight: w, bias: b, a, outShape: out)
            activate(slow, k.f)
            for tile in [WinogradTile.f2x2, .f4x4] {
                let fast = Parallel.using(k.threads) {
                    Kernels.conv2d(x, weight: w, bias: b, a, outShape: out, activation: k.f, winograd: tile)
                }
                if let why = closeness(fast, slow, atol: 1e-5, rtol: 1e-4) { XCTFail("case \(i), \(tile): \(why)") }
            }
        }
    }

    /// The Winograd paths (3×3, stride 1, ≥ 16 channels per group, ≥ 49 tiles of F(2×2, 3×3);
    /// F(4×4, 3×3) from 49 of its tiles): odd and even sizes (partial tiles), asymmetric and
    /// zero pads, groups, few tiles (phases split across workers) and many (blocks per
    /// worker, eight-tile vector transforms, tile rows longer than eight tiles), the fused
    /// ReLU. F(4×4)'s float32 error is larger, hence its looser tolerance.
    func testWinogradConvolutionMatchesNaive() throws {
        var rng = Seeded(state: 2024)
        let cases: [(n: Int, c: Int, o: Int, h: Int, w: Int, a: Conv2DAttributes, slope: Float?)] = [
            (1, 16, 16, 17, 15, Conv2DAttributes(kernel: [3, 3], pads: [1, 1, 1, 1]), nil),
            (2, 16, 24, 17, 16, Conv2DAttributes(kernel: [3, 3]), nil),
            (1, 20, 16, 18, 18, Conv2DAttributes(kernel: [3, 3], pads: [0, 2, 1, 0]), 0),
            (1, 32, 32, 16, 18, Conv2DAttributes(kernel: [3, 3], pads: [1, 1, 1, 1], group: 2), 0.1),
            (2, 16, 16, 37, 41, Conv2DAttributes(kernel: [3, 3], pads: [1, 1, 1, 1]), 0),
            (1, 17, 19, 34, 35, Conv2DAttributes(kernel: [3, 3], pads: [2, 0, 0, 2]), nil),
            (1, 32, 32, 33, 40, Conv2DAttributes(kernel: [3, 3], pads: [1, 1, 1, 1], group: 2), 0.2),
            (1, 16, 24, 28, 28, Conv2DAttributes(kernel: [3, 3], pads: [1, 1, 1, 1]), 0),
            (1, 24, 16, 23, 75, Conv2DAttributes(kernel: [3, 3], pads: [0, 1, 2, 0]), nil),
            (3, 16, 16, 30, 70, Conv2DAttributes(kernel: [3, 3], pads: [1, 1, 1, 1]), 0),
            (1, 32, 16, 14, 14, Conv2DAttributes(kernel: [3, 3], pads: [1, 1, 1, 1]), 0),  // 49 tiles: the smallest map
            (1, 16, 16, 13, 13, Conv2DAttributes(kernel: [3, 3], pads: [1, 1, 1, 1]), nil),  // 49 partial tiles
        ]
        for (i, k) in cases.enumerated() {
            let x = random([k.n, k.c, k.h, k.w], &rng)
            let w = random([k.o, k.c / k.a.group] + k.a.kernel, &rng)
            let b = random([k.o], &rng)
            let out = try Op.conv2d(k.a).outputShape(inputs: [x.shape], params: ["weight": w.shape, "bias": b.shape], node: "t")
            let slow = NaiveKernels.conv2d(x, weight: w, bias: b, k.a, outShape: out)
            if let slope = k.slope { for j in 0..<slow.count where slow.pointer[j] < 0 { slow.pointer[j] *= slope } }
            for tile in [WinogradTile.f2x2, .f4x4] {
                let scratch = Scratch()
                for round in 0..<2 {  // the second call reuses the cached filter transform
                    let fast = Kernels.conv2d(x, weight: w, bias: b, k.a, outShape: out, scratch: scratch,
                                              activation: k.slope.map { .relu(slope: $0) }, winograd: tile)
                    let tolerance: Float = tile == .f2x2 ? 1e-5 : 1e-4
                    if let why = closeness(fast, slow, atol: tolerance, rtol: tolerance) {
                        XCTFail("case \(i), \(tile), call \(round): \(why)")
                    }
                }
            }
        }
    }

    /// The depthwise path (eight output columns summed in registers; stride 2 from split
    /// planes) at strides 1, 2 and 3, dilation, asymmetric pads, two outputs per channel and
    /// widths that are not multiples of eight, with each fused activation the executor uses
    /// (ReLU, Clip, HardSwish, SiLU, GELU and one through the generic path) against the naive
    /// convolution followed by the float64 function.
    func testDepthwiseConvolutionWithFusedActivationMatchesNaive() throws {
        var rng = Seeded(state: 77)
        let cases: [(c: Int, mult: Int, h: Int, w: Int, a: Conv2DAttributes, f: FusedActivation?)] = [
            (8, 1, 13, 21, Conv2DAttributes(kernel: [3, 3], pads: [1, 1, 1, 1], group: 8), .unary(.hardSwish)),
            (6, 1, 16, 16, Conv2DAttributes(kernel: [5, 5], stride: [2, 2], pads: [2, 2, 2, 2], group: 6), .unary(.silu)),
            (3, 1, 12, 37, Conv2DAttributes(kernel: [3, 3], stride: [2, 2], pads: [1, 1, 1, 1], group: 3), nil),
            (3, 1, 10, 40, Conv2DAttributes(kernel: [3, 3], stride: [2, 2], pads: [0, 0, 1, 1], group: 3), .unary(.silu)),
            (4, 2, 11, 9, Conv2DAttributes(kernel: [3, 3], stride: [2, 2], pads: [0, 1, 1, 0], group: 4), .relu(slope: 0)),
            (5, 1, 19, 33, Conv2DAttributes(kernel: [3, 3], stride: [3, 3], pads: [1, 1, 1, 1], group: 5), .relu(slope: 0.1)),
            (3, 1, 14, 17, Conv2DAttributes(kernel: [3, 3], stride: [1, 1], pads: [2, 2, 2, 2], dilation: [2, 2], group: 3), .unary(.gelu)),
            (4, 1, 7, 7, Conv2DAttributes(kernel: [7, 7], pads: [3, 3, 3, 3], group: 4), .unary(.mish)),
            (2, 3, 9, 8, Conv2DAttributes(kernel: [1, 3], pads: [0, 1, 0, 1], group: 2), nil),
            (6, 1, 12, 19, Conv2DAttributes(kernel: [3, 3], stride: [2, 2], pads: [1, 1, 1, 1], group: 6), .clip(min: 0, max: 0.6)),
        ]
        for (i, k) in cases.enumerated() {
            let x = random([2, k.c, k.h, k.w], &rng)
            let w = random([k.c * k.mult, 1] + k.a.kernel, &rng)
            let b = random([k.c * k.mult], &rng)
            let out = try Op.conv2d(k.a).outputShape(inputs: [x.shape], params: ["weight": w.shape, "bias": b.shape], node: "t")
            let fast = Kernels.conv2d(x, weight: w, bias: b, k.a, outShape: out, activation: k.f)
            let slow = NaiveKernels.conv2d(x, weight: w, bias: b, k.a, outShape: out)
            activate(slow, k.f)
            if let why = closeness(fast, slow, atol: 1e-5, rtol: 1e-4) { XCTFail("case \(i): \(why)") }
        }
    }

    /// Both input-gradient paths (flipped convolution for stride 1, banded col2im otherwise),
    /// the Winograd ones with either tile.
    func testConvolutionInputGradientMatchesNaive() throws {
        var rng = Seeded(state: 99)
        let cases: [(c: Int, o: Int, h: Int, w: Int, a: Conv2DAttributes)] = [
            (3, 4, 9, 7, Conv2DAttributes(kernel: [3, 3], pads: [1, 1, 1, 1])),
            (6, 6, 8, 8, Conv2DAttributes(kernel: [3, 3], pads: [1, 0, 2, 1], group: 3)),
            (4, 6, 8, 8, Conv2DAttributes(kernel: [3, 3], stride: [2, 2], pads: [0, 1, 1, 0])),
            (4, 4, 9, 9, Conv2DAttributes(kernel: [3, 2], stride: [1, 2], dilation: [2, 1])),
            (5, 7, 6, 4, Conv2DAttributes(kernel: [1, 1])),
            (2, 3, 11, 13, Conv2DAttributes(kernel: [5, 5], pads: [2, 2, 2, 2])),
            // Wᵀ·dY over several panels of 32 (packed where F(4×4) is allowed): 1×1 and stride 2
            (70, 40, 7, 9, Conv2DAttributes(kernel: [1, 1])),
            // a 1×1 on a map of 28×28 or more: the forward 1×1 kernel over Wᵀ (AVX-512, F(4×4)),
            // one group and three
            (20, 12, 28, 29, Conv2DAttributes(kernel: [1, 1])),
            (12, 18, 30, 30, Conv2DAttributes(kernel: [1, 1], group: 3)),
            (24, 36, 12, 13, Conv2DAttributes(kernel: [3, 3], stride: [2, 2], pads: [1, 1, 1, 1], group: 2)),
            // ≥ 16 input channels per group: the flipped-kernel convolution path
            (16, 8, 7, 6, Conv2DAttributes(kernel: [3, 3], pads: [1, 1, 1, 1])),
            (32, 8, 6, 6, Conv2DAttributes(kernel: [3, 3], pads: [0, 1, 2, 1], group: 2)),
            // … and ≥ 16 output channels too: that convolution runs as Winograd
            (16, 16, 20, 37, Conv2DAttributes(kernel: [3, 3], pads: [1, 1, 1, 1])),
            (16, 24, 29, 30, Conv2DAttributes(kernel: [3, 3], pads: [1, 1, 1, 1])),
            (16, 24, 11, 19, Conv2DAttributes(kernel: [3, 3], pads: [1, 0, 2, 1])),
            (32, 48, 9, 21, Conv2DAttributes(kernel: [3, 3], pads: [1, 1, 1, 1], group: 2)),
            // depthwise (one input channel per group): the flipped depthwise convolution at
            // stride 1, per-tap runs into phase planes otherwise (and for two outputs per
            // channel), dilation, asymmetric pads
            (8, 8, 13, 21, Conv2DAttributes(kernel: [3, 3], pads: [1, 1, 1, 1], group: 8)),
            (4, 4, 10, 12, Conv2DAttributes(kernel: [5, 3], pads: [0, 2, 3, 0], group: 4)),
            (3, 6, 9, 11, Conv2DAttributes(kernel: [3, 3], pads: [1, 1, 1, 1], group: 3)),
            (6, 6, 16, 17, Conv2DAttributes(kernel: [5, 5], stride: [2, 2], pads: [2, 2, 2, 2], group: 6)),
            (4, 8, 11, 9, Conv2DAttributes(kernel: [3, 3], stride: [2, 2], pads: [0, 1, 1, 0], group: 4)),
            (3, 3, 14, 17, Conv2DAttributes(kernel: [3, 3], pads: [2, 2, 2, 2], dilation: [2, 2], group: 3)),
            (5, 5, 19, 33, Conv2DAttributes(kernel: [3, 3], stride: [3, 3], pads: [1, 1, 1, 1], group: 5)),
        ]
        for (i, k) in cases.enumerated() {
            let xShape = [2, k.c, k.h, k.w]
            let w = random([k.o, k.c / k.a.group] + k.a.kernel, &rng)
            let out = try Op.conv2d(k.a).outputShape(inputs: [xShape], params: ["weight": w.shape], node: "t")
            let dy = random(out, &rng)
            let slow = NaiveKernels.conv2dBackwardData(dy, weight: w, k.a, inShape: xShape)
            for tile in [WinogradTile.f2x2, .f4x4] {
                let fast = Kernels.conv2dBackwardData(dy, weight: w, k.a, inShape: xShape, winograd: tile)
                let tolerance: Float = tile == .f2x2 ? 1e-5 : 1e-4
                if let why = closeness(fast, slow, atol: tolerance, rtol: tolerance) { XCTFail("case \(i), \(tile): \(why)") }
            }
        }
    }

    /// One row (sgemv), a few, and a product big enough to be split over the workers: by
    /// columns (ten rows, 701 outputs) and by rows (600 rows, 70 outputs).
    func testLinearMatchesNaiveAtBatchOneAndMore() {
        var rng = Seeded(state: 7)
        for (n, fin, fout) in [(1, 37, 11), (3, 37, 11), (10, 300, 701), (600, 50, 70)] {
            let x = random([n, fin], &rng), w = random([fout, fin], &rng), b = random([fout], &rng)
            let fast = Kernels.linear(x, weight: w, bias: b)
            let slow = NaiveKernels.linear(x, weight: w, bias: b)
            if let why = closeness(fast, slow, atol: 1e-5, rtol: 1e-5) { XCTFail("batch \(n): \(why)") }
        }
    }

    /// Skip connections summed inside the conv (forward-only runs) equal the separate conv,
    /// add and activation of a run that keeps everything: after a 1×1 conv by matrix product
    /// with a ReLU, after a 3×3 (one pass after the conv) as the second input, two convs
    /// (the later takes it) with a Clip; not fused where the other input comes later or the
    /// sum is a graph output.
    func testResidualAddsInsideTheConvAgreeWithSeparateOps() throws {
        var rng = Seeded(state: 8)
        var weights: [String: Tensor] = [:]
        var nodes: [Node] = []
        func conv(_ name: String, _ input: String, _ c: Int, _ o: Int, _ k: Int) {
            weights[name + ".w"] = random([o, c, k, k], &rng)
            weights[name + ".b"] = random([o], &rng)
            nodes.append(Node(name: name, op: .conv2d(Conv2DAttributes(kernel: [k, k], pads: Array(repeating: k / 2, count: 4))),
                              inputs: [input], outputs: [name], params: ["weight": name + ".w", "bias": name + ".b"]))
        }
        func node(_ name: String, _ op: Op, _ inputs: String...) {
            nodes.append(Node(name: name, op: op, inputs: inputs, outputs: [name]))
        }
        conv("a", "x", 8, 72, 1)
        conv("b", "a", 72, 8, 1)
        node("s1", .add, "b", "x"); node("r1", .relu(slope: 0), "s1")
        conv("c", "r1", 8, 8, 3)
        node("s2", .add, "r1", "c")
        conv("d", "s2", 8, 8, 1); conv("e", "s2", 8, 8, 1)
        node("s3", .add, "d", "e"); node("q3", .clip(min: 0, max: 0.5), "s3")
        conv("h", "q3", 8, 8, 1)
        node("m", .relu(slope: 0), "q3")
        node("s4", .add, "h", "m")
        conv("f", "s4", 8, 8, 1)
        node("y", .add, "f", "s4")
        let graph = Graph(inputs: [GraphInput(name: "x", shape: [2, 8, 6, 6])], outputs: ["y"], nodes: nodes, weights: weights,
                          metadata: GraphMetadata(sourceFormat: "test"))
        let e = try Executor(graph: graph, threads: 2)
        XCTAssertEqual(e.doneByResidual, ["s1": "b", "r1": "s1", "s2": "c", "s3": "e", "q3": "s3"])
        let x = random([2, 8, 6, 6], &rng)
        let separate = try e.run(["x": x], keepAll: true), fused = try e.run(["x": x], keepAll: false)
        XCTAssertEqual(fused["y"]?.values, separate["y"]?.values)
    }

    /// A batch norm's and a per-channel scale's activation run inside them in forward-only
    /// runs, over their input when nothing else reads it, and give what the separate
    /// operations give.
    func testActivationsInsideAffinesAgreeWithSeparateOps() throws {
        var rng = Seeded(state: 9)
        let w: [String: Tensor] = ["bn.mean": random([6], &rng), "bn.scale": random([6], &rng), "bn.bias": random([6], &rng),
                                   "bn.variance": Kernels.positivePart(random([6], &rng)), "c.w": random([6, 6, 1, 1], &rng),
                                   "s.w": random([6], &rng), "s.b": random([6], &rng)]
        let nodes = [
            Node(name: "a", op: .add, inputs: ["x", "x"], outputs: ["a"]),
            Node(name: "bn", op: .batchNorm(epsilon: 1e-3), inputs: ["a"], outputs: ["bn"],
                 params: ["mean": "bn.mean", "variance": "bn.variance", "scale": "bn.scale", "bias": "bn.bias"]),
            Node(name: "r", op: .relu(slope: 0.2), inputs: ["bn"], outputs: ["r"]),
            Node(name: "c", op: .conv2d(Conv2DAttributes(kernel: [1, 1])), inputs: ["r"], outputs: ["c"], params: ["weight": "c.w"]),
            Node(name: "s", op: .scale(axis: 1), inputs: ["c"], outputs: ["s"], params: ["weight": "s.w", "bias": "s.b"]),
            Node(name: "y", op: .clip(min: -0.3, max: 0.4), inputs: ["s"], outputs: ["y"]),
        ]
        let graph = Graph(inputs: [GraphInput(name: "x", shape: [2, 6, 5, 7])], outputs: ["y"], nodes: nodes, weights: w,
                          metadata: GraphMetadata(sourceFormat: "test"))
        let e = try Executor(graph: graph, threads: 2)
        XCTAssertEqual(e.fusedIntoAffine, ["bn": .relu(slope: 0.2), "s": .clip(min: -0.3, max: 0.4)])
        let x = random([2, 6, 5, 7], &rng)
        let separate = try e.run(["x": x], keepAll: true), fused = try e.run(["x": x], keepAll: false)
        XCTAssertEqual(fused["y"]?.values, separate["y"]?.values)
    }

    /// The executor frees activations after their last reader when asked, with the same result.
    func testKeepAllAndFreeingAgree() throws {
        let folder = Fixtures.path("onnx/resnet_mini")
        let graph = try SRFormatsTestHook.load(folder + "/model.onnx")
        let x = try SRFormatsTestHook.npy(folder + "/input.npy")
        let e = try Executor(graph: graph)
        let all = try e.run([graph.inputs[0].name: x], keepAll: true)
        let few = try e.run([graph.inputs[0].name: x], keepAll: false)
        XCTAssertLessThan(few.tensors.count, all.tensors.count)
        XCTAssertEqual(all[graph.outputs[0]]?.values, few[graph.outputs[0]]?.values)
    }
}
