import SRCore
@testable import SRRuntime
import SRTestSupport
import XCTest

/// A squeeze-and-excitation gate folded into the 1×1 convolution that reads the gated
/// signal: `pointwiseConv2d(gate:)` scales each image's weights instead of writing x ⊙ gate.
/// Not the bits of the separate product (the weight is rounded after its scaling), so
/// against the naive twin within float32 tolerance.
extension NaiveTwinTests {
    /// At every instruction-set level (the C kernel and the Swift tiles): two images with
    /// their own gates, groups, a residual and each kind of fused activation.
    func testGatedPointwiseConvolutionMatchesNaive() throws {
        var rng = Seeded(state: 31)
        let before = InstructionSet.inUse
        defer { InstructionSet.use(before) }
        let cases: [(n: Int, c: Int, o: Int, h: Int, w: Int, group: Int, f: FusedActivation?, residual: Bool)] = [
            (2, 16, 24, 33, 34, 1, .unary(.silu), true),
            (2, 24, 10, 9, 7, 2, nil, false),
            (1, 96, 40, 28, 28, 1, .clip(min: 0, max: 6), true),
            (2, 5, 6, 5, 7, 1, .relu(slope: 0.1), false),
        ]
        for (i, k) in cases.enumerated() {
            let a = Conv2DAttributes(kernel: [1, 1], group: k.group)
            let x = random([k.n, k.c, k.h, k.w], &rng), gate = random([k.n, k.c, 1, 1], &rng)
            let w = random([k.o, k.c / k.group, 1, 1], &rng), b = random([k.o], &rng)
            let out = [k.n, k.o, k.h, k.w]
            let r = k.residual ? random(out, &rng) : nil
            let gated = Tensor(zeros: x.shape)
            for j in 0..<x.count { gated.pointer[j] = x.pointer[j] * gate.pointer[j / (k.h * k.w)] }
            let slow = NaiveKernels.conv2d(gated, weight: w, bias: b, a, outShape: out)
            if let r { for j in 0..<slow.count { slow.pointer[j] += r.pointer[j] } }
            activate(slow, k.f)
            for level in InstructionSet.allCases where level <= InstructionSet.supported {
                XCTAssertEqual(InstructionSet.use(level), level)
                let fast = Parallel.using(2) {
                    Kernels.pointwiseConv2d(x, weight: w, bias: b, groups: k.group, outShape: out, activation: k.f,
                                            residual: r, gate: gate)
                }
                if let why = closeness(fast, slow, atol: 1e-5, rtol: 1e-4) { XCTFail("case \(i) at \(level): \(why)") }
            }
        }
    }

    /// In a forward-only run the executor leaves the gated products unwritten and the 1×1
    /// conv reading each takes its gate, with the result of a run that keeps everything:
    /// the gate as either input of the Mul, the conv with a skip connection and a ReLU
    /// inside it, and on a small map with more than 64 channels (where the packed product
    /// runs) the product made just before the conv instead.
    func testGatedProductsInsideTheConvAgreeWithSeparateOps() throws {
        var rng = Seeded(state: 32)
        var weights: [String: Tensor] = [:]
        var nodes: [Node] = []
        func conv(_ name: String, _ input: String, _ c: Int, _ o: Int, _ k: Int, stride: Int = 1) {
            weights[name + ".w"] = random([o, c, k, k], &rng)
            weights[name + ".b"] = random([o], &rng)
            nodes.append(Node(name: name, op: .conv2d(Conv2DAttributes(kernel: [k, k], stride: [stride, stride],
                                                                      pads: Array(repeating: k / 2, count: 4))),
                              inputs: [input], outputs: [name], params: ["weight": name + ".w", "bias": name + ".b"]))
        }
        func node(_ name: String, _ op: Op, _ inputs: String...) {
            nodes.append(Node(name: name, op: op, inputs: inputs, outputs: [name]))
        }
        func squeeze(_ name: String, _ input: String, _ c: Int) {
            node(name + ".pool", .globalAvgPool, input)
            conv(name + ".fc1", name + ".pool", c, 4, 1)
            node(name + ".act", .relu(slope: 0), name + ".fc1")
            conv(name + ".fc2", name + ".act", 4, c, 1)
            node(name, .sigmoid, name + ".fc2")
        }
        conv("a", "x", 16, 16, 3); node("sa", .unary(.silu), "a")
        squeeze("g1", "sa", 16)
        node("m1", .mul, "g1", "sa")
        conv("p", "m1", 16, 16, 1)
        node("s", .add, "p", "x"); node("r", .relu(slope: 0), "s")
        conv("d", "r", 16, 80, 3, stride: 2)
        squeeze("g2", "d", 80)
        node("m2", .mul, "d", "g2")
        conv("y", "m2", 80, 8, 1)
        let graph = Graph(inputs: [GraphInput(name: "x", shape: [2, 16, 33, 34])], outputs: ["y"], nodes: nodes,
                          weights: weights, metadata: GraphMetadata(sourceFormat: "test"))
        let e = try Executor(graph: graph, threads: 2)
        XCTAssertEqual(e.gatedProducts, ["m1": 1, "m2": 0])
        XCTAssertEqual(e.doneByResidual, ["s": "p", "r": "s"])
        let x = random([2, 16, 33, 34], &rng)
        let separate = try e.run(["x": x], keepAll: true), fused = try e.run(["x": x], keepAll: false)
        guard let want = separate["y"], let got = fused["y"] else { return XCTFail("no output") }
        // Sums of up to 144 products of values up to 3 in size: the absolute tolerance scales
        // with the output's largest value.
        let scale = want.values.map(abs).max() ?? 0
        XCTAssertGreaterThan(scale, 1)
        if let why = closeness(got, want, atol: 2e-6 * scale, rtol: 1e-5) { XCTFail(why) }
        // The folded weights round differently: equal bits would mean no gate was folded.
        XCTAssertNotEqual(got.values.map(\.bitPattern), want.values.map(\.bitPattern), "no gate folded")
    }
}
