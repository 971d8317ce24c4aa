import Glibc
@testable import QuiesceCopy
import QuiesceTestSupport
import Testing

@Suite("Copying into the NAS root")
struct CopierTests {
    let temp = TemporaryDirectory()
    var nas: String { temp.file("nas") }
    var copier: FileCopier { FileCopier(root: NASRoot(path: nas)) }

    init() {
        mkdir(temp.file("nas"), 0o755)
        mkdir(temp.file("src"), 0o755)
    }

    private func source(_ name: String, bytes: [UInt8]) -> String {
        let path = temp.file("src/\(name)")
        writeFile(path, bytes)
        return path
    }

    @Test("a file is copied under its own name, verified, and no partial is left")
    func copiesAndVerifies() throws {
        let bytes = pseudoRandomBytes(count: 3 * FileCopier.chunkSize + 12345, seed: 1)
        let path = source("report.pdf", bytes: bytes)
        let result = try copier.copy(source: path, destination: "docs/2026", abort: AbortFlag())
        #expect(result.size == Int64(bytes.count))
        var hash = XXH64()
        hash.update(bytes)
        #expect(result.checksum == hash.hexDigest())
        let same = readFile("\(nas)/docs/2026/report.pdf") == bytes
        #expect(same)
        #expect(allFiles(under: nas) == ["docs/2026/report.pdf"])
    }

    @Test("the kernel copy and the read/write fallback (across filesystems) give the same file and checksum")
    func bothCopyPaths() throws {
        let bytes = pseudoRandomBytes(count: 2 * FileCopier.chunkSize + 777, seed: 5)
        let path = source("both.bin", bytes: bytes)
        let kernel = try FileCopier(root: NASRoot(path: nas), kernelCopy: true).copy(source: path, destination: "k", abort: AbortFlag())
        let manual = try FileCopier(root: NASRoot(path: nas), kernelCopy: false).copy(source: path, destination: "m", abort: AbortFlag())
        #expect(kernel == manual)
        #expect(sameContents("\(nas)/k/both.bin", path))
        #expect(sameContents("\(nas)/m/both.bin", path))
    }

    @Test("the agent's own earlier copy is replaced atomically by a newer version, and an empty file copies too")
    func replacesAndEmpty() throws {
        let first = try copier.copy(source: source("a.txt", bytes: Array("old".utf8)), destination: "", abort: AbortFlag())
        let second = try copier.copy(
            source: source("a.txt", bytes: Array("new contents".utf8)), destination: "", abort: AbortFlag(), previous: first.landing)
        #expect(second.outcome == .replaced && second.name == "a.txt")
        #expect(readFile("\(nas)/a.txt") == Array("new contents".utf8))
        let empty = try copier.copy(source: source("empty", bytes: []), destination: "", abort: AbortFlag())
        #expect(empty.size == 0)
        #expect(allFiles(under: nas) == ["a.txt", "empty"])
    }

