import CHDF5

/// Rows `first ..< first + count` of a dataset of `shape` (rows along the first axis) as an
/// HDF5 hyperslab: `body` gets the memory and file dataspaces for `H5Dread` / `H5Dwrite`
/// and returns libhdf5's status. Whether the selection and the transfer succeeded.
enum HDF5Rows {
    static func transfer(_ d: hid_t, shape: [Int], first: Int, count: Int, _ body: (hid_t, hid_t) -> herr_t) -> Bool {
        var start = [hsize_t](repeating: 0, count: shape.count)
        start[0] = hsize_t(first)
        var counts = shape.map { hsize_t($0) }
        counts[0] = hsize_t(count)
        let fileSpace = H5Dget_space(d)
        defer { H5Sclose(fileSpace) }
        let memory = H5Screate_simple(Int32(counts.count), &counts, nil)
        defer { H5Sclose(memory) }
        return H5Sselect_hyperslab(fileSpace, H5S_SELECT_SET, &start, nil, &counts, nil) >= 0 && body(memory, fileSpace) >= 0
    }
}
