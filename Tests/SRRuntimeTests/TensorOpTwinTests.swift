import CKernels
import Foundation
import SRCore
@testable import SRRuntime
import SRTestSupport
import XCTest

/// The N-D kernels (transpose, slice, reduce, layer norm, softmax, element-wise functions,
/// linear on the last axis) against their direct-index twins, and their input gradients against
/// central differences of the float64 twins.
final class TensorOpTwinTests: XCTestCase {
    func random(_ shape: [Int], _ rng: inout Seeded, in range: ClosedRange<Float> = -2...2) -> Tensor {
        let t = Tensor(zeros: shape)
        for i in 0..<t.count { t.pointer[i] = Float.random(in: range, using: &rng) }
        return t
    }

    func testTransposeSliceReduceMatchNaive() throws {
        var rng = Seeded(state: 11)
        let x5 = random([2, 3, 4, 5, 6], &rng)
        // The last three: trailing axes in place, copied as one (a channel shuffle; the identity).
        for perm in [[0, 4, 3, 2, 1], [0, 1, 2, 4, 3], [0, 3, 4, 1, 2], [0, 2, 1, 3, 4], [1, 0, 2, 3, 4], [0, 1, 2, 3, 4]] {
            if let why = closeness(Kernels.transpose(x5, perm: perm), NaiveKernels.transpose(x5, perm: perm), atol: 0, rtol: 0) {
                XCTFail("transpose \(perm): \(why)")
            }
        }
        let x4 = random([2, 7, 5, 3], &rng)
        for (axis, start, end, step) in [(1, 0, 3, 1), (1, 2, 7, 2), (2, 1, 5, 3), (3, 2, 3, 1)] {
            let out = try Op.slice(axis: axis, start: start, end: end, step: step).outputShape(inputs: [x4.shape], params: [:], node: "t")
            let fast = Kernels.slice(x4, axis: axis, start: start, step: step, outShape: out)
            if let why = closeness(fast, NaiveKernels.slice(x4, axis: axis, start: start, end: end, step: step), atol: 0, rtol: 0) {
                XCTFail("slice \(axis) \(start)..<\(end) step \(step): \(why)")
            }
        }
        for kind in ReduceKind.allCases {
            for axes in [[1], [2, 3], [1, 3], [1, 2, 3]] {
                let a = ReduceAttributes(kind: kind, axes: axes, keepDims: true)
                if let why = closeness(Kernels.reduce(x4, a), NaiveKernels.reduce(x4, a), atol: 1e-5, rtol: 1e-5) {
                    XCTFail("reduce \(kind) \(axes): \(why)")
                }
            }
        }
    }

    func testLayerNormUnaryAndLinearMatchNaive() throws {
        var rng = Seeded(state: 12)
        let x = random([2, 3, 4, 8], &rng, in: -3...3)
        // Rows of 8, 32 and 96 (whole vectors of eight), and of 7, 35 and 105 (a remainder
        // summed one by one); with and without scale and bias.
        let odd = random([2, 3, 5, 7], &rng, in: -3...3)
        for (t, axis) in [(x, 3), (x, 2), (x, 1), (odd, 3), (odd, 2), (odd, 1)] {
            let inner = Array(t.shape[axis...])
            let scale = random(inner, &rng), bias = random(inner, &rng)
            for (sc, bi) in [(scale, bias), (nil, nil)] as [(Tensor?, Tensor?)] {
                let fast = Kernels.layerNorm(t, axis: axis, epsilon: 1e-5, scale: sc, bias: bi)
                let slow = NaiveKernels.layerNorm(t, axis: axis, epsilon: 1e-5, scale: sc, bias: bi)
                if let why = closeness(fast, slow, atol: 1e-5, rtol: 1e-5) {
                    XCTFail("layerNorm \(t.shape) axis \(axis), scale \(sc != nil): \(why)")
                }
            }
        }
        let positive = random([2, 3, 5, 5], &rng, in: 0.1...4)
        for f in UnaryFunction.all {
            let input = [.log, .sqrt, .reciprocal].contains(f) ? positive : x
            if let why = closeness(Kernels.unary(input, f), NaiveKernels.unary(input, f), atol: 2e-6, rtol: 2e-6) {
                XCTFail("\(f.name): \(why)")
            }
        }
        let w = random([6, 8], &rng), b = random([6], &rng)
        if let why = closeness(Kernels.linear(x, weight: w, bias: b), NaiveKernels.linear(x, weight: w, bias: b), atol: 1e-5, rtol: 1e-5) {
            XCTFail("linear on [2, 3, 4, 8]: \(why)")
        }
    }

