import ArgumentParser
import Foundation
import SRCore
import SRFormats

/// Attributions stored in ViRelAy's HDF5 layout (`index` [n] sample indices, `attribution`
/// float32 [n, C, H, W], `label` [n] (as `srtool batch` writes it), `prediction` [n, classes]). libhdf5 reads it in a
/// child srtool (`IsolatedChild`), which hands the two datasets back as `.npy` files.
enum AttributionFile {
    /// `[inputs, C, H, W]`: row i of the file belongs to input `index[i]`; every input needs
    /// exactly one row.
    static func read(_ path: String, inputs: Int) throws -> Tensor {
        guard FileManager.default.isReadableFile(atPath: path) else { throw SRError.missing("cannot read \(path)") }
        let (attribution, index) = try IsolatedChild.inPrivateFolder { folder in
            let lines = try IsolatedChild.run(["_read-attributions", path, folder], timeLimit: IsolatedChild.timeLimit(forFile: path), subject: path)
            for line in lines { FileHandle.standardError.write(Data((line + "\n").utf8)) }
            return (try NPY.read(path: folder + "/attribution.npy"), try NPY.read(path: folder + "/index.npy"))
        }
        let rows = attribution.shape[0]
        let per = attribution.count / max(rows, 1)
        var row = [Int?](repeating: nil, count: inputs)
        for i in 0..<rows {
            let v = index.pointer[i]
            guard v >= 0, v < Float(inputs), v == v.rounded(), row[Int(v)] == nil else {
                throw SRError.malformed("\(path): index[\(i)] = \(v) is not one of the \(inputs) inputs, or repeats")
            }
            row[Int(v)] = i
        }
        let out = Tensor(uninitialized: [inputs] + attribution.shape.dropFirst())
        for (n, r) in row.enumerated() {
            guard let r else { throw SRError.malformed("\(path) has no attribution for input \(n)") }
            out.pointer.advanced(by: n * per).update(from: attribution.pointer + r * per, count: per)
        }
        return out
    }
}

/// `srtool _read-attributions FILE.h5 FOLDER`: the child side of `AttributionFile` (not
/// listed in help): checks the layout and writes `attribution.npy` and `index.npy`.
struct ReadAttributionsChild: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "_read-attributions", shouldDisplay: false)

    @Argument var file: String
    @Argument var folder: String

    func run() throws {
        IsolatedChild.enter()
        let h5 = try HDF5File(path: file)
        guard let a = try h5.datasetInfo("attribution"), a.isFloat, a.shape.count == 4 else {
            throw SRError.malformed("\(file): no float dataset 'attribution' of shape [n, C, H, W] (ViRelAy's layout)")
        }
        guard let i = try h5.datasetInfo("index"), i.isInteger, i.shape == [a.shape[0]] else {
            throw SRError.malformed("\(file): no integer dataset 'index' of shape [\(a.shape[0])] (ViRelAy's layout)")
        }
        try NPY.write(try h5.readFloats("attribution"), to: folder + "/attribution.npy")
        try NPY.write(try h5.readFloats("index"), to: folder + "/index.npy")
    }
}
