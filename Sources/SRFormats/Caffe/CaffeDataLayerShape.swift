import Foundation

/// The input shape a Caffe data layer declares, for the layers whose parameters give it
/// without reading their data source (the LMDB `Data`, `HDF5Data` and `WindowData` layers
/// take theirs from the data, so a prototxt with one of those needs `--input-shape`).
enum CaffeDataLayerShape {
    /// `layer` (kept by the TEST phase) as `[N, C, H, W]`, or nil when its parameters do not
    /// say. `memory_data_param` and `image_data_param` are outside srtool's compiled schema,
    /// so they are read from the prototxt's text.
    static func shape(of layer: Caffe_LayerParameter, text: Prototxt?) -> [Int]? {
        switch layer.type {
        case "DummyData":
            let p = layer.dummyDataParam
            if let s = p.shape.first { return s.dim.map(Int.init) }
            if let n = p.num.first, let c = p.channels.first, let h = p.height.first, let w = p.width.first {
                return [n, c, h, w].map(Int.init)
            }
            return nil
        case "MemoryData", "ImageData":
            guard let text, let entry = entry(named: layer.name, in: text) else { return nil }
            return layer.type == "MemoryData" ? memoryData(entry, text) : imageData(entry, text)
        default:
            return nil
        }
    }

    /// A `layer` or V1 `layers` entry of the prototxt, matched by its exact name.
    private struct Entry {
        let children: [Prototxt.Field]
        let isV1: Bool

        func message(_ name: String) -> [Prototxt.Field]? {
            children.first(where: { $0.name == name })?.children
        }
    }

    private static func entry(named name: String, in text: Prototxt) -> Entry? {
        for f in text.fields where f.name == "layer" || f.name == "layers" {
            guard let children = f.children, children.contains(where: { $0.name == "name" && text.value($0) == name }) else { continue }
            return Entry(children: children, isV1: f.name == "layers")
        }
        return nil
    }

    /// The scalar fields of a message by name (the last one wins, as protobuf's).
    private static func values(_ fields: [Prototxt.Field]?, _ text: Prototxt) -> [String: String] {
        var out: [String: String] = [:]
        for f in fields ?? [] where f.children == nil { out[f.name] = text.value(f) }
        return out
    }

    private static func crop(_ entry: Entry, _ text: Prototxt) -> Int? {
        values(entry.message("transform_param"), text)["crop_size"].flatMap { Int($0) }
    }

    /// `memory_data_param { batch_size channels height width }`, with
    /// `transform_param { crop_size }` applied to height and width.
    private static func memoryData(_ entry: Entry, _ text: Prototxt) -> [Int]? {
        let p = values(entry.message("memory_data_param"), text).compactMapValues { Int($0) }
        guard let c = p["channels"], var h = p["height"], var w = p["width"] else { return nil }
        if let crop = crop(entry, text), crop > 0 { h = crop; w = crop }
        return [p["batch_size"] ?? 1, c, h, w]
    }

    /// Caffe's `ImageDataLayer`: `batch_size` (default 1) images of 3 channels (1 with
    /// `is_color: false`), resized to `new_height × new_width` (both set, or neither: then
    /// each image keeps its own size), then cropped square by `transform_param { crop_size }`.
    /// A V1 layer's `image_data_param { crop_size }` is moved into `transform_param` by
    /// Caffe's upgrade (`UpgradeNetDataTransformation`); a V2 layer's is ignored.
    private static func imageData(_ entry: Entry, _ text: Prototxt) -> [Int]? {
        let raw = values(entry.message("image_data_param"), text)
        let p = raw.compactMapValues { Int($0) }
        var crop = crop(entry, text) ?? 0
        if entry.isV1, let legacy = p["crop_size"] { crop = legacy }
        let channels: Int
        switch raw["is_color"] ?? "true" {
        case "true", "True", "t", "1": channels = 3
        case "false", "False", "f", "0": channels = 1
        default: return nil
        }
        let batch = p["batch_size"] ?? 1
        if crop > 0 { return [batch, channels, crop, crop] }
        guard let h = p["new_height"], let w = p["new_width"], h > 0, w > 0 else { return nil }
        return [batch, channels, h, w]
    }
}
