// swift-tools-version:6.0
// libFuzzer harnesses for srtool's readers (built by Tools/fuzz/run, not by the main
// package: they need `-sanitize=fuzzer,address`, whose runtime supplies `main`).
import PackageDescription

let package = Package(
    name: "srfuzz",
    dependencies: [.package(name: "srtool", path: "../..")],
    targets: [
        .executableTarget(name: "srfuzz", dependencies: [.product(name: "SRKit", package: "srtool")]),
    ]
)
