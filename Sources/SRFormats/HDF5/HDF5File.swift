import CHDF5
import Foundation
import SRCore

/// A read-only HDF5 file through libhdf5 (with `HDF5Writer`, the only Swift files that call
/// it). Answers the questions the Caffe-HDF5 and Keras readers and `merge` ask (is there a
/// group, what is a dataset's shape, read it as float32 or a range of its rows, read a
/// string attribute, list a group) and turns every libhdf5 failure into an SRError;
/// libhdf5's own error printing is switched off.
public final class HDF5File: @unchecked Sendable {
    public let path: String
    private let id: hid_t

    public static func sniff(_ head: Data) -> Bool {
        head.starts(with: [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a])
    }

    /// How messages name the file (the path, or e.g. "model.keras/model.weights.h5" for a
    /// temporary copy).
    public let label: String

    public init(path: String, label: String? = nil) throws {
        self.path = path
        self.label = label ?? path
        H5Eset_auto2(srhdf5_e_default(), nil, nil)
        let f = H5Fopen(path, srhdf5_acc_rdonly(), srhdf5_p_default())
        guard f >= 0 else { throw SRError.malformed("\(label ?? path): not a readable HDF5 file") }
        id = f
    }

    deinit { H5Fclose(id) }

    private enum Kind { case group, dataset, other }

    /// What the object at `path` is, or nil when any component of the path is missing.
    private func kind(_ path: String) -> Kind? {
        var prefix = ""
        for part in path.split(separator: "/") {
            prefix += prefix.isEmpty ? String(part) : "/\(part)"
            guard H5Lexists(id, prefix, srhdf5_p_default()) > 0 else { return nil }
        }
        let o = H5Oopen(id, path, srhdf5_p_default())
        guard o >= 0 else { return nil }
        defer { H5Oclose(o) }
        switch H5Iget_type(o) {
        case H5I_GROUP: return .group
        case H5I_DATASET: return .dataset
        default: return .other
        }
    }

    public func isGroup(_ path: String) throws -> Bool { kind(path) == .group }

    public struct DatasetInfo { public var shape: [Int]; public var isFloat: Bool; public var isInteger: Bool; public var elementSize: Int }

    /// Shape and element type of the dataset at `path`, nil if there is none.
    public func datasetInfo(_ path: String) throws -> DatasetInfo? {
        guard kind(path) == .dataset else { return nil }
        let d = H5Dopen2(id, path, srhdf5_p_default())
        guard d >= 0 else { throw fail("cannot open dataset '\(path)'") }
        defer { H5Dclose(d) }
        return try info(d, path)
    }

    private func info(_ d: hid_t, _ path: String) throws -> DatasetInfo {
        let space = H5Dget_space(d)
        guard space >= 0 else { throw fail("dataset '\(path)' has no dataspace") }
        defer { H5Sclose(space) }
        let rank = H5Sget_simple_extent_ndims(space)
        guard rank >= 0, rank <= 32 else { throw fail("dataset '\(path)' has rank \(rank)") }
        var dims = [hsize_t](repeating: 0, count: Int(rank))
        guard H5Sget_simple_extent_dims(space, &dims, nil) >= 0 else { throw fail("dataset '\(path)': bad dimensions") }
        let shape = try dims.map { d -> Int in
            guard d < 1 << 31 else { throw SRError.malformed("\(label): dataset '\(path)' has dimension \(d)") }
            return Int(d)
        }
        let type = H5Dget_type(d)
        guard type >= 0 else { throw fail("dataset '\(path)' has no type") }
        defer { H5Tclose(type) }
        let cls = H5Tget_class(type)
        return DatasetInfo(shape: shape, isFloat: cls == H5T_FLOAT, isInteger: cls == H5T_INTEGER, elementSize: Int(H5Tget_size(type)))
    }

    /// The dataset at `path` as float32 (libhdf5 converts float64 and integers).
    public func readFloats(_ path: String, limits: ImportLimits = .default) throws -> Tensor {
        let d = H5Dopen2(id, path, srhdf5_p_default())
        guard d >= 0 else { throw fail("cannot open dataset '\(path)'") }
        defer { H5Dclose(d) }
        let i = try info(d, path)
        let type = H5Dget_type(d)
        defer { H5Tclose(type) }
        let cls = H5Tget_class(type)
        guard cls == H5T_FLOAT || cls == H5T_INTEGER else {
            throw SRError.malformed("\(label): dataset '\(path)' is not numeric")
        }
        guard let count = Shape.elementCount(i.shape) else { throw SRError.malformed("\(label): dataset '\(path)' shape overflows") }
        try limits.check(elements: count, what: "dataset '\(path)'")
        // An unfiltered dataset must store all its bytes: a damaged header claiming more
        // would otherwise make libhdf5 fill gigabytes (seen with a fuzzed Caffe-HDF5 file).
        guard (1...8).contains(i.elementSize) else {
            throw SRError.malformed("\(label): dataset '\(path)' has \(i.elementSize)-byte elements")
        }
        let plist = H5Dget_create_plist(d)
        defer { if plist >= 0 { H5Pclose(plist) } }
        let stored = H5Dget_storage_size(d)
        if plist >= 0, H5Pget_nfilters(plist) == 0, UInt64(stored) < UInt64(count) * UInt64(i.elementSize) {
            throw SRError.malformed("\(label): dataset '\(path)' of shape \(i.shape) stores \(stored) bytes, not \(count * i.elementSize)")
        }
        let t = Tensor(uninitialized: i.shape)
        if count > 0 {
            guard H5Dread(d, srhdf5_native_float(), srhdf5_s_all(), srhdf5_s_all(), srhdf5_p_default(), t.pointer) >= 0 else {
                throw fail("cannot read dataset '\(path)'")
            }
        }
        return t
    }