    /// The vectorisable `eˣ` (SiLU's) against float64 over the float range, `erf` (GELU's),
    /// and broadcasting element-wise products (the per-channel gate fast path) against
    /// direct indexing.
    func testVectorExpErfAndBroadcastingMatchNaive() throws {
        let x = Tensor(zeros: [1, 20_003])
        for i in 0..<x.count { x.pointer[i] = -87 + 175 * Float(i) / Float(x.count) }
        let fast = Kernels.fastExp(x)
        for i in 0..<x.count {
            let want = Foundation.exp(Double(x.pointer[i]))
            XCTAssertLessThanOrEqual(abs(Double(fast.pointer[i]) - want), 3e-7 * want, "exp(\(x.pointer[i]))")
        }
        // erf (GELU's), over the clamp at ±4 and past it.
        let e = Tensor(zeros: [1, 20_001])
        for i in 0..<e.count { e.pointer[i] = -6 + 12 * Float(i) / Float(e.count - 1) }
        let erf = Kernels.fastErf(e)
        for i in 0..<e.count {
            XCTAssertLessThanOrEqual(abs(Double(erf.pointer[i]) - Foundation.erf(Double(e.pointer[i]))), 5e-7, "erf(\(e.pointer[i]))")
        }
        var rng = Seeded(state: 14)
        let a = random([2, 3, 4, 5], &rng)
        for shape in [[2, 3, 1, 1], [1, 3, 1, 1], [5], [3, 1, 5], [2, 1, 4, 1]] {
            let b = random(shape, &rng)
            let want = Tensor(zeros: a.shape)
            let padded = [Int](repeating: 1, count: 4 - shape.count) + shape
            for i in 0..<a.count {
                let idx = NaiveKernels.multiIndex(i, a.shape)
                let j = NaiveKernels.flat(idx.indices.map { padded[$0] == 1 ? 0 : idx[$0] }, padded)
                want.pointer[i] = a.pointer[i] * b.pointer[j]
            }
            // Either order: a squeeze-and-excitation gate comes first in torchvision's graphs.
            for (order, inputs) in [("x·b", [a, b]), ("b·x", [b, a])] {
                let got = Kernels.combine(inputs, outShape: a.shape, .mul)
                if let why = closeness(got, want, atol: 0, rtol: 0) { XCTFail("broadcast \(shape) \(order): \(why)") }
            }
        }
    }

    /// The adjoint of block broadcasting (a gate's gradient): `blockSums` against sums taken
    /// element by element in float64, with and without the second factor, for a gate per
    /// image and channel (the workers split the blocks) and one shared by the batch (the
    /// blocks accumulate); nil where the blocks are narrower than eight floats.
    func testBlockSumsMatchElementwiseSums() throws {
        var rng = Seeded(state: 15)
        let a = random([2, 3, 4, 5], &rng), b = random(a.shape, &rng)
        for shape in [[2, 3, 1, 1], [1, 3, 1, 1], [3, 1, 1], [2, 1, 1, 1]] {
            let padded = [Int](repeating: 1, count: 4 - shape.count) + shape
            for factor in [nil, b] {
                var want = [Double](repeating: 0, count: shape.reduce(1, *))
                for i in 0..<a.count {
                    let idx = NaiveKernels.multiIndex(i, a.shape)
                    let j = NaiveKernels.flat(idx.indices.map { padded[$0] == 1 ? 0 : idx[$0] }, padded)
                    want[j] += Double(a.pointer[i]) * Double(factor?.pointer[i] ?? 1)
                }
                let got = try XCTUnwrap(Kernels.blockSums(a, times: factor, into: shape), "\(shape)")
                XCTAssertEqual(got.shape, shape)
                if let why = closeness(got.values, want.map(Float.init), atol: 1e-5, rtol: 1e-5) {
                    XCTFail("\(shape) \(factor == nil ? "Σ a" : "Σ a·b"): \(why)")
                }
            }
        }
        XCTAssertNil(Kernels.blockSums(a, into: [5]))
        XCTAssertNil(Kernels.blockSums(a, into: [2, 1, 4, 1]))
    }

