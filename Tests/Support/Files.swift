public import Glibc
import Foundation

/// A fresh directory under the system's temp dir, removed with everything in it when dropped.
public final class TemporaryDirectory {
    public let path: String

    public init(_ prefix: String = "quiesce-test") {
        var template = Array("/tmp/\(prefix)-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { fatalError("mkdtemp failed: \(errno)") }
        path = String(cString: made)
    }

    deinit {
        _ = system("rm -rf '\(path)'")
    }

    public func file(_ name: String) -> String { "\(path)/\(name)" }
}

/// File mode bits of `path` (`0o600`), or nil when it does not exist.
public func mode(of path: String) -> mode_t? {
    var info = stat()
    guard stat(path, &info) == 0 else { return nil }
    return info.st_mode & 0o777
}

public func exists(_ path: String) -> Bool {
    access(path, F_OK) == 0
}

public func writeFile(_ path: String, _ contents: [UInt8]) {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    precondition(fd >= 0, "cannot create \(path)")
    _ = contents.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    close(fd)
}

public func readFile(_ path: String) -> [UInt8]? {
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var result: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let count = read(fd, &buffer, buffer.count)
        if count <= 0 { break }
        result += buffer[..<count]
    }
    return result
}

public func directoryEntries(_ path: String) -> [String] {
    guard let dir = opendir(path) else { return [] }
    defer { closedir(dir) }
    var names: [String] = []
    while let entry = readdir(dir) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
            String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
        }
        if name != "." && name != ".." { names.append(name) }
    }
    return names.sorted()
}

/// Whether two files hold the same bytes (both missing counts as different).
public func sameContents(_ first: String, _ second: String) -> Bool {
    guard let a = FileManager.default.contents(atPath: first),
        let b = FileManager.default.contents(atPath: second)
    else { return false }
    return a == b
}

/// Every path below `root` (relative, sorted), found by walking it.
public func allFiles(under root: String, prefix: String = "") -> [String] {
    var found: [String] = []
    for name in directoryEntries(root) {
        let path = "\(root)/\(name)"
        let relative = prefix.isEmpty ? name : "\(prefix)/\(name)"
        var info = stat()
        guard lstat(path, &info) == 0 else { continue }
        if info.st_mode & S_IFMT == S_IFDIR {
            found += allFiles(under: path, prefix: relative)
        } else {
            found.append(relative)
        }
    }
    return found.sorted()
}

/// Deterministic pseudo-random bytes, so a failing copy can be reproduced.
public func pseudoRandomBytes(count: Int, seed: UInt64) -> [UInt8] {
    var state = seed &+ 0x9E37_79B9_7F4A_7C15
    var bytes = [UInt8](repeating: 0, count: count)
    for index in 0..<count {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        bytes[index] = UInt8(truncatingIfNeeded: state)
    }
    return bytes
}

/// Runs a shell command for test setup (mounts, permissions); returns its exit status.
@discardableResult
public func shell(_ command: String) -> Int32 {
    let status = system(command)
    return status == -1 ? -1 : (status >> 8) & 0xFF
}
