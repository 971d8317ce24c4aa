import Glibc
@testable import QuiesceCopy
import QuiesceTestSupport
import Testing

/// Nothing on the NAS is replaced by surprise: the copier's choice of name, file by file.
@Suite("Names taken on the NAS")
struct ConflictTests {
    let temp = TemporaryDirectory()
    var nas: String { temp.file("nas") }
    var copier: FileCopier { FileCopier(root: NASRoot(path: nas)) }

    init() {
        mkdir(temp.file("nas"), 0o755)
        mkdir(temp.file("camera-a"), 0o755)
        mkdir(temp.file("camera-b"), 0o755)
    }

    private func file(_ path: String, _ text: String) -> String {
        writeFile(temp.file(path), Array(text.utf8))
        return temp.file(path)
    }

    private func contents(_ name: String) -> String? {
        readFile("\(nas)/photos/\(name)").map { String(decoding: $0, as: UTF8.self) }
    }

    @Test("two cameras' IMG_0001.JPG: the second lands beside the first under a conflict name; the first is untouched")
    func twoCameras() throws {
        let first = try copier.copy(source: file("camera-a/IMG_0001.JPG", "beach"), destination: "photos", abort: AbortFlag())
        let second = try copier.copy(source: file("camera-b/IMG_0001.JPG", "mountain"), destination: "photos", abort: AbortFlag())
        #expect(first.outcome == .copied && first.name == "IMG_0001.JPG")
        #expect(second.outcome == .keptBoth)
        #expect(second.name == "IMG_0001 (conflict laptop 2026-11-30).JPG")
        #expect(contents("IMG_0001.JPG") == "beach")
        #expect(contents(second.name) == "mountain")
        #expect(allFiles(under: nas).count == 2, "no partial file left: \(allFiles(under: nas))")
    }

    @Test("a third file of that name the same day gets a numbered conflict name")
    func numbered() throws {
        _ = try copier.copy(source: file("camera-a/IMG_0001.JPG", "one"), destination: "photos", abort: AbortFlag())
        _ = try copier.copy(source: file("camera-b/IMG_0001.JPG", "two"), destination: "photos", abort: AbortFlag())
        mkdir(temp.file("camera-c"), 0o755)
        let third = try copier.copy(source: file("camera-c/IMG_0001.JPG", "three"), destination: "photos", abort: AbortFlag())
        #expect(third.name == "IMG_0001 (conflict laptop 2026-11-30 2).JPG")
        #expect(contents(third.name) == "three")
    }

    @Test("identical bytes under the name count as done: nothing is written, no conflict file")
    func identical() throws {
        mkdir("\(nas)/photos", 0o755)
        writeFile("\(nas)/photos/IMG_0001.JPG", Array("same".utf8))
        let result = try copier.copy(source: file("camera-a/IMG_0001.JPG", "same"), destination: "photos", abort: AbortFlag())
        #expect(result.outcome == .identical && result.name == "IMG_0001.JPG")
        #expect(allFiles(under: nas) == ["photos/IMG_0001.JPG"])
    }

    @Test("a partial name left as a second link to the landed file (an attempt cut off between link and unlink) is removed when the copy is found there; the file keeps its bytes")
    func staleLinkedPartial() throws {
        let first = try copier.copy(source: file("camera-a/IMG_0001.JPG", "same"), destination: "photos", abort: AbortFlag())
        #expect(first.outcome == .copied)
        // What a network NAS leaves when the copier dies between link(partial, final) and unlink(partial).
        #expect(link("\(nas)/photos/IMG_0001.JPG", "\(nas)/photos/\(NASRoot.partialName(for: "IMG_0001.JPG"))") == 0)
        let again = try copier.copy(source: temp.file("camera-a/IMG_0001.JPG"), destination: "photos", abort: AbortFlag())
        #expect(again.outcome == .identical)
        #expect(allFiles(under: nas) == ["photos/IMG_0001.JPG"], "the stale partial is gone")
        #expect(contents("IMG_0001.JPG") == "same")
    }