    /// SiLU and GELU and their input gradients at every instruction set this CPU runs
    /// (`InstructionSet`): the same bits at each, within the float64 twin's tolerance, on
    /// lengths that end in a partial vector.
    func testActivationsAreTheSameAtEveryInstructionSet() throws {
        var rng = Seeded(state: 33)
        let x = random([3, 5, 7, 11], &rng, in: -12...12)
        let g = random(x.shape, &rng)
        let before = InstructionSet.inUse
        defer { InstructionSet.use(before) }
        // g·f'(x) in float64: SiLU' = s·(1 + x·(1 − s)), GELU' = Φ(x) + x·φ(x).
        func slope(_ f: UnaryFunction, _ v: Double) -> Double {
            if f == .silu {
                let s = 1 / (1 + Foundation.exp(-v))
                return s * (1 + v * (1 - s))
            }
            return 0.5 * (1 + Foundation.erf(v / 2.0.squareRoot())) + v * Foundation.exp(-v * v / 2) / (2 * Double.pi).squareRoot()
        }
        for f in [UnaryFunction.silu, .gelu] {
            let twinGradient = (0..<x.count).map { Float(Double(g.pointer[$0]) * slope(f, Double(x.pointer[$0]))) }
            var first: [Float]?, firstGradient: [Float]?
            for level in InstructionSet.allCases where level <= InstructionSet.supported {
                XCTAssertEqual(InstructionSet.use(level), level)
                let got = Kernels.unary(x, f)
                if let why = closeness(got, NaiveKernels.unary(x, f), atol: 2e-6, rtol: 2e-6) { XCTFail("\(f.name) at \(level): \(why)") }
                if let first { XCTAssertEqual(got.values, first, "\(f.name) at \(level)") } else { first = got.values }
                let gradient = Kernels.unaryBackward(g, input: x, f).values
                if let why = closeness(gradient, twinGradient, atol: 2e-6, rtol: 2e-6) { XCTFail("\(f.name)' at \(level): \(why)") }
                if let firstGradient { XCTAssertEqual(gradient, firstGradient, "\(f.name)' at \(level)") } else { firstGradient = gradient }
            }
        }
    }

