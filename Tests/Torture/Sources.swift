import Foundation
import QuiesceTestSupport

/// Source files with seeded contents and mixed sizes: mostly small, some large enough that a
/// kill or a fault lands while they are being copied.
public struct SourcePool: Sendable {
    public let directory: String
    public let files: [String]

    public init(directory: String, count: Int, seed: UInt64, largeBytes: Int = 4 << 20) {
        self.directory = directory
        mkdir(directory, 0o755)
        var files: [String] = []
        for index in 0..<count {
            let size: Int
            switch index % 20 {
            case 0: size = largeBytes
            case 1...5: size = 512 << 10
            default: size = (16 << 10) * (1 + index % 8)
            }
            let path = "\(directory)/source-\(index).bin"
            writeFile(path, pseudoRandomBytes(count: size, seed: seed &+ UInt64(index)))
            files.append(path)
        }
        self.files = files
    }

    /// A few sources, picked at random.
    public func pick(_ count: Int, _ random: inout SplitMix64) -> [String] {
        var picked: [String] = []
        var remaining = files
        for _ in 0..<min(count, files.count) {
            picked.append(remaining.remove(at: Int(random.next() % UInt64(remaining.count))))
        }
        return picked
    }
}

/// A `.quiesce-partial` file seen at one moment: the same path, inode and change time later
/// means the same file was left behind (a new copy's partial is a new file).
public struct PartialFile: Sendable, Hashable {
    public let path: String
    let inode: UInt64
    let changed: Int

    /// Every partial file under `root`.
    public static func all(under root: String) -> [PartialFile] {
        allFiles(under: root).filter { $0.hasSuffix(".quiesce-partial") }.compactMap { relative in
            PartialFile(path: "\(root)/\(relative)")
        }
    }

    init?(path: String) {
        var info = stat()
        guard lstat(path, &info) == 0 else { return nil }
        self.path = path
        inode = UInt64(info.st_ino)
        changed = info.st_ctim.tv_sec * 1_000_000_000 + info.st_ctim.tv_nsec
    }

    /// Whether this very file is still there.
    public var stillThere: Bool { PartialFile(path: path) == self }
}

/// A small seeded generator, so a failing run can be repeated exactly.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A number in `range`.
    public mutating func next(in range: ClosedRange<Int>) -> Int {
        range.lowerBound + Int(next() % UInt64(range.count))
    }
}
