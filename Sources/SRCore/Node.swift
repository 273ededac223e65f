/// One operation of a graph. `inputs`/`outputs` name activation tensors (SSA: each
/// output name is produced once); `params` maps a parameter role of the op
/// (`Op.paramRoles`) to a weight in the graph's weight table.
public struct Node: Equatable, Sendable {
    public var name: String
    public var op: Op
    public var inputs: [String]
    public var outputs: [String]
    public var params: [String: String]

    public init(name: String, op: Op, inputs: [String], outputs: [String],
                params: [String: String] = [:]) {
        self.name = name; self.op = op; self.inputs = inputs; self.outputs = outputs
        self.params = params
    }

    public var output: String { outputs.first ?? name }
}
