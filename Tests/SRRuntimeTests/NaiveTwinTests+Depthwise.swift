import SRCore
@testable import SRRuntime
import SRTestSupport
import XCTest

/// The channel-blocked depthwise convolution (CKernels/depthwise.c) against the naive
/// convolution, and the same bits as the row loops it replaces (small maps, stride 2) at
/// every instruction set this CPU runs.
extension NaiveTwinTests {
    /// Channels past one block of 16 with a partial last block, stride 1 and 2, 3×3 to 7×7
    /// kernels, asymmetric pads and none, an input wider than the taps reach, bands of rows
    /// (a 28-pixel output of a 5×5 stride-2 kernel takes three, a 60-pixel one twelve),
    /// batch 2, and the bias with no activation, a clip and SiLU. The planes' cases (3×3 and
    /// 5×5 at stride 1): outputs narrower and wider than 16 pixels and not a multiple of 16,
    /// a last row block of one to three rows, pads of 0–2 on each side, rows past the top
    /// and bottom, blocks whose taps reach the right edge but not the left.
    func testDepthwiseIsTheRowLoopsBitsAtEveryInstructionSet() throws {
        var rng = Seeded(state: 21)
        let before = InstructionSet.inUse
        defer { InstructionSet.use(before) }
        let cases: [(c: Int, h: Int, w: Int, a: Conv2DAttributes, activation: FusedActivation?)] = [
            (37, 9, 8, Conv2DAttributes(kernel: [3, 3], pads: [1, 1, 1, 1], group: 37), nil),
            (16, 14, 14, Conv2DAttributes(kernel: [3, 3], stride: [2, 2], pads: [0, 0, 1, 1], group: 16), .clip(min: 0, max: 6)),
            (20, 7, 7, Conv2DAttributes(kernel: [7, 7], pads: [3, 3, 3, 3], group: 20), .unary(.silu)),
            (5, 56, 56, Conv2DAttributes(kernel: [5, 5], stride: [2, 2], pads: [2, 2, 1, 1], group: 5), .relu(slope: 0)),
            (24, 12, 17, Conv2DAttributes(kernel: [3, 3], group: 24), nil),
            (18, 10, 9, Conv2DAttributes(kernel: [3, 5], stride: [2, 2], pads: [1, 2, 0, 1], group: 18), nil),
            (8, 120, 118, Conv2DAttributes(kernel: [3, 3], stride: [2, 2], pads: [1, 1, 1, 1], group: 8), .clip(min: 0, max: 6)),
            (6, 61, 60, Conv2DAttributes(kernel: [3, 3], pads: [1, 2, 1, 0], group: 6), .clip(min: 0, max: 6)),
            (17, 30, 33, Conv2DAttributes(kernel: [5, 5], pads: [2, 2, 2, 2], group: 17), .unary(.silu)),
            (3, 35, 40, Conv2DAttributes(kernel: [5, 5], pads: [0, 1, 2, 0], group: 3), nil),
            (4, 6, 100, Conv2DAttributes(kernel: [3, 3], pads: [2, 0, 0, 2], group: 4), .relu(slope: 0)),
        ]
        // One scratch for every case and level: each weight's filter blocks are made on its
        // first call and must be found again, never another case's.
        let scratch = Scratch()
        for (i, k) in cases.enumerated() {
            let x = random([2, k.c, k.h, k.w], &rng)
            let w = random([k.c, 1] + k.a.kernel, &rng)
            let b = random([k.c], &rng)
            let shape = try Op.conv2d(k.a).outputShape(inputs: [x.shape], params: ["weight": w.shape, "bias": b.shape], node: "t")
            let rows = Kernels.directConv2d(x, weight: w, bias: b, k.a, outShape: shape, activation: k.activation, fused: true)
            let slow = NaiveKernels.conv2d(x, weight: w, bias: b, k.a, outShape: shape)
            activate(slow, k.activation)
            if let why = closeness(rows, slow, atol: 1e-5, rtol: 1e-5) { XCTFail("case \(i), row loops: \(why)") }
            for level in InstructionSet.allCases where level <= InstructionSet.supported {
                XCTAssertEqual(InstructionSet.use(level), level)
                let blocked = Parallel.using(2) {
                    Kernels.depthwiseConv2d(x, weight: w, bias: b, k.a, outShape: shape, scratch: scratch,
                                            activation: k.activation)
                }
                let differing = zip(blocked.values, rows.values).filter { $0.bitPattern != $1.bitPattern }.count
                XCTAssertEqual(differing, 0, "case \(i) at \(level): elements not the row loops' bits")
            }
        }
    }

    /// Forward-only runs take it for depthwise maps up to 28 pixels wide, of stride 2, or of
    /// 3×3 and 5×5 filters, on AVX-512 only.
    func testDepthwiseDispatch() {
        let dw = Conv2DAttributes(kernel: [3, 3], pads: [1, 1, 1, 1], group: 32)
        let avx512 = InstructionSet.inUse == .avx512
        XCTAssertEqual(Kernels.depthwiseApplies(dw, channels: 32, outChannels: 32, outWidth: 28), avx512)
        XCTAssertEqual(Kernels.depthwiseApplies(dw, channels: 32, outChannels: 32, outWidth: 112), avx512)
        XCTAssertFalse(Kernels.depthwiseApplies(Conv2DAttributes(kernel: [7, 7], pads: [3, 3, 3, 3], group: 32), channels: 32,
                                                outChannels: 32, outWidth: 56))
        XCTAssertEqual(Kernels.depthwiseApplies(Conv2DAttributes(kernel: [3, 3], stride: [2, 2], group: 32), channels: 32,
                                                outChannels: 32, outWidth: 56), avx512)
        XCTAssertFalse(Kernels.depthwiseApplies(dw, channels: 32, outChannels: 64, outWidth: 14))
        XCTAssertFalse(Kernels.depthwiseApplies(Conv2DAttributes(kernel: [3, 3], dilation: [2, 2], group: 8), channels: 8,
                                                outChannels: 8, outWidth: 14))
        XCTAssertFalse(Kernels.depthwiseApplies(Conv2DAttributes(kernel: [3, 3], stride: [1, 2], group: 8), channels: 8,
                                                outChannels: 8, outWidth: 14))
    }
}
