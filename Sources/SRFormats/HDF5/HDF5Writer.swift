import CHDF5
import Foundation
import SRCore

/// Writes an HDF5 file of fixed-size datasets through libhdf5 (besides `HDF5File`, the
/// only Swift file that calls it): create the datasets with their final shapes, fill them
/// row range by row range, close. Only srtool's own outputs are written, so this runs
/// in-process. Datasets are contiguous, little-endian, and record no modification times,
/// so the same calls give the same bytes. Write it to a temporary name and rename it
/// (`AtomicFile.write(to:byName:)`): a half-written HDF5 file is not readable.
public final class HDF5Writer {
    public enum Element { case float32, uint32 }

    private let label: String
    private var file: hid_t
    private var datasets: [String: (id: hid_t, shape: [Int])] = [:]

    public init(path: String, label: String? = nil) throws {
        self.label = label ?? path
        H5Eset_auto2(srhdf5_e_default(), nil, nil)
        let fcpl = H5Pcreate(srhdf5_p_file_create())
        defer { H5Pclose(fcpl) }
        H5Pset_obj_track_times(fcpl, false)
        file = H5Fcreate(path, srhdf5_acc_trunc(), fcpl, srhdf5_p_default())
        guard file >= 0 else { throw SRError.cannotWrite("cannot write \(self.label): libhdf5 cannot create the file") }
    }

    deinit { try? close() }

    /// A dataset `name` of `shape` (row-major, axis 0 the rows), zero until written.
    public func create(_ name: String, shape: [Int], element: Element) throws {
        var dims = shape.map { hsize_t($0) }
        let space = H5Screate_simple(Int32(dims.count), &dims, nil)
        guard space >= 0 else { throw fail("cannot describe dataset '\(name)' of shape \(shape)") }
        defer { H5Sclose(space) }
        let dcpl = H5Pcreate(srhdf5_p_dataset_create())
        defer { H5Pclose(dcpl) }
        H5Pset_obj_track_times(dcpl, false)
        // Allocated and zero-filled now: a dataset with no rows written still reads back.
        H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY)
        let type = element == .float32 ? srhdf5_ieee_f32le() : srhdf5_std_u32le()
        let d = H5Dcreate2(file, name, type, space, srhdf5_p_default(), dcpl, srhdf5_p_default())
        guard d >= 0 else { throw fail("cannot create dataset '\(name)'") }
        datasets[name] = (d, shape)
    }

    /// Rows `first ..< first + count` of dataset `name` from `values` (row-major, 4 bytes per element).
    public func write(_ name: String, rows first: Int, count: Int, element: Element, from values: UnsafeRawPointer) throws {
        guard let (d, shape) = datasets[name], first >= 0, count >= 0, first + count <= (shape.first ?? 0) else {
            throw SRError.internalError("\(label): no rows \(first)..<\(first + count) in dataset '\(name)'")
        }
        guard count > 0 else { return }
        guard HDF5Rows.transfer(d, shape: shape, first: first, count: count, { memory, fileSpace in
            H5Dwrite(d, element == .float32 ? srhdf5_native_float() : srhdf5_native_uint32(), memory, fileSpace, srhdf5_p_default(), values)
        }) else {
            throw fail("cannot write rows \(first)..<\(first + count) of dataset '\(name)'")
        }
    }

    /// A UTF-8 string attribute of the root group.
    public func setAttribute(_ name: String, _ value: String) throws {
        let bytes = Array(value.utf8)
        let type = H5Tcopy(srhdf5_c_s1())
        defer { H5Tclose(type) }
        H5Tset_size(type, max(bytes.count, 1))
        H5Tset_cset(type, H5T_CSET_UTF8)
        let space = H5Screate(H5S_SCALAR)
        defer { H5Sclose(space) }
        let a = H5Acreate2(file, name, type, space, srhdf5_p_default(), srhdf5_p_default())
        guard a >= 0 else { throw fail("cannot create attribute '\(name)'") }
        defer { H5Aclose(a) }
        let padded = bytes.isEmpty ? [0] : bytes
        guard H5Awrite(a, type, padded) >= 0 else { throw fail("cannot write attribute '\(name)'") }
    }

    /// Closes every dataset and the file; the file is complete only after this.
    public func close() throws {
        guard file >= 0 else { return }
        var ok = true
        for (_, d) in datasets { ok = H5Dclose(d.id) >= 0 && ok }
        datasets = [:]
        ok = H5Fclose(file) >= 0 && ok
        file = -1
        guard ok else { throw SRError.cannotWrite("cannot write \(label): libhdf5 could not finish the file") }
    }

    private func fail(_ why: String) -> SRError { .cannotWrite("cannot write \(label): \(why)") }
}