    /// SiLU's table-driven eˣ (activation.c): within 4·10⁻⁷ of float64 over the whole range
    /// where e⁻ˣ is a normal float and past the clamps, the same bits at every level (a
    /// table index from a negative n, the partial last vector), and NaN, ±∞ and 0 through.
    func testSiLUIsWithinItsErrorBoundAtEveryInstructionSet() throws {
        let special: [Float] = [.nan, .infinity, -.infinity, 0, -0.0, 100, -100, 88.72283, -87.33654]
        let x = Tensor(zeros: [1, 200_003 + special.count])
        for i in 0..<200_003 { x.pointer[i] = -87 + 175 * Float(i) / 200_003 }
        for (i, v) in special.enumerated() { x.pointer[200_003 + i] = v }
        let before = InstructionSet.inUse
        defer { InstructionSet.use(before) }
        var first: [UInt32]?
        for level in InstructionSet.allCases where level <= InstructionSet.supported {
            XCTAssertEqual(InstructionSet.use(level), level)
            let got = Kernels.unary(x, .silu)
            var worst = 0.0
            for i in 0..<200_003 {
                let v = Double(x.pointer[i]), want = v / (1 + Foundation.exp(-v))
                guard abs(want) > 1e-30 else { continue }
                worst = max(worst, abs(Double(got.pointer[i]) - want) / abs(want))
            }
            XCTAssertLessThanOrEqual(worst, 4e-7, "\(level)")
            let tail = (0..<special.count).map { got.pointer[200_003 + $0] }
            XCTAssertTrue(tail[0].isNaN, "\(level)")
            // −0 + the bias +0 is +0.
            XCTAssertEqual(tail[1...4].map(\.bitPattern), [Float.infinity, -.infinity, 0, 0].map(\.bitPattern), "\(level)")
            XCTAssertEqual(tail[5], 100, "\(level)")
            XCTAssertEqual(tail[7], 88.72283, "\(level)")
            // e¹⁰⁰ is clamped to e^88.72: −100 / 3.4·10³⁸ instead of −3.7·10⁻⁴², both as good as 0.
            XCTAssertTrue(tail[6] <= 0 && tail[6] > -1e-36, "\(level): silu(−100) = \(tail[6])")
            let low = -87.33654 * Foundation.exp(-87.33654)
            XCTAssertEqual(Double(tail[8]), low, accuracy: 1e-6 * abs(low), "\(level)")
            let bits = got.values.map(\.bitPattern)
            if let first {
                XCTAssertEqual(zip(bits, first).filter { $0 != $1 }.count, 0, "\(level): values not the first level's bits")
            } else {
                first = bits
            }
        }
    }

    /// `srk_exp` (softmax's exponentials) gives `fastExp`'s bits at every level, over lengths
    /// with and without a partial last vector, past the clamps at both ends.
    func testVectorExpIsFastExpBitsAtEveryInstructionSet() {
        var rng = Seeded(state: 34)
        let before = InstructionSet.inUse
        defer { InstructionSet.use(before) }
        for n in [1, 7, 16, 197] {
            let x = (0..<n).map { _ in Float.random(in: -100...100, using: &rng) }
            let want = x.map { fastExp($0 - 3.5).bitPattern }
            for level in InstructionSet.allCases where level <= InstructionSet.supported {
                XCTAssertEqual(InstructionSet.use(level), level)
                var got = [Float](repeating: .nan, count: n)
                srk_exp(x, &got, n, -3.5)
                XCTAssertEqual(got.map(\.bitPattern), want, "\(n) values at \(level)")
            }
        }
    }

    /// x⁺ and x⁻ eight lanes wide equal Swift's scalar `max(v, 0)` / `min(v, 0)` bit for bit
    /// (−0, NaN, ±∞), over split points and tails of every length.
    func testPositiveAndNegativePartsMatchScalar() throws {
        for count in [1, 7, 8, 9, 23, 70_003] {
            let x = Tensor(zeros: [count])
            let special: [Float] = [-0.0, 0, .nan, .infinity, -.infinity, -1e-38, 3]
            for i in 0..<count { x.pointer[i] = i < special.count ? special[i] : Float(i % 13) - 6.5 }
            for (name, fast, scalar) in [("x⁺", Kernels.positivePart(x), { (v: Float) in max(v, 0) }),
                                         ("x⁻", Kernels.negativePart(x), { (v: Float) in min(v, 0) })] {
                XCTAssertEqual(fast.shape, x.shape)
                for i in 0..<count where fast.pointer[i].bitPattern != scalar(x.pointer[i]).bitPattern {
                    XCTFail("\(name) of \(x.pointer[i]) at \(i) of \(count): \(fast.pointer[i])")
                }
            }
        }
    }