    /// Rows `first ..< first + count` of the dataset at `path` into `values` (row-major,
    /// 4 bytes per element), converted by libhdf5 to float32 or uint32; the caller has
    /// checked the shape with `datasetInfo`.
    public func readRows(_ path: String, rows first: Int, count: Int, element: HDF5Writer.Element,
                         into values: UnsafeMutableRawPointer) throws {
        let d = H5Dopen2(id, path, srhdf5_p_default())
        guard d >= 0 else { throw fail("cannot open dataset '\(path)'") }
        defer { H5Dclose(d) }
        let i = try info(d, path)
        guard (element == .float32 ? i.isFloat : i.isInteger), (1...8).contains(i.elementSize),
              let rows = i.shape.first, first >= 0, count >= 0, first + count <= rows else {
            throw fail("dataset '\(path)' of shape \(i.shape) has no rows \(first)..<\(first + count) of the expected type")
        }
        guard count > 0 else { return }
        guard HDF5Rows.transfer(d, shape: i.shape, first: first, count: count, { memory, fileSpace in
            H5Dread(d, element == .float32 ? srhdf5_native_float() : srhdf5_native_uint32(), memory, fileSpace, srhdf5_p_default(), values)
        }) else {
            throw fail("cannot read rows \(first)..<\(first + count) of dataset '\(path)'")
        }
    }

    /// Names of the members of the group at `path` ("/" for the root), in name order.
    public func members(_ path: String) throws -> [String] {
        let g = H5Gopen2(id, path, srhdf5_p_default())
        guard g >= 0 else { throw fail("no group '\(path)'") }
        defer { H5Gclose(g) }
        var info = H5G_info_t()
        guard H5Gget_info(g, &info) >= 0 else { throw fail("cannot list group '\(path)'") }
        guard info.nlinks < 1 << 20 else { throw SRError.malformed("\(label): group '\(path)' has \(info.nlinks) members") }
        var names: [String] = []
        for k in 0..<info.nlinks {
            let n = H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, k, nil, 0, srhdf5_p_default())
            guard n >= 0, n < 1 << 16 else { throw fail("cannot list group '\(path)'") }
            var buf = [CChar](repeating: 0, count: Int(n) + 1)
            guard H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, k, &buf, Int(n) + 1, srhdf5_p_default()) >= 0 else {
                throw fail("cannot list group '\(path)'")
            }
            names.append(String(cString: buf))
        }
        return names
    }

    /// A string attribute (fixed or variable length, or an array of them) of the object
    /// at `path`; nil when it has no such attribute.
    public func stringsAttribute(_ name: String, of path: String = "/") throws -> [String]? {
        guard H5Aexists_by_name(id, path, name, srhdf5_p_default()) > 0 else { return nil }
        let a = H5Aopen_by_name(id, path, name, srhdf5_p_default(), srhdf5_p_default())
        guard a >= 0 else { throw fail("cannot open attribute '\(name)' of '\(path)'") }
        defer { H5Aclose(a) }
        let type = H5Aget_type(a)
        guard type >= 0 else { throw fail("attribute '\(name)' has no type") }
        defer { H5Tclose(type) }
        let space = H5Aget_space(a)
        defer { H5Sclose(space) }
        let n = H5Sget_simple_extent_npoints(space)
        // Keras writes an empty float64 array for a layer without weights.
        if n == 0 { return [] }
        guard H5Tget_class(type) == H5T_STRING else { throw SRError.malformed("\(label): attribute '\(name)' of '\(path)' is not a string") }
        guard n >= 0, n < 1 << 20 else { throw fail("attribute '\(name)' has \(n) elements") }
        let count = Int(n)
        if H5Tis_variable_str(type) > 0 {
            let mem = H5Tcopy(srhdf5_c_s1())
            defer { H5Tclose(mem) }
            H5Tset_size(mem, Int(bitPattern: UInt(bitPattern: -1)))
            H5Tset_cset(mem, H5Tget_cset(type))
            var ptrs = [UnsafeMutablePointer<CChar>?](repeating: nil, count: count)
            guard H5Aread(a, mem, &ptrs) >= 0 else { throw fail("cannot read attribute '\(name)'") }
            defer {
                for p in ptrs { H5free_memory(p) }
            }
            return ptrs.map { $0.map { String(cString: $0) } ?? "" }
        }
        let size = H5Tget_size(type)
        guard size > 0, size < 1 << 26, count * size < 1 << 28 else { throw fail("attribute '\(name)' is too large") }
        var buf = [UInt8](repeating: 0, count: count * size)
        guard H5Aread(a, type, &buf) >= 0 else { throw fail("cannot read attribute '\(name)'") }
        return (0..<count).map { i in
            let chunk = buf[(i * size)..<((i + 1) * size)]
            let end = chunk.firstIndex(of: 0) ?? chunk.endIndex
            return String(decoding: chunk[chunk.startIndex..<end], as: UTF8.self)
        }
    }

    private func fail(_ why: String) -> SRError { .malformed("\(label): \(why)") }
}
