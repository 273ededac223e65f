import SRCore
@testable import SRRuntime
import SRTestSupport
import XCTest

/// An image's first layer at stride 2 (CKernels/stem.c) against the naive convolution, and
/// the same bits as the paths it replaces — the packed product in forward-only runs, the
/// direct loops under an explanation — at every instruction set this CPU runs (below
/// AVX-512 its plain C loops).
extension NaiveTwinTests {
    /// 1–4 input channels, 1×1 to 7×7 filters, symmetric, asymmetric and no pads, widths odd
    /// and even, outputs narrower and wider than 16 pixels and not a multiple of 16, output
    /// channels not a multiple of 16, bands of 8 rows with a partial last one, batch 2, and
    /// no bias or activation, a ReLU, a clip, SiLU and HardSwish.
    func testStemIsThePackedProductsAndTheDirectLoopsBitsAtEveryInstructionSet() throws {
        var rng = Seeded(state: 51)
        let before = InstructionSet.inUse
        defer { InstructionSet.use(before) }
        let cases: [(c: Int, h: Int, w: Int, o: Int, a: Conv2DAttributes, bias: Bool, f: FusedActivation?)] = [
            (3, 37, 37, 32, Conv2DAttributes(kernel: [3, 3], stride: [2, 2], pads: [1, 1, 1, 1]), true, .clip(min: 0, max: 6)),
            (3, 30, 41, 20, Conv2DAttributes(kernel: [7, 7], stride: [2, 2], pads: [3, 3, 3, 3]), false, .relu(slope: 0)),
            (1, 17, 16, 5, Conv2DAttributes(kernel: [5, 5], stride: [2, 2], pads: [2, 2, 1, 1]), true, .unary(.silu)),
            (4, 9, 70, 16, Conv2DAttributes(kernel: [3, 3], stride: [2, 2], pads: [0, 0, 1, 1]), true, nil),
            (3, 8, 8, 48, Conv2DAttributes(kernel: [3, 3], stride: [2, 2]), true, .unary(.hardSwish)),
            (2, 40, 35, 7, Conv2DAttributes(kernel: [1, 1], stride: [2, 2]), true, nil),
            (3, 45, 101, 24, Conv2DAttributes(kernel: [3, 3], stride: [2, 2], pads: [1, 0, 0, 1]), true, .relu(slope: 0.1)),
        ]
        for (i, k) in cases.enumerated() {
            XCTAssert(Kernels.stemApplies(k.a, inChannels: k.c) == (InstructionSet.inUse == .avx512), "case \(i)")
            let x = random([2, k.c, k.h, k.w], &rng)
            let w = random([k.o, k.c] + k.a.kernel, &rng)
            let b = k.bias ? random([k.o], &rng) : nil
            var params = ["weight": w.shape]
            if let b { params["bias"] = b.shape }
            let shape = try Op.conv2d(k.a).outputShape(inputs: [x.shape], params: params, node: "t")
            let slow = NaiveKernels.conv2d(x, weight: w, bias: b, k.a, outShape: shape)
            activate(slow, k.f)
            let loops = Kernels.directConv2d(x, weight: w, bias: b, k.a, outShape: shape, activation: k.f, fused: false)
            for level in InstructionSet.allCases where level <= InstructionSet.supported {
                XCTAssertEqual(InstructionSet.use(level), level)
                let packed = Parallel.using(2) {
                    Kernels.packedConv2d(x, weight: w, bias: b, k.a, outShape: shape, scratch: Scratch(), activation: k.f,
                                         residual: nil)
                }
                for (fused, want, path) in [(true, packed, "the packed product"), (false, loops, "the direct loops")] {
                    let stem = Parallel.using(2) {
                        Kernels.stemConv2d(x, weight: w, bias: b, k.a, outShape: shape, activation: k.f, fused: fused)
                    }
                    if let why = closeness(stem, slow, atol: 1e-5, rtol: 1e-5) { XCTFail("case \(i) at \(level): \(why)") }
                    let differing = zip(stem.values, want.values).filter { $0.bitPattern != $1.bitPattern }.count
                    XCTAssertEqual(differing, 0, "case \(i) at \(level): elements not \(path)'s bits")
                }
            }
        }
    }

    /// It takes stride-2 first layers of up to 4 channels and square filters up to 7×7, on
    /// AVX-512 only; `conv2d` picks it there, fused in forward-only runs, unfused (the direct
    /// loops' steps) under an explanation.
    func testStemDispatch() throws {
        let stem = Conv2DAttributes(kernel: [3, 3], stride: [2, 2], pads: [1, 1, 1, 1])
        let avx512 = InstructionSet.inUse == .avx512
        XCTAssertEqual(Kernels.stemApplies(stem, inChannels: 3), avx512)
        XCTAssertFalse(Kernels.stemApplies(stem, inChannels: 5))
        XCTAssertFalse(Kernels.stemApplies(Conv2DAttributes(kernel: [3, 3], pads: [1, 1, 1, 1]), inChannels: 3))
        XCTAssertFalse(Kernels.stemApplies(Conv2DAttributes(kernel: [9, 9], stride: [2, 2]), inChannels: 3))
        XCTAssertFalse(Kernels.stemApplies(Conv2DAttributes(kernel: [3, 5], stride: [2, 2]), inChannels: 3))
        XCTAssertFalse(Kernels.stemApplies(Conv2DAttributes(kernel: [3, 3], stride: [2, 2], dilation: [2, 2]), inChannels: 3))
        XCTAssertFalse(Kernels.stemApplies(Conv2DAttributes(kernel: [3, 3], stride: [2, 2], pads: [3, 0, 0, 0]), inChannels: 3))
        // Through conv2d: the stem's bits, and a forward-only run's path only.
        var rng = Seeded(state: 52)
        let x = random([1, 3, 20, 22], &rng), w = random([16, 3, 3, 3], &rng)
        let shape = [1, 16, 10, 11]
        for (winograd, fused) in [(WinogradTile.f4x4, true), (.f2x2, false)] {
            let viaConv = Kernels.conv2d(x, weight: w, bias: nil, stem, outShape: shape, winograd: winograd)
            let direct = Kernels.stemConv2d(x, weight: w, bias: nil, stem, outShape: shape, activation: nil, fused: fused)
            XCTAssertEqual(viaConv.values.map(\.bitPattern), direct.values.map(\.bitPattern), "\(winograd)")
        }
    }
}