    /// ReLU's gradient, plain and guided, equals the scalar rule bit for bit (leaky slope,
    /// −0, NaN in the signal and the input).
    func testReluGradientMatchesScalar() throws {
        var rng = Seeded(state: 3)
        for (count, slope) in [(9, Float(0)), (70_001, 0.1)] {
            let g = Tensor(zeros: [count]), x = Tensor(zeros: [count])
            for i in 0..<count {
                g.pointer[i] = Float.random(in: -1...1, using: &rng)
                x.pointer[i] = i % 7 == 0 ? [-0.0, 0, .nan][i % 3] : Float.random(in: -1...1, using: &rng)
            }
            g.pointer[1] = .nan
            g.pointer[2] = -0.0
            for guided in [false, true] {
                let fast = Kernels.reluBackward(g, input: x, slope: slope, guided: guided)
                for i in 0..<count {
                    let (s, v) = (g.pointer[i], x.pointer[i])
                    let want: Float = guided ? (s > 0 ? (v > 0 ? s : s * slope) : 0) : (v > 0 ? s : s * slope)
                    if fast.pointer[i].bitPattern != want.bitPattern {
                        XCTFail("guided \(guided), slope \(slope): g \(s), x \(v) gave \(fast.pointer[i]), want \(want)")
                        break
                    }
                }
            }
        }
    }

    /// Clip's gradient equals the scalar rule bit for bit: the bounds themselves (0), −0, NaN
    /// in the signal and the input, and a count past one worker's share.
    func testClipGradientMatchesScalar() throws {
        var rng = Seeded(state: 4)
        let count = 70_001
        let g = Tensor(zeros: [count]), x = Tensor(zeros: [count])
        for i in 0..<count {
            g.pointer[i] = Float.random(in: -1...1, using: &rng)
            x.pointer[i] = i % 5 == 0 ? [0, 6, -0.0, .nan, 6.5][(i / 5) % 5] : Float.random(in: -1...7, using: &rng)
        }
        g.pointer[1] = .nan
        g.pointer[2] = -0.0
        let fast = Kernels.clipBackward(g, input: x, min: 0, max: 6)
        for i in 0..<count {
            let (s, v) = (g.pointer[i], x.pointer[i])
            let want: Float = v > 0 && v < 6 ? s : 0
            if fast.pointer[i].bitPattern != want.bitPattern {
                XCTFail("g \(s), x \(v) gave \(fast.pointer[i]), want \(want)")
                break
            }
        }
    }

    /// Concatenation split across workers by output range equals element-by-element
    /// placement: every axis, many inputs of different widths (ranges that start and end
    /// inside runs), a batch, and outputs below and above the size that splits.
    func testConcatMatchesNaive() throws {
        var rng = Seeded(state: 12)
        for (shapes, axis) in [([[1, 3, 5, 5], [1, 1, 5, 5]], 1), ([[2, 40, 30, 30], [2, 7, 30, 30], [2, 33, 30, 30]], 1),
                               ([[3, 2, 4], [1, 2, 4]], 0), ([[2, 5, 64, 64], [2, 5, 64, 3]], 3), ([[1, 8, 100, 90], [1, 8, 1, 90]], 2)] {
            let inputs = shapes.map { shape -> Tensor in
                let t = Tensor(zeros: shape)
                for i in 0..<t.count { t.pointer[i] = Float.random(in: -1...1, using: &rng) }
                return t
            }
            var outShape = shapes[0]
            outShape[axis] = shapes.reduce(0) { $0 + $1[axis] }
            for threads in [1, 2, 3] {
                let fast = Parallel.using(threads) { Kernels.concat(inputs, axis: axis, outShape: outShape) }
                let inner = outShape.suffix(from: axis + 1).reduce(1, *), outer = outShape.prefix(axis).reduce(1, *)
                var offset = 0
                for t in inputs {
                    let width = t.shape[axis]
                    for o in 0..<outer { for j in 0..<(width * inner) {
                        let got = fast.pointer[(o * outShape[axis] + offset) * inner + j], want = t.pointer[o * width * inner + j]
                        if got != want { XCTFail("\(shapes) axis \(axis), \(threads) threads: \(got) != \(want)"); return }
                    } }
                    offset += width
                }
            }
        }
    }