    @Test("a newer version of the file this agent wrote replaces it; one the user changed since is kept")
    func newerVersionOfOurs() throws {
        let source = file("camera-a/notes.txt", "version 1")
        let first = try copier.copy(source: source, destination: "photos", abort: AbortFlag())
        writeFile(source, Array("version 2".utf8))
        let second = try copier.copy(source: source, destination: "photos", abort: AbortFlag(), previous: first.landing)
        #expect(second.outcome == .replaced && second.name == "notes.txt")
        #expect(contents("notes.txt") == "version 2")

        // The user edits the copy on the NAS: it is no longer what the agent wrote.
        writeFile("\(nas)/photos/notes.txt", Array("edited on the NAS".utf8))
        writeFile(source, Array("version 3".utf8))
        let third = try copier.copy(source: source, destination: "photos", abort: AbortFlag(), previous: second.landing)
        #expect(third.outcome == .keptBoth)
        #expect(contents("notes.txt") == "edited on the NAS")
        #expect(contents(third.name) == "version 3")
    }

    @Test("the newer version of a copy that landed under a conflict name replaces that copy, not the other file")
    func newerVersionOfAConflictCopy() throws {
        _ = try copier.copy(source: file("camera-a/IMG_0001.JPG", "beach"), destination: "photos", abort: AbortFlag())
        let source = file("camera-b/IMG_0001.JPG", "mountain")
        let beside = try copier.copy(source: source, destination: "photos", abort: AbortFlag())
        writeFile(source, Array("mountain, retouched".utf8))
        let again = try copier.copy(source: source, destination: "photos", abort: AbortFlag(), previous: beside.landing)
        #expect(again.outcome == .replaced && again.name == beside.name)
        #expect(contents("IMG_0001.JPG") == "beach")
        #expect(contents(beside.name) == "mountain, retouched")
        #expect(allFiles(under: nas).count == 2)
    }

    @Test("on_conflict replace replaces; fail keeps both files where they are and is not retried")
    func policies() throws {
        mkdir("\(nas)/photos", 0o755)
        writeFile("\(nas)/photos/IMG_0001.JPG", Array("theirs".utf8))
        #expect(throws: CopyError.conflict(path: "\(nas)/photos/IMG_0001.JPG")) {
            _ = try copier.copy(
                source: file("camera-a/IMG_0001.JPG", "ours"), destination: "photos", abort: AbortFlag(), onConflict: .fail)
        }
        #expect(!CopyError.conflict(path: "x").isRetryable)
        #expect(allFiles(under: nas) == ["photos/IMG_0001.JPG"], "nothing written, no partial left")
        #expect(contents("IMG_0001.JPG") == "theirs")

        let replaced = try copier.copy(
            source: temp.file("camera-a/IMG_0001.JPG"), destination: "photos", abort: AbortFlag(), onConflict: .replace)
        #expect(replaced.outcome == .replaced)
        #expect(contents("IMG_0001.JPG") == "ours")
    }

    @Test("a directory with the file's name is kept; the copy lands beside it")
    func directoryInTheWay() throws {
        mkdir("\(nas)/photos", 0o755)
        mkdir("\(nas)/photos/IMG_0001.JPG", 0o755)
        let result = try copier.copy(source: file("camera-a/IMG_0001.JPG", "x"), destination: "photos", abort: AbortFlag())
        #expect(result.outcome == .keptBoth)
        #expect(contents(result.name) == "x")
    }

    @Test("conflict names keep the extension, handle dot files and names without one, and stay within 255 bytes")
    func conflictNames() {
        let tag = ConflictTag(host: "laptop", date: "2026-11-30")
        #expect(tag.name(for: "IMG_0001.JPG", attempt: 1) == "IMG_0001 (conflict laptop 2026-11-30).JPG")
        #expect(tag.name(for: "archive.tar.gz", attempt: 3) == "archive.tar (conflict laptop 2026-11-30 3).gz")
        #expect(tag.name(for: ".bashrc", attempt: 1) == ".bashrc (conflict laptop 2026-11-30)")
        #expect(tag.name(for: "README", attempt: 1) == "README (conflict laptop 2026-11-30)")
        let long = String(repeating: "é", count: 120) + ".jpeg"
        let named = tag.name(for: long, attempt: 1)
        #expect(named.utf8.count <= 255 && named.hasSuffix(" (conflict laptop 2026-11-30).jpeg"))
    }
}
