/// Eight floats at a time from and to memory of any alignment: the kernels' vector loads and
/// stores.
extension UnsafeMutablePointer where Pointee == Float {
    @inline(__always) func lanes() -> SIMD8<Float> {
        UnsafeRawPointer(self).loadUnaligned(as: SIMD8<Float>.self)
    }

    @inline(__always) func setLanes(_ v: SIMD8<Float>) {
        UnsafeMutableRawPointer(self).storeBytes(of: v, as: SIMD8<Float>.self)
    }
}
