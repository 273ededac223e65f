import Foundation
import SRCore
import SRImage

/// Reads and preprocesses one block of the sorted list. An image that cannot be read or
/// decoded is skipped and reported, never fatal: the block then has fewer rows.
struct BlockDecoder: Sendable {
    struct Block: @unchecked Sendable {
        let range: Range<Int>
        /// `[rows, C, H, W]`, nil when no image of the block could be read.
        let x: Tensor?
        /// The list positions of the rows.
        let rows: [Int]
        let failed: [BatchRecord.Failure]
    }

    let items: [DatasetItem]
    let preprocessing: Preprocessing
    let channels: Int
    let height: Int
    let width: Int

    func decode(_ range: Range<Int>) -> Block {
        var tensors: [Tensor] = [], rows: [Int] = [], failed: [BatchRecord.Failure] = []
        for i in range {
            do {
                let image = try RGBImage.read(path: items[i].path)
                tensors.append(try preprocessing.tensor(from: image, height: height, width: width, channels: channels))
                rows.append(i)
            } catch let e as SRError {
                failed.append(.init(index: i, input: items[i].path, error: e.message))
            } catch {
                failed.append(.init(index: i, input: items[i].path, error: "\(error)"))
            }
        }
        guard !tensors.isEmpty, let x = try? Tensor.stack(tensors) else {
            let lost = rows.map { BatchRecord.Failure(index: $0, input: items[$0].path, error: "cannot stack its input") }
            return Block(range: range, x: nil, rows: [], failed: (failed + lost).sorted { $0.index < $1.index })
        }
        return Block(range: range, x: x, rows: rows, failed: failed)
    }
}
