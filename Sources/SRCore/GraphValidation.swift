extension Graph {
    /// Checks the graph as importers and the `.srm` reader must before anything runs:
    /// unique node names and SSA outputs, declared parameter roles only, every required
    /// weight present, inputs produced before use (so no cycles), outputs produced, and
    /// consistent shapes (`inferShapes`). Errors name the node.
    public func validate() throws {
        guard !inputs.isEmpty else { throw SRError.malformed("graph has no inputs") }
        guard !outputs.isEmpty else { throw SRError.malformed("graph has no outputs") }
        var produced = Set(inputs.map(\.name))
        var names = Set<String>()
        for node in nodes {
            func fail(_ why: String) -> SRError { .malformed("node '\(node.name)' (\(node.op.name)): \(why)") }
            guard names.insert(node.name).inserted else { throw fail("duplicate node name") }
            guard !node.outputs.isEmpty else { throw fail("has no output") }
            let roles = node.op.paramRoles
            for role in roles.required where node.params[role] == nil { throw fail("missing parameter '\(role)'") }
            for role in node.params.keys where !roles.required.contains(role) && !roles.optional.contains(role) {
                throw fail("unknown parameter '\(role)'")
            }
            for input in node.inputs where !produced.contains(input) {
                throw fail("input '\(input)' is not produced by an earlier node (dangling input or cycle)")
            }
            for output in node.outputs {
                guard produced.insert(output).inserted else { throw fail("output '\(output)' is produced twice") }
            }
        }
        for output in outputs where !produced.contains(output) {
            throw SRError.malformed("graph output '\(output)' is not produced by any node")
        }
        for (name, t) in weights where Shape.elementCount(t.shape) == nil || t.count > t.storage.count {
            throw SRError.malformed("weight '\(name)' has an invalid shape \(t.shape)")
        }
        _ = try inferShapes()
    }
}
