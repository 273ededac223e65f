import SRCore
import SRFormats

/// ViRelAy's attribution database (its docs, "Database Specification"; read by
/// `virelay.model.AttributionDatabase`), as srtool writes it:
/// - `index` uint32 `[n]`: each row's position in the sorted input list;
/// - `attribution` float32 `[n, C, H, W]`: the method's raw map (`[n, 1, h, w]` at the
///   layer for CAM and Grad-CAM);
/// - `label` uint32 `[n]`: the class explained. ViRelAy's specification allows
///   `[n, 1]`, but ViRelAy 0.6.1 reads a row of `[n, 1]` as an n-hot vector (class 0
///   or none), so the label is one number per row, as in ViRelAy's own example;
/// - `prediction` float32 `[n, classes]`: the model's output;
/// - the root attribute `srtool_fingerprint` (the model and options, `batch`).
/// With `--inputs`, the input database: `data` float32 `[n, C, H, W]` (preprocessed),
/// `label` uint32 `[n]` (the list's label, else the class explained) and `index`.
struct AttributionLayout {
    let rows: Int
    let shape: [Int]
    let classes: Int

    func create(in h5: HDF5Writer, fingerprint: String) throws {
        try h5.create("index", shape: [rows], element: .uint32)
        try h5.create("attribution", shape: [rows] + shape, element: .float32)
        try h5.create("label", shape: [rows], element: .uint32)
        try h5.create("prediction", shape: [rows, classes], element: .float32)
        try h5.setAttribute("srtool_fingerprint", fingerprint)
    }

    func write(_ h5: HDF5Writer, row: Int, index: [Int], attribution: Tensor, labels: [Int], prediction: Tensor) throws {
        let n = index.count
        try h5.write("index", rows: row, count: n, element: .uint32, from: try Self.uint32(index))
        try h5.write("attribution", rows: row, count: n, element: .float32, from: attribution.pointer)
        try h5.write("label", rows: row, count: n, element: .uint32, from: try Self.uint32(labels))
        try h5.write("prediction", rows: row, count: n, element: .float32, from: prediction.pointer)
    }

    func createInputs(in h5: HDF5Writer, shape: [Int]) throws {
        try h5.create("data", shape: [rows] + shape, element: .float32)
        try h5.create("label", shape: [rows], element: .uint32)
        try h5.create("index", shape: [rows], element: .uint32)
    }

    func writeInputs(_ h5: HDF5Writer, row: Int, x: Tensor, index: [Int], labels: [Int]) throws {
        try h5.write("data", rows: row, count: index.count, element: .float32, from: x.pointer)
        try h5.write("label", rows: row, count: index.count, element: .uint32, from: try Self.uint32(labels))
        try h5.write("index", rows: row, count: index.count, element: .uint32, from: try Self.uint32(index))
    }

    private static func uint32(_ values: [Int]) throws -> [UInt32] {
        try values.map {
            guard let v = UInt32(exactly: $0) else { throw SRError.unsupported("\($0) does not fit the uint32 of ViRelAy's index and label") }
            return v
        }
    }
}
