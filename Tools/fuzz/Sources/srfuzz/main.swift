import Foundation

// libFuzzer's runtime supplies `main` and calls this for every input.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ bytes: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    Harness.current.run(Data(bytes: bytes, count: size))
    return 0
}
