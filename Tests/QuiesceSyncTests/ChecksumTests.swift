@testable import QuiesceCopy
import QuiesceTestSupport
import Testing

@Suite("XXH64")
struct ChecksumTests {
    /// Reference values from the xxHash project's own implementation (python-xxhash), seed 0.
    @Test("matches the reference implementation", arguments: [
        ("", "xxh64:ef46db3751d8e999"),
        ("a", "xxh64:d24ec4f1a98c6e5b"),
        ("abc", "xxh64:44bc2cf5ad770999"),
        ("The quick brown fox jumps over the lazy dog", "xxh64:0b242d361fda71bc"),
    ])
    func referenceVectors(input: String, expected: String) {
        var hash = XXH64()
        hash.update(Array(input.utf8))
        #expect(hash.hexDigest() == expected)
    }

    @Test("gives the same digest however the input is split")
    func streamingSplits() {
        let bytes = (0..<5).flatMap { _ in (0...255).map(UInt8.init) } + Array("tail!".utf8)
        var whole = XXH64()
        whole.update(bytes)
        #expect(whole.hexDigest() == "xxh64:5e77aa5b5b809e3e", "reference value for 1285 bytes")
        for split in [1, 7, 31, 32, 33, 100, 1000] {
            var parts = XXH64()
            var offset = 0
            while offset < bytes.count {
                let end = min(offset + split, bytes.count)
                parts.update(Array(bytes[offset..<end]))
                offset = end
            }
            #expect(parts.hexDigest() == whole.hexDigest(), "chunks of \(split)")
        }
    }
}
