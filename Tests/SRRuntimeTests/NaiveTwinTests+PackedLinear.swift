import SRCore
@testable import SRRuntime
import SRTestSupport
import XCTest

/// A mapped file's stand-in: memory tensors borrow, and the ranges it was asked to release.
private final class ReleasingOwner: PageReleasing {
    let memory: Tensor
    var released: [(start: UnsafeRawPointer, byteCount: Int)] = []
    init(_ memory: Tensor) { self.memory = memory }
    func releasePages(_ start: UnsafeRawPointer, byteCount: Int) { released.append((start, byteCount)) }
}

/// Linear layers by the packed product (`Kernels.packedLinear`) against the naive layer,
/// and which weights a forward-only executor repacks.
extension NaiveTwinTests {
    /// One token and many (not a multiple of the product's seven columns), in features past
    /// its blocks of 256, out features of one panel and of several, with and without bias,
    /// leading axes kept, GELU and a clip applied by the workers; the same bits at every
    /// instruction set. The weight packed in its own memory is the packed copy.
    func testPackedLinearMatchesNaiveAtEveryInstructionSet() throws {
        var rng = Seeded(state: 31)
        let before = InstructionSet.inUse
        defer { InstructionSet.use(before) }
        let cases: [([Int], Int, Int, Bool, FusedActivation?)] = [
            ([1], 130, 32, true, nil), ([2, 99], 300, 96, true, .unary(.gelu)), ([50], 128, 64, false, .clip(min: -1, max: 2)),
        ]
        for (lead, fin, fout, withBias, activation) in cases {
            let x = random(lead + [fin], &rng), w = random([fout, fin], &rng), b = withBias ? random([fout], &rng) : nil
            let want = NaiveKernels.linear(x, weight: w, bias: b)
            activate(want, activation)
            var first: [Float]?
            for level in InstructionSet.allCases where level <= InstructionSet.supported {
                XCTAssertEqual(InstructionSet.use(level), level)
                let packed = Kernels.packedLinearWeight(w), inPlace = try Tensor(shape: w.shape, values: w.values)
                Kernels.packLinearWeightInPlace(inPlace)
                XCTAssertEqual(inPlace.values, packed.values, "\(fout) packed in place at \(level)")
                let got = Kernels.packedLinear(x, packedWeight: packed, bias: b, activation: activation)
                if let why = closeness(got, want, atol: 1e-5, rtol: 1e-5) { XCTFail("\(lead + [fin]) → \(fout) at \(level): \(why)") }
                if let first { XCTAssertEqual(got.values, first, "\(fout) at \(level)") } else { first = got.values }
            }
        }
    }

