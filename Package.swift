// swift-tools-version:6.0
import PackageDescription
import Foundation

// The kernels (SRRuntime, SRSaliency, SRExplain's rule loops) are compiled for Haswell (x86-64-v3: AVX2, FMA; every x86
// server CPU since 2013) on x86_64, so their loops run eight floats wide; srtool checks the
// CPU at start and says so in one line where it lacks them. SRTOOL_PORTABLE=1 builds them
// for the baseline instead.
#if arch(x86_64)
let kernelSettings: [SwiftSetting] = ProcessInfo.processInfo.environment["SRTOOL_PORTABLE"] == nil
    ? [.unsafeFlags(["-target-cpu", "haswell"])] : []
#else
let kernelSettings: [SwiftSetting] = []
#endif

// Linux only: srtool calls Linux system calls Glibc does not import (CLinux: O_TMPFILE,
// renameat2, prctl's parent-death signal), starts its libhdf5 children and re-executes
// itself through /proc/self/exe, and its C libraries come from apt. No Apple platform is
// declared because none is supported.
let package = Package(
    name: "srtool",
    products: [
        .executable(name: "srtool", targets: ["srtool"]),
        .executable(name: "explain-image", targets: ["ExplainImage"]),
        .library(name: "SRKit", targets: ["SRCore", "SRFormats", "SRRuntime", "SRExplain", "SRSaliency", "SRImage", "SRRender", "SREval"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
        .package(url: "https://github.com/apple/swift-protobuf", exact: "1.39.0"),
        .package(url: "https://github.com/weichsel/ZIPFoundation", exact: "0.9.20"),
    ],
    targets: [
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        // libhdf5 for Caffe-HDF5 and Keras files; SRFormats/HDF5/HDF5File.swift is its one user.
        .systemLibrary(name: "CHDF5", path: "Sources/CHDF5", pkgConfig: "hdf5-serial",
                       providers: [.apt(["libhdf5-dev"])]),
        .systemLibrary(name: "CPNG", path: "Sources/CPNG", pkgConfig: "libpng",
                       providers: [.apt(["libpng-dev"])]),
        .systemLibrary(name: "CJPEG", path: "Sources/CJPEG", pkgConfig: "libturbojpeg",
                       providers: [.apt(["libturbojpeg0-dev"])]),
        // Linux system calls Glibc does not import (O_TMPFILE, renameat2, prctl).
        .systemLibrary(name: "CLinux", path: "Sources/CLinux"),
        .target(name: "SRCore", dependencies: ["CLinux"]),
        .target(name: "SRFormats", dependencies: [
            "SRCore", "CHDF5", "CKernels", .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            .product(name: "ZIPFoundation", package: "ZIPFoundation"),
        ]),
        // Kernels compiled for several instruction sets and picked at run time (AVX-512, AVX2).
        .target(name: "CKernels", path: "Sources/CKernels"),
        .target(name: "SRRuntime", dependencies: ["SRCore", "CBLAS", "CLinux", "CKernels"], swiftSettings: kernelSettings),
        .target(name: "SRExplain", dependencies: ["SRCore", "SRRuntime", "SRSaliency"], swiftSettings: kernelSettings),
        .target(name: "SRSaliency", dependencies: ["SRCore", "SRRuntime", "CKernels"], swiftSettings: kernelSettings),
        .target(name: "SRImage", dependencies: ["SRCore", "CPNG", "CJPEG"]),
        .target(name: "SRRender", dependencies: ["SRCore", "SRImage"]),
        .target(name: "SREval", dependencies: ["SRCore", "SRRuntime"]),
        .executableTarget(name: "srtool", dependencies: [
            "SRCore", "SRFormats", "SRRuntime", "SRExplain", "SRSaliency", "SRImage", "SRRender", "SREval",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], swiftSettings: kernelSettings.isEmpty ? [] : [.define("SRTOOL_X86_64_V3")]),
        // Examples/ExplainImage: SRKit used from another Swift program (README, "Using SRKit from Swift").
        .executableTarget(name: "ExplainImage", dependencies: ["SRCore", "SRFormats", "SRImage", "SRExplain", "SRRender"],
                          path: "Examples/ExplainImage"),
        .target(name: "SRTestSupport", dependencies: ["SRCore", "SRFormats"], path: "Tests/SRTestSupport"),
        .testTarget(name: "SRCoreTests", dependencies: ["SRCore", "SRTestSupport"]),
        .testTarget(name: "SRFormatsTests", dependencies: ["SRFormats", "SRRuntime", "SRTestSupport"]),
        .testTarget(name: "SRRuntimeTests", dependencies: ["SRRuntime", "SRFormats", "SRTestSupport"]),
        .testTarget(name: "SRExplainTests", dependencies: ["SRExplain", "SRRuntime", "SRFormats", "SRTestSupport"]),
        .testTarget(name: "SRSaliencyTests", dependencies: ["SRSaliency", "SRRuntime", "CKernels", "SRFormats", "SRImage", "SRTestSupport"]),
        .testTarget(name: "SREvalTests", dependencies: ["SREval", "SRFormats", "SRImage", "SRTestSupport"]),
        .testTarget(name: "SRImageTests", dependencies: ["SRImage", "SRFormats", "SRTestSupport"]),
        .testTarget(name: "SRRenderTests", dependencies: ["SRRender", "SRTestSupport"]),
        .testTarget(name: "SRToolTests", dependencies: ["SRTestSupport", "SRFormats", "SRRuntime", "SRImage"], exclude: ["Snapshots"]),
    ],
    swiftLanguageModes: [.v5]
)
