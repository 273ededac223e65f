import SRCore
@testable import SRRuntime
import SRTestSupport
import XCTest

/// Dense blocks' concats as views of one buffer per chain (`ConcatChains`) against each
/// concat made on its own (`Kernels.concat`): found in both spellings, the same bits,
/// sharing memory only where the leading dims are 1, and never written over by the batch
/// norm that alone reads a member.
extension NaiveTwinTests {
    /// A dense block of `layers` layers on x [N, 8, 6, 5]: layer k's input is the concat
    /// of x and every earlier layer's output, read only by a batch norm whose ReLU runs
    /// inside it in forward-only runs; then a 1×1 conv to 4 channels. `progressive` spells
    /// each concat `Concat(previous, f)` instead of `Concat(x, f1, …)`.
    func denseBlock(layers: Int, progressive: Bool, rng: inout Seeded) throws -> Graph {
        var nodes: [Node] = [], weights: [String: Tensor] = [:]
        var features = ["x"], channels = 8, previous = "x"
        for k in 1...layers {
            let cat = "cat\(k)", bn = "bn\(k)", conv = "f\(k)"
            let inputs = progressive && k > 1 ? [previous, features.last ?? "x"] : features
            nodes.append(Node(name: cat, op: .concat(axis: 1), inputs: inputs, outputs: [cat]))
            for role in ["mean", "scale", "bias"] { weights["\(bn).\(role)"] = random([channels], &rng) }
            weights["\(bn).variance"] = try Tensor(shape: [channels], values: (0..<channels).map { Float($0 % 3) + 0.5 })
            nodes.append(Node(name: bn, op: .batchNorm(epsilon: 1e-5), inputs: [cat], outputs: [bn],
                              params: ["mean": "\(bn).mean", "variance": "\(bn).variance", "scale": "\(bn).scale",
                                       "bias": "\(bn).bias"]))
            nodes.append(Node(name: bn + ".relu", op: .relu(slope: 0), inputs: [bn], outputs: [bn + ".relu"]))
            weights["\(conv).w"] = random([4, channels, 1, 1], &rng)
            nodes.append(Node(name: conv, op: .conv2d(Conv2DAttributes(kernel: [1, 1])), inputs: [bn + ".relu"],
                              outputs: [conv], params: ["weight": "\(conv).w"]))
            features.append(conv)
            previous = cat
            channels += 4
        }
        let inputs = progressive ? [previous, features.last ?? "x"] : features
        nodes.append(Node(name: "out", op: .concat(axis: 1), inputs: inputs, outputs: ["out"]))
        return Graph(inputs: [GraphInput(name: "x", shape: [1, 8, 6, 5])], outputs: ["out"], nodes: nodes,
                     weights: weights, metadata: GraphMetadata(sourceFormat: "test"))
    }

    func testChainsAreFoundInBothSpellings() throws {
        var rng = Seeded(state: 41)
        let flat = try Executor(graph: try denseBlock(layers: 3, progressive: false, rng: &rng), threads: 1).concatChains.members
        XCTAssertEqual(flat.mapValues(\.newInputs), ["cat1": 1, "cat2": 1, "cat3": 1, "out": 1])
        XCTAssertEqual(Set(flat.values.map(\.last)), ["out"])
        XCTAssertEqual(flat.filter(\.value.first).map(\.key), ["cat1"])
        let progressive = try Executor(graph: try denseBlock(layers: 3, progressive: true, rng: &rng), threads: 1)
            .concatChains.members
        XCTAssertEqual(progressive.mapValues(\.newInputs), ["cat1": 1, "cat2": 1, "cat3": 1, "out": 1])
        XCTAssertEqual(Set(progressive.values.map(\.last)), ["out"])
    }

    /// Every activation equals the node-by-node evaluation (each concat by
    /// `Kernels.concat`), bit for bit, with and without `keepAll`, at batch 1 (views) and 2
    /// (copies): a batch norm writing over its input would have changed the buffer under
    /// the later members.
    func testChainedConcatsKeepEveryValue() throws {
        for progressive in [false, true] {
            var rng = Seeded(state: progressive ? 43 : 42)
            let graph = try denseBlock(layers: 4, progressive: progressive, rng: &rng)
            let e = try Executor(graph: graph, threads: 2)
            for batch in [1, 2] {
                let x = random([batch, 8, 6, 5], &rng)
                var want: [String: Tensor] = ["x": x]
                let shapes = try graph.inferShapes(batch: batch)
                for node in graph.nodes {
                    let ins = node.inputs.compactMap { want[$0] }
                    want[node.output] = try e.evaluate(node, ins, outShape: try XCTUnwrap(shapes[node.output]))
                }
                for keepAll in [true, false] {
                    let got = try e.run(["x": x], keepAll: keepAll)
                    let names = keepAll ? graph.nodes.map(\.output) : ["out"]
                    for name in names {
                        let g = try XCTUnwrap(got[name], name), w = try XCTUnwrap(want[name], name)
                        XCTAssertEqual(g.shape, w.shape, name)
                        let differing = zip(g.values, w.values).filter { $0.bitPattern != $1.bitPattern }.count
                        XCTAssertEqual(differing, 0, "\(name), batch \(batch), keepAll \(keepAll), progressive \(progressive)")
                    }
                    guard keepAll, let first = got["cat1"], let last = got["out"] else { continue }
                    if batch == 1 {
                        XCTAssert(first.storage === last.storage, "batch 1: one buffer")
                    } else {
                        XCTAssert(first.storage !== last.storage, "batch 2: no views")
                    }
                }
            }
        }
    }
}
