import SRCore

/// MaxPool / AveragePool with dilations, as the canonical ops they are made of: the input
/// padded (−max for MaxPool, 0 for AveragePool; more at the end when `ceil_mode` lets the
/// last window hang over), one strided `slice` per kernel tap — tap (i, j) of every window
/// is `padded[:, :, i·d₀ :: s₀, j·d₁ :: s₁]` cut to the output size — and their element-wise
/// `max`, or their sum times a batch constant of 1 / (taps counted per output position:
/// inside the padded input with `count_include_pad`, inside the input without).
extension ONNXGraphBuilder {
    func lowerDilatedPool(max isMax: Bool, name: String, input x: String, shape s: [Int], kernel: [Int], stride: [Int],
                          dilation: [Int], pads: [Int], ceilMode: Bool, countIncludePad: Bool, output out: String) throws {
        func refuse(_ why: String) -> SRError { .unsupported("node '\(name)' (\(isMax ? "MaxPool" : "AveragePool")): \(why)") }
        guard (kernel + stride + dilation).allSatisfy({ $0 >= 1 && $0 < 1 << 16 }), kernel[0] * kernel[1] <= 1024 else {
            throw refuse("kernel \(kernel), strides \(stride), dilations \(dilation)")
        }
        var size = [0, 0], extra = [0, 0], counts: [[Float]] = [[], []]
        for a in 0..<2 {
            let n = s[2 + a], begin = pads[a], end = pads[a + 2], reach = (kernel[a] - 1) * dilation[a] + 1
            let span = n + begin + end - reach
            guard span >= 0 else { throw refuse("the dilated kernel reaches \(reach) pixels, more than the padded input") }
            var o = (ceilMode ? (span + stride[a] - 1) / stride[a] : span / stride[a]) + 1
            if ceilMode && (o - 1) * stride[a] >= n + begin { o -= 1 }  // the last window starts inside
            // The tap counts below cost o·kernel steps: bounded before they are made.
            guard o <= 1 << 16 else { throw refuse("an output of \(o) pixels along axis \(2 + a)") }
            size[a] = o
            extra[a] = max(0, (o - 1) * stride[a] + reach - (n + begin + end))
            counts[a] = (0..<o).map { i in
                Float((0..<kernel[a]).filter { t in
                    let p = i * stride[a] + t * dilation[a] - begin
                    return countIncludePad ? p >= -begin && p < n + end : p >= 0 && p < n
                }.count)
            }
        }
        var padded = x
        if pads.contains(where: { $0 != 0 }) || extra.contains(where: { $0 != 0 }) {
            padded = freshTensor(out)
            try emit(Node(name: name, op: .pad(pads: [pads[0], pads[1], pads[2] + extra[0], pads[3] + extra[1]],
                                               value: isMax ? -Float.greatestFiniteMagnitude : 0),
                          inputs: [x], outputs: [padded]))
        }
        var taps: [String] = []
        for i in 0..<kernel[0] {
            for j in 0..<kernel[1] {
                let rows = freshTensor(out), tap = freshTensor(out)
                let r0 = i * dilation[0], c0 = j * dilation[1]
                try emit(Node(name: name, op: .slice(axis: 2, start: r0, end: r0 + (size[0] - 1) * stride[0] + 1, step: stride[0]),
                              inputs: [padded], outputs: [rows]))
                try emit(Node(name: name, op: .slice(axis: 3, start: c0, end: c0 + (size[1] - 1) * stride[1] + 1, step: stride[1]),
                              inputs: [rows], outputs: [tap]))
                taps.append(tap)
            }
        }
        var total = taps[0]
        for (k, tap) in taps.enumerated().dropFirst() {
            let next = isMax && k == taps.count - 1 ? out : freshTensor(out)
            try emit(Node(name: name, op: isMax ? .max : .add, inputs: [total, tap], outputs: [next]))
            total = next
        }
        if isMax {
            if taps.count == 1 { alias(out, to: total) }
            return
        }
        let inverse = counts[0].flatMap { r in counts[1].map { c in 1 / max(r * c, 1) } }
        let k = try batchConstant(.floats(try Tensor(shape: [1, 1, size[0], size[1]], values: inverse)), rank: 4, like: total, name: name)
        try emit(Node(name: name, op: .mul, inputs: [total, k], outputs: [out]))
    }
}