    /// With `packWeights`, an executor repacks a linear weight that only the graph it was
    /// handed holds, and runs it, with the GELU after it, to the naive result, as it does one
    /// borrowed from an owner that can release its pages (a mapped file), which it asks to
    /// release each panel's as it is copied; not one the caller still holds (it would be a second copy), one in borrowed memory
    /// that cannot be released, one shared by two layers, one whose out features are not a
    /// multiple of the 32-row panels, one with under 128 in features, or one that sees a
    /// single token (layer h, after a flatten: a classifier).
    func testExecutorRepacksOnlyWeightsItAloneHolds() throws {
        var rng = Seeded(state: 32)
        // Borrowed memory: layer e's weight from an owner that cannot release it, layer f's
        // from one that can.
        let file = random([32, 130], &rng)
        let mapped = ReleasingOwner(random([64, 130], &rng))
        func graph() throws -> Graph {
            var r = Seeded(state: 33)
            let borrowed = TensorStorage(borrowing: file.pointer, count: file.count, owner: file.storage)
            let releasable = TensorStorage(borrowing: mapped.memory.pointer, count: mapped.memory.count, owner: mapped)
            // Weights scaled by 1/√in, so the values stay of order one through the chain.
            func weight(_ shape: [Int]) -> Tensor {
                let t = random(shape, &r)
                for i in 0..<t.count { t.pointer[i] /= Float(shape[1]).squareRoot() }
                return t
            }
            let w: [String: Tensor] = ["a.w": weight([64, 130]), "a.b": random([64], &r), "b.w": weight([40, 64]),
                                       "c.w": weight([40, 40]), "d.w": weight([32, 40]),
                                       "e.w": try Tensor(shape: [32, 130], storage: borrowed),
                                       "f.w": try Tensor(shape: [64, 130], storage: releasable),
                                       "h.w": weight([32, 1170])]
            let nodes = [
                Node(name: "a", op: .linear, inputs: ["x"], outputs: ["a"], params: ["weight": "a.w", "bias": "a.b"]),
                Node(name: "g", op: .unary(.gelu), inputs: ["a"], outputs: ["g"]),
                Node(name: "b", op: .linear, inputs: ["g"], outputs: ["b"], params: ["weight": "b.w"]),
                Node(name: "c1", op: .linear, inputs: ["b"], outputs: ["c1"], params: ["weight": "c.w"]),
                Node(name: "c2", op: .linear, inputs: ["c1"], outputs: ["c2"], params: ["weight": "c.w"]),
                Node(name: "d", op: .linear, inputs: ["c2"], outputs: ["y"], params: ["weight": "d.w"]),
                Node(name: "e", op: .linear, inputs: ["x"], outputs: ["e"], params: ["weight": "e.w"]),
                Node(name: "f", op: .linear, inputs: ["x"], outputs: ["f"], params: ["weight": "f.w"]),
                Node(name: "fl", op: .flatten, inputs: ["x"], outputs: ["fl"]),
                Node(name: "h", op: .linear, inputs: ["fl"], outputs: ["h"], params: ["weight": "h.w"]),
            ]
            return Graph(inputs: [GraphInput(name: "x", shape: [1, 9, 130])], outputs: ["y", "e", "f", "h"], nodes: nodes,
                         weights: w, metadata: GraphMetadata(sourceFormat: "test"))
        }
        let x = random([1, 9, 130], &rng)
        let kept = try graph()
        var want = x
        for node in kept.nodes where !["e", "f", "fl", "h"].contains(node.name) {
            if case .unary(let f) = node.op { want = NaiveKernels.unary(want, f); continue }
            want = NaiveKernels.linear(want, weight: kept.weight(node, "weight")!, bias: kept.weight(node, "bias"))
        }

        let handed = try Executor(graph: try graph(), threads: 2, packWeights: true)
        XCTAssertEqual(handed.packedLinear, ["a", "f"])
        // Released a panel (32 rows) at a time, as each is copied.
        XCTAssertEqual(mapped.released.map(\.start), [0, 32 * 130].map { UnsafeRawPointer(mapped.memory.pointer + $0) })
        XCTAssertEqual(mapped.released.map(\.byteCount), [32 * 130 * 4, 32 * 130 * 4])
        XCTAssertEqual(handed.fusedIntoAffine, ["a": .unary(.gelu)])
        XCTAssertNotEqual(handed.graph.weights["a.w"]?.values, kept.weights["a.w"]?.values)
        XCTAssertEqual(handed.graph.weights["a.w"]?.shape, [64, 130])
        let got = try handed.run(["x": x], keepAll: false)
        if let why = closeness(try XCTUnwrap(got["y"]), want, atol: 1e-5, rtol: 1e-4) { XCTFail("repacked: \(why)") }
        let wantE = NaiveKernels.linear(x, weight: file, bias: nil)
        if let why = closeness(try XCTUnwrap(got["e"]), wantE, atol: 1e-5, rtol: 1e-5) { XCTFail("borrowed: \(why)") }
        let wantF = NaiveKernels.linear(x, weight: mapped.memory, bias: nil)
        if let why = closeness(try XCTUnwrap(got["f"]), wantF, atol: 1e-5, rtol: 1e-5) { XCTFail("released: \(why)") }
        let wantH = NaiveKernels.linear(try x.reshaped([1, 1170]), weight: try XCTUnwrap(kept.weights["h.w"]), bias: nil)
        if let why = closeness(try XCTUnwrap(got["h"]), wantH, atol: 1e-5, rtol: 1e-4) { XCTFail("one token: \(why)") }

        let held = try Executor(graph: kept, threads: 2, packWeights: true)
        XCTAssertEqual(held.packedLinear, [])
        XCTAssertEqual(held.fusedIntoAffine, [:])
        XCTAssertEqual(held.graph.weights["a.w"]?.values, kept.weights["a.w"]?.values)
        let same = try held.run(["x": x], keepAll: false)
        if let why = closeness(try XCTUnwrap(same["y"]), want, atol: 1e-5, rtol: 1e-4) { XCTFail("kept: \(why)") }
    }

    /// A repacked linear layer read only by a transpose to channels first writes that
    /// transpose's output itself in a forward-only run, the same bits as the two ops (a run
    /// keeping every activation) and the naive layer's values; not one whose output is also
    /// a graph output.
    func testRepackedLinearWritesChannelsFirstForTheTransposeAfterIt() throws {
        var rng = Seeded(state: 35)
        // Made twice, so the executor holds its own and may repack them.
        func weights() -> [String: Tensor] {
            var r = Seeded(state: 36)
            return ["a.w": random([64, 130], &r), "a.b": random([64], &r), "b.w": random([32, 130], &r)]
        }
        let w = weights()
        let perm = [0, 3, 1, 2]
        let nodes = [
            Node(name: "a", op: .linear, inputs: ["x"], outputs: ["a"], params: ["weight": "a.w", "bias": "a.b"]),
            Node(name: "t", op: .transpose(perm: perm), inputs: ["a"], outputs: ["t"]),
            Node(name: "b", op: .linear, inputs: ["x"], outputs: ["b"], params: ["weight": "b.w"]),
            Node(name: "t2", op: .transpose(perm: perm), inputs: ["b"], outputs: ["t2"]),
        ]
        let x = random([2, 3, 5, 130], &rng)
        let wantT = NaiveKernels.transpose(NaiveKernels.linear(x, weight: w["a.w"]!, bias: w["a.b"]), perm: perm)
        let e = try Executor(graph: Graph(inputs: [GraphInput(name: "x", shape: [1, 3, 5, 130])], outputs: ["t", "t2", "b"],
                                          nodes: nodes, weights: weights(), metadata: GraphMetadata(sourceFormat: "test")),
                             threads: 2, packWeights: true)
        XCTAssertEqual(e.packedLinear, ["a", "b"])
        XCTAssertEqual(e.channelsFirstLinear, ["a": "t"])
        let fused = try e.run(["x": x], keepAll: false), separate = try e.run(["x": x], keepAll: true)
        let t = try XCTUnwrap(fused["t"])
        XCTAssertEqual(t.shape, [2, 64, 3, 5])
        XCTAssertEqual(t.values, separate["t"]?.values)
        XCTAssertEqual(fused["t2"]?.values, separate["t2"]?.values)
        if let why = closeness(t, wantT, atol: 1e-5, rtol: 1e-5) { XCTFail("channels first: \(why)") }
    }
}
