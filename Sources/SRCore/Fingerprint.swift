/// A 64-bit FNV-1a hash over 8-byte words, for noticing that something changed (a model's
/// weights, a run's options) — not for security: anyone can make two inputs collide.
public struct Fingerprint: Sendable {
    private var state: UInt64 = 0xcbf2_9ce4_8422_2325

    public init() {}

    public mutating func add(_ bytes: UnsafeRawBufferPointer) {
        add(UInt64(bytes.count))
        var i = 0
        while i + 8 <= bytes.count {
            add(bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self))
            i += 8
        }
        var tail: UInt64 = 0
        for k in i..<bytes.count { tail |= UInt64(bytes[k]) << (8 * UInt64(k - i)) }
        add(tail)
    }

    public mutating func add(_ word: UInt64) { state = (state ^ word) &* 0x100_0000_01b3 }

    public mutating func add(_ text: String) {
        var text = text
        text.withUTF8 { add(UnsafeRawBufferPointer($0)) }
    }

    /// A tensor's shape and values.
    public mutating func add(_ t: Tensor) {
        add("\(t.shape)")
        withExtendedLifetime(t) { add(UnsafeRawBufferPointer(t.buffer)) }
    }

    /// 16 lowercase hex digits.
    public var hex: String {
        let s = String(state, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }
}
