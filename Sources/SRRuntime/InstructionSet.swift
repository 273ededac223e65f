import CKernels

/// The instruction set of the kernels chosen at run time (`CKernels`: SiLU and GELU, the
/// activations of EfficientNet-, ConvNeXt- and ViT-style models, the packed-weight matrix
/// product of convolutions, the depthwise convolution of small maps). The other kernels are
/// compiled for AVX2 + FMA (Package.swift).
/// Every level gives the same bits.
public enum InstructionSet: Int, Sendable, CaseIterable, Comparable {
    case scalar = 0, avx2 = 1, avx512 = 2

    /// The best level this CPU runs.
    public static var supported: InstructionSet { InstructionSet(rawValue: Int(srk_isa_supported())) ?? .scalar }

    /// The level in use: `supported`, unless lowered by `use` or by `SRTOOL_ISA=avx2|scalar`
    /// in the environment.
    public static var inUse: InstructionSet { InstructionSet(rawValue: Int(srk_isa())) ?? .scalar }

    /// Runs the kernels at `level` (at most `supported`); returns the level now in use.
    @discardableResult
    public static func use(_ level: InstructionSet) -> InstructionSet {
        InstructionSet(rawValue: Int(srk_set_isa(Int32(level.rawValue)))) ?? .scalar
    }

    public static func < (a: InstructionSet, b: InstructionSet) -> Bool { a.rawValue < b.rawValue }
}
