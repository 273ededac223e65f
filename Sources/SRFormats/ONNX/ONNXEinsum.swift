import SRCore

/// Einsum of two activations that is a batched matrix product — MaxViT's attention,
/// `"BGHID,BGHJD->BGHIJ"` (q·kᵀ) and `"BGHIJ,BGHJD->BGHID"` (attention·v): letters in both
/// operands and the output are batch axes (the first of them srtool's batch axis, first in
/// every term), one letter only in the first operand and the output is the row axis, one
/// only in the second operand and the output the column axis, one in both operands only is
/// summed. Lowered as transposes onto `[batch…, row, sum]` and `[batch…, sum, column]`, a
/// `matmul`, and a transpose into the output's order.
enum ONNXEinsum {
    /// `equation` with `letter` in front of every operand and of the output.
    static func prefixingOperands(_ equation: String, with letter: Character) -> String {
        let compact = equation.filter { !$0.isWhitespace }
        let parts = compact.components(separatedBy: "->")
        let inputs = parts[0].split(separator: ",", omittingEmptySubsequences: false).map { "\(letter)\($0)" }
        let output = parts.count > 1 ? "->\(letter)\(parts[1])" : ""
        return inputs.joined(separator: ",") + output
    }
}

extension ONNXGraphBuilder {
    func lowerEinsum(_ proto: Onnx_NodeProto, name: String, attributes a: ONNXAttributes, output out: String) throws {
        func refuse(_ why: String) -> SRError { .unsupported("node '\(name)' (Einsum): \(why)") }
        let equation = (try a.string("equation") ?? "").filter { !$0.isWhitespace }
        let sides = equation.components(separatedBy: "->")
        let terms = sides[0].split(separator: ",", omittingEmptySubsequences: false).map(Array.init)
        guard sides.count == 2, terms.count == 2, proto.input.count == 2 else {
            throw refuse("equation '\(equation)': only two operands with an explicit output are supported")
        }
        let (p, q, o) = (terms[0], terms[1], Array(sides[1]))
        guard !equation.contains("."), [p, q, o].allSatisfy({ Set($0).count == $0.count }) else {
            throw refuse("equation '\(equation)': ellipses and repeated letters are not supported")
        }
        let operands = [resolve(proto.input[0]), resolve(proto.input[1])]
        guard let ps = shape(operands[0]), let qs = shape(operands[1]), ps.count == p.count, qs.count == q.count else {
            throw refuse("operands must both be computed, with one letter per axis")
        }
        let batch = p.filter { q.contains($0) && o.contains($0) }
        let rows = p.filter { !q.contains($0) }, columns = q.filter { !p.contains($0) }
        let summed = p.filter { q.contains($0) && !o.contains($0) }
        guard rows.count == 1, columns.count == 1, summed.count == 1, o.count == batch.count + 2,
              Set(o) == Set(batch + rows + columns), p.first == q.first, p.first == o.first, batch.first == p.first,
              q.filter({ o.contains($0) && p.contains($0) }) == batch, o.filter({ batch.contains($0) }) == batch else {
            throw refuse("equation '\(equation)' is not a batched matrix product with the batch axis first")
        }
        func arranged(_ x: String, _ letters: [Character], _ order: [Character]) throws -> String {
            let perm = order.map { letters.firstIndex(of: $0)! }
            guard perm != Array(0..<perm.count) else { return x }
            let t = freshTensor(out)
            try emit(Node(name: name, op: .transpose(perm: perm), inputs: [x], outputs: [t]))
            return t
        }
        let left = try arranged(operands[0], p, batch + rows + summed)
        let right = try arranged(operands[1], q, batch + summed + columns)
        let natural = batch + rows + columns
        if natural == o {
            try emit(Node(name: name, op: .matmul, inputs: [left, right], outputs: [out]))
        } else {
            let product = freshTensor(out)
            try emit(Node(name: name, op: .matmul, inputs: [left, right], outputs: [product]))
            try emit(Node(name: name, op: .transpose(perm: o.map { natural.firstIndex(of: $0)! }), inputs: [product], outputs: [out]))
        }
    }
}
