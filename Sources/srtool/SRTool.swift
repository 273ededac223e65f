import ArgumentParser

struct SRTool: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "srtool",
        abstract: "Read trained vision models (ONNX, Caffe, Keras, .srm), run them on the CPU and explain their decisions.",
        version: "0.1.0",
        subcommands: [Inspect.self, Run.self, Predict.self, Explain.self, Verify.self, Eval.self, Saliency.self, Render.self, Batch.self, Merge.self, Colormaps.self, Convert.self, Presets.self, ReadAttributionsChild.self, MergeChild.self]
    )
}