    /// Softmax along the last axis (rows of 197, as in ViT attention, and of 5: shorter than
    /// a vector), along a middle one, with large logits (the max subtraction), and the rows
    /// of a batch split between workers.
    func testSoftmaxMatchesNaive() throws {
        var rng = Seeded(state: 21)
        let cases: [([Int], Int, ClosedRange<Float>)] = [
            ([2, 3, 197, 197], 3, -8...8), ([4, 6, 5], 2, -2...2), ([2, 7, 9, 11], 1, -3...3), ([3, 40], 1, 80...95),
        ]
        for (shape, axis, range) in cases {
            let x = random(shape, &rng, in: range)
            if let why = closeness(Kernels.softmax(x, axis: axis), NaiveKernels.softmax(x, axis: axis), atol: 1e-7, rtol: 1e-6) {
                XCTFail("softmax \(shape) axis \(axis): \(why)")
            }
        }
    }

    /// Batched, broadcasting matmul against the direct loops, and its input gradients against
    /// central differences (through the float64 twin).
    func testMatmulAndItsGradientsMatchNaive() throws {
        var rng = Seeded(state: 15)
        for (sa, sb) in [([2, 3, 4, 5], [2, 3, 5, 6]), ([2, 1, 4, 5], [2, 3, 5, 2]), ([1, 3, 2], [1, 2, 7])] {
            let a = random(sa, &rng), b = random(sb, &rng)
            let out = try Op.matmul.outputShape(inputs: [sa, sb], params: [:], node: "t")
            if let why = closeness(Kernels.matmul(a, b, outShape: out), NaiveKernels.matmul(a, b, outShape: out), atol: 1e-5, rtol: 1e-5) {
                XCTFail("matmul \(sa)·\(sb): \(why)")
            }
            let g = random(out, &rng)
            let (da, db) = Kernels.matmulBackward(g, a, b)
            for (which, x, analytic) in [("A", a, da), ("B", b, db)] {
                var numeric = [Float](repeating: 0, count: x.count)
                for i in 0..<x.count {
                    let keep = x.pointer[i]
                    x.pointer[i] = keep + 1e-2
                    let yp = NaiveKernels.matmul(a, b, outShape: out)
                    x.pointer[i] = keep - 1e-2
                    let ym = NaiveKernels.matmul(a, b, outShape: out)
                    x.pointer[i] = keep
                    var d = 0.0
                    for k in 0..<g.count { d += Double(g.pointer[k]) * (Double(yp.pointer[k]) - Double(ym.pointer[k])) }
                    numeric[i] = Float(d / 2e-2)
                }
                // The kernel's gradient is per output matrix; summed over broadcast axes as the rule does.
                let summed = Tensor(zeros: x.shape)
                let padded = [Int](repeating: 1, count: analytic.shape.count - x.shape.count) + x.shape
                for i in 0..<analytic.count {
                    let idx = NaiveKernels.multiIndex(i, analytic.shape)
                    summed.pointer[NaiveKernels.flat(idx.indices.map { padded[$0] == 1 ? 0 : idx[$0] }, padded)] += analytic.pointer[i]
                }
                if let why = closeness(summed.values, numeric, atol: 2e-3, rtol: 2e-3) { XCTFail("d\(which) \(sa)·\(sb): \(why)") }
            }
        }
    }