    @Test("'..' and absolute destinations are refused and nothing is written")
    func dotDotAndAbsolute() throws {
        let path = source("x.txt", bytes: [1, 2, 3])
        for destination in ["../escape", "a/../../escape", "/tmp"] {
            #expect {
                _ = try copier.copy(source: path, destination: destination, abort: AbortFlag())
            } throws: { error in
                guard case .escapesRoot = error as? CopyError else { return false }
                return !(error as! CopyError).isRetryable
            }
        }
        #expect(!exists(temp.file("escape")))
        #expect(allFiles(under: nas).filter { !$0.hasSuffix("/") }.allSatisfy { !$0.contains("x.txt") })
    }

    @Test("a symbolic link in the destination that leaves the root is refused; nothing lands outside")
    func symlinkEscape() throws {
        mkdir(temp.file("outside"), 0o755)
        symlink(temp.file("outside"), "\(nas)/photos")
        mkdir("\(nas)/real", 0o755)
        symlink(temp.file("outside"), "\(nas)/real/deeper")
        let path = source("secret.txt", bytes: Array("data".utf8))
        for destination in ["photos", "photos/2026", "real/deeper"] {
            var thrown: CopyError?
            do { _ = try copier.copy(source: path, destination: destination, abort: AbortFlag()) } catch { thrown = error }
            guard case .escapesRoot(_, _, let reason) = thrown else {
                Issue.record("expected escapesRoot for \(destination), got \(String(describing: thrown))")
                continue
            }
            #expect(reason == "is a symbolic link")
        }
        #expect(directoryEntries(temp.file("outside")).isEmpty, "nothing was written through the links")
    }

    @Test("a link at the target or partial name is never written through; the one at the target is kept")
    func linksAtTheFileNames() throws {
        mkdir(temp.file("outside"), 0o755)
        writeFile(temp.file("outside/victim"), Array("keep me".utf8))
        symlink(temp.file("outside/victim"), "\(nas)/notes.txt")
        symlink(temp.file("outside/victim"), "\(nas)/.notes.txt.quiesce-partial")
        let result = try copier.copy(source: source("notes.txt", bytes: Array("mine".utf8)), destination: "", abort: AbortFlag())
        #expect(readFile(temp.file("outside/victim")) == Array("keep me".utf8))
        #expect(result.outcome == .keptBoth && result.name == "notes (conflict laptop 2026-11-30).txt")
        #expect(readFile("\(nas)/\(result.name)") == Array("mine".utf8))
        var info = stat()
        lstat("\(nas)/notes.txt", &info)
        #expect(info.st_mode & S_IFMT == S_IFLNK, "the user's link is left as it was")
    }

    @Test("a missing NAS root is reported as such and can be retried")
    func missingRoot() throws {
        let gone = FileCopier(root: NASRoot(path: temp.file("not-mounted")))
        #expect {
            _ = try gone.copy(source: source("a", bytes: [1]), destination: "", abort: AbortFlag())
        } throws: { error in
            guard case .nasRootUnavailable = error as? CopyError else { return false }
            return (error as! CopyError).isRetryable
        }
    }

    @Test("an unreadable source is retryable; a directory is not a file")
    func badSources() throws {
        #expect {
            _ = try copier.copy(source: temp.file("src/vanished.txt"), destination: "", abort: AbortFlag())
        } throws: { error in
            guard case .sourceUnreadable = error as? CopyError else { return false }
            return (error as! CopyError).isRetryable
        }
        #expect(throws: CopyError.sourceNotAFile(path: temp.file("src"))) {
            _ = try copier.copy(source: temp.file("src"), destination: "", abort: AbortFlag())
        }
    }

    @Test("an aborted copy removes its partial file and leaves no target")
    func abortRemovesPartial() throws {
        let abort = AbortFlag()
        abort.raise()
        #expect(throws: CopyError.aborted) {
            _ = try copier.copy(source: source("big.iso", bytes: pseudoRandomBytes(count: 100_000, seed: 2)), destination: "iso", abort: abort)
        }
        #expect(directoryEntries("\(nas)/iso").isEmpty)
    }

    @Test("a full disk (ENOSPC on a small tmpfs) fails retryably and leaves no partial file", .enabled(if: canMount))
    func diskFull() throws {
        let mount = try TmpfsMount(kilobytes: 512)
        let small = FileCopier(root: NASRoot(path: mount.path))
        #expect(throws: CopyError.noSpace(path: "\(mount.path)/big.bin")) {
            _ = try small.copy(source: source("big.bin", bytes: pseudoRandomBytes(count: 2 << 20, seed: 3)), destination: "", abort: AbortFlag())
        }
        #expect(directoryEntries(mount.path).isEmpty, "the partial file was removed")
        #expect(CopyError.noSpace(path: "x").isRetryable)
    }

    @Test("a read-only NAS root fails retryably", .enabled(if: canMount))
    func readOnlyRoot() throws {
        let mount = try TmpfsMount(kilobytes: 512, readOnly: true)
        #expect {
            _ = try FileCopier(root: NASRoot(path: mount.path)).copy(source: source("a.txt", bytes: [1]), destination: "", abort: AbortFlag())
        } throws: { error in
            guard case .nasReadOnly = error as? CopyError else { return false }
            return (error as! CopyError).isRetryable
        }
    }
}

extension FileCopier {
    /// A copy as the worker asks for one, with a fixed conflict tag.
    func copy(
        source: String, destination: String, abort: AbortFlag, previous: Landing? = nil, onConflict: ConflictPolicy = .keepBoth
    ) throws(CopyError) -> CopyResult {
        try copy(
            CopyRequest(
                source: source, destination: destination, onConflict: onConflict, previous: previous,
                tag: ConflictTag(host: "laptop", date: "2026-11-30")),
            abort: abort)
    }
}