    /// `Σ g·f(x)` differentiated numerically (float64 twins, central differences) against each
    /// kernel's input gradient.
    func testInputGradientsMatchCentralDifferences() throws {
        var rng = Seeded(state: 13)
        let x = random([1, 3, 4, 5], &rng, in: -2.4...2.4)
        // selu's derivative jumps at 0: keep every input a step's width away.
        for i in 0..<x.count where abs(x.pointer[i]) < 0.05 { x.pointer[i] = x.pointer[i] < 0 ? -0.05 : 0.05 }
        typealias Forward = (Tensor) -> Tensor
        func check(_ label: String, _ f: Forward, _ backward: (Tensor) -> Tensor, tolerance: Float = 2e-3) {
            let y = f(x)
            let g = random(y.shape, &rng)
            let analytic = backward(g)
            var numeric = [Float](repeating: 0, count: x.count)
            let h: Float = 1e-2
            for i in 0..<x.count {
                let xp = Tensor(zeros: x.shape), xm = Tensor(zeros: x.shape)
                for k in 0..<x.count { xp.pointer[k] = x.pointer[k]; xm.pointer[k] = x.pointer[k] }
                xp.pointer[i] += h; xm.pointer[i] -= h
                let (yp, ym) = (f(xp), f(xm))
                var d = 0.0
                for k in 0..<y.count { d += Double(g.pointer[k]) * (Double(yp.pointer[k]) - Double(ym.pointer[k])) }
                numeric[i] = Float(d / Double(2 * h))
            }
            if let why = closeness(analytic.values, numeric, atol: tolerance, rtol: tolerance) { XCTFail("\(label): \(why)") }
        }
        // Transposed convolution (stride 2, pads, output padding 1): its gradient is the
        // forward convolution.
        let ct = ConvTranspose2DAttributes(conv: Conv2DAttributes(kernel: [3, 3], stride: [2, 2], pads: [1, 0, 1, 1], group: 1),
                                           outputPadding: [1, 0])
        let wt = random([3, 2, 3, 3], &rng)
        let ctOut = try Op.convTranspose2d(ct).outputShape(inputs: [x.shape], params: ["weight": wt.shape], node: "t")
        check("convTranspose2d", { NaiveKernels.conv2dBackwardData($0, weight: wt, ct.conv, inShape: ctOut) },
              { Kernels.conv2d($0, weight: wt, bias: nil, ct.conv, outShape: x.shape) })
        // Resize is linear in its input: its adjoint against differences of the kernel itself
        // (the forward is checked against onnx's Resize node tests).
        for r in [ResizeAttributes(mode: .linear, coordinates: .halfPixel, rounding: .floor, size: [7, 9], scales: [1.75, 1.8]),
                  ResizeAttributes(mode: .nearest, coordinates: .asymmetric, rounding: .floor, size: [8, 10], scales: [2, 2]),
                  ResizeAttributes(mode: .linear, coordinates: .alignCorners, rounding: .floor, size: [3, 2], scales: [0.75, 0.4])] {
            check("resize \(r.mode) \(r.coordinates)", { Kernels.resize($0, r) }, { Kernels.resizeBackward($0, inShape: x.shape, r) })
        }
        let perm = [0, 3, 1, 2]
        check("transpose", { NaiveKernels.transpose($0, perm: perm) }, { Kernels.transposeBackward($0, perm: perm) })
        check("slice", { NaiveKernels.slice($0, axis: 3, start: 1, end: 5, step: 2) },
              { Kernels.sliceBackward($0, axis: 3, start: 1, step: 2, inShape: x.shape) })
        for kind in ReduceKind.allCases {
            let a = ReduceAttributes(kind: kind, axes: [2, 3], keepDims: true)
            check("reduce \(kind)", { NaiveKernels.reduce($0, a) }, { Kernels.reduceBackward($0, input: x, a) })
        }
        let scale = random([5], &rng)
        check("layerNorm", { NaiveKernels.layerNorm($0, axis: 3, epsilon: 1e-5, scale: scale, bias: nil) },
              { Kernels.layerNormBackward($0, input: x, axis: 3, epsilon: 1e-5, scale: scale) })
        for f in UnaryFunction.all where ![.log, .sqrt, .reciprocal, .abs].contains(f) {
            // hardSwish (±3) and hardSigmoid (±2.5) have kinks; the inputs stay clear of them.
            check(f.name, { NaiveKernels.unary($0, f) }, { Kernels.unaryBackward($0, input: x, f) })
        }
    }
}
