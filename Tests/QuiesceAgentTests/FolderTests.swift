import Foundation
import QuiesceDBus
import QuiesceInterface
import QuiesceTestSupport
import QuiesceTorture
import Testing

/// Folders in the queue: `agentctl sync add FOLDER` as a new user types it, against the real agent.
/// Serialized: two 100,000-file trees made at once slow every fsync on the machine.
@Suite("Folders in the queue", .serialized)
struct FolderTests {
    private func rig() async throws -> (NotificationMock, AgentHarness, String) {
        let mock = try await NotificationMock()
        let harness = try await AgentHarness(busAddress: mock.bus.address, owner: mock)
        let nas = harness.home.file("nas")
        try FileManager.default.createDirectory(atPath: nas, withIntermediateDirectories: true)
        return (mock, harness, nas)
    }

    /// Every job, page by page (newest first).
    private func jobs(_ harness: AgentHarness) async throws -> [[DBusValue]] {
        var all: [[DBusValue]] = []
        while true {
            var filter: [String: DBusValue] = ["limit": .uint32(10_000)]
            if let last = all.last?.first?.uint64 { filter["before"] = .uint64(last) }
            let page = (try await harness.call(.listJobs, [.vardict(filter)]).first?.array ?? []).compactMap(\.fields)
            all += page
            if page.count < 10_000 { return all }
        }
    }

    /// Regular files below `root`, as relative paths.
    private func files(under root: String) -> Set<String> {
        var found: Set<String> = []
        guard let walker = FileManager.default.enumerator(atPath: root) else { return found }
        while let relative = walker.nextObject() as? String {
            var info = stat()
            if lstat(root + "/" + relative, &info) == 0, info.st_mode & S_IFMT == S_IFREG { found.insert(relative) }
        }
        return found
    }

    @Test("a folder tree (nested, spaces, non-ASCII, an empty folder) is copied file for file; links, a loop and a FIFO are skipped and listed")
    func treeIsCopied() async throws {
        let (_, harness, nas) = try await rig()
        let agent = try await harness.start(["--nas-root", nas])
        let tree = harness.home.file("Pictures/2026")
        for folder in ["", "/Summer holiday", "/Summer holiday/Île de Ré", "/empty", "/a/b/c"] {
            try FileManager.default.createDirectory(atPath: tree + folder, withIntermediateDirectories: true)
        }
        writeFile(tree + "/IMG 0001.JPG", pseudoRandomBytes(count: 200_000, seed: 1))
        writeFile(tree + "/Summer holiday/plage.jpg", pseudoRandomBytes(count: 50_000, seed: 2))
        writeFile(tree + "/Summer holiday/Île de Ré/phare été.heic", pseudoRandomBytes(count: 70_000, seed: 3))
        writeFile(tree + "/a/b/c/deep.txt", Array("deep".utf8))
        writeFile(harness.home.file("outside.txt"), Array("outside".utf8))
        symlink(tree, tree + "/a/loop")
        symlink(harness.home.file("outside.txt"), tree + "/a/out")
        mkfifo(tree + "/a/pipe", 0o600)

        let added = try await harness.ctl(["sync", "add", tree, "--to", "photos"])
        #expect(added.status == 0, "\(added.error)")
        #expect(added.output.contains("queued 4 files"), "\(added.output)")
        #expect(added.output.contains("3 skipped"), "\(added.output)")
        for skipped in ["a/loop: a symbolic link", "a/out: a symbolic link", "a/pipe: a FIFO"] {
            #expect(added.error.contains(skipped), "skipped \(skipped) listed: \(added.error)")
        }
        try await eventually("all copied", limit: .seconds(30)) { try await jobs(harness).allSatisfy { $0[3].string == "done" } }
        #expect(files(under: nas + "/photos/2026") == files(under: tree), "the NAS tree is the source tree, file for file")
        for file in files(under: tree) {
            #expect(sameContents(tree + "/" + file, nas + "/photos/2026/" + file), "\(file)")
        }
        #expect(!exists(nas + "/photos/2026/a/out") && !exists(nas + "/photos/outside.txt"), "nothing outside the tree")
        #expect(try await harness.ctl(["quit"]).status == 0)
        #expect(await agent.exitStatus() == 0)
    }

    @Test("each wrong source gets its own error saying what to do, and nothing is queued")
    func messages() async throws {
        let (_, harness, nas) = try await rig()
        let agent = try await harness.start(["--nas-root", nas], obeyingPermissions: true)
        let folder = harness.home.file("folder")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        writeFile(folder + "/a.txt", [1])
        let secret = harness.home.file("secret.txt")
        writeFile(secret, [2])
        chmod(secret, 0)
        mkfifo(harness.home.file("pipe"), 0o600)

        let cases: [(arguments: [String], status: Int32, says: String)] = [
            (["sync", "add", harness.home.file("missing.txt")], 1, "NotFound: \(harness.home.file("missing.txt")): no such file or folder; check the path"),
            (["sync", "add", "--no-recursive", folder], 1, "is a folder; to copy it with everything in it, pass the option recursive"),
            (["sync", "add", secret], 1, "cannot read the file \(secret) (Permission denied)"),
            (["sync", "add", harness.home.file("pipe")], 1, "is a FIFO, not a file or folder"),
            // One bad source among good ones: nothing is queued.
            (["sync", "add", folder + "/a.txt", harness.home.file("missing.txt")], 1, "no such file or folder"),
        ]
        for (arguments, status, says) in cases {
            let result = try await harness.ctl(arguments)
            #expect(result.status == status, "\(arguments): \(result.error)")
            #expect(result.error.contains(says), "\(arguments): \(result.error)")
        }
        #expect(try await jobs(harness).isEmpty, "nothing queued")
        #expect(try await harness.ctl(["quit"]).status == 0)
        #expect(await agent.exitStatus() == 0)
    }

    @Test("an unreadable subfolder is reported and skipped, the rest of the folder is queued")
    func unreadableSubfolder() async throws {
        let (_, harness, nas) = try await rig()
        let agent = try await harness.start(["--nas-root", nas], obeyingPermissions: true)
        let tree = harness.home.file("docs")
        try FileManager.default.createDirectory(atPath: tree + "/private", withIntermediateDirectories: true)
        writeFile(tree + "/open.txt", [1])
        writeFile(tree + "/private/hidden.txt", [2])
        chmod(tree + "/private", 0)
        defer { chmod(tree + "/private", 0o755) }
        let added = try await harness.ctl(["sync", "add", tree])
        #expect(added.status == 0, "\(added.error)")
        #expect(added.output.contains("queued 1 file") && added.output.contains("1 skipped"), "\(added.output)")
        #expect(added.error.contains("private: cannot read the folder: Permission denied"), "\(added.error)")
        try await eventually("copied") { try await jobs(harness).first?[3].string == "done" }
        #expect(exists(nas + "/docs/open.txt"))
        #expect(try await harness.ctl(["quit"]).status == 0)
        #expect(await agent.exitStatus() == 0)
    }

    /// `count` empty files in `folder`/dNNN subfolders of 1,000; returns their paths.
    @discardableResult
    private func manyFiles(_ count: Int, in folder: String) throws -> Set<String> {
        mkdir(folder, 0o755)
        var paths: Set<String> = []
        for index in 0..<count {
            let directory = folder + "/d\(index / 1000)"
            if index % 1000 == 0 { mkdir(directory, 0o755) }
            let path = directory + "/f\(index).txt"
            let descriptor = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0o644)
            guard descriptor >= 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
            close(descriptor)
            paths.insert(path)
        }
        return paths
    }

    @Test("a quit during a 100,000-file walk proceeds at once: the walk stops between two transactions, what it committed stays queued", .enabled(if: canMount))
    func quitDuringWalk() async throws {
        let (_, harness, nas) = try await rig()
        let agent = try await harness.start(["--nas-root", nas])
        _ = try await harness.call(.pauseSync)
        // On a tmpfs: 100,000 files made on this machine's disk take a minute of kernel time.
        let disk = try TmpfsMount(kilobytes: 256 * 1024)
        let tree = disk.path + "/big"
        try manyFiles(100_000, in: tree)
        // Each directory read returns 5 ms late: the walk takes seconds, not a tenth of one.
        let slow = try await SlowSyscall(pid: agent.pid, call: "getdents64", delay: .milliseconds(5))
        defer { slow.stop() }
        async let added = harness.ctl(["sync", "add", tree])
        try await eventually("the walk under way") { try await harness.property(.queuedJobs).flatMap(\.uint32) ?? 0 > 0 }
        let quit = try await harness.ctl(["quit"])
        #expect(quit.status == 0, "a clean quit, not one forced at the end of the window: \(quit.error)")
        #expect(await agent.exitStatus() == 0)
        let cut = try await added
        #expect(cut.status == 1 && cut.error.contains("the agent is stopping:"), "\(cut.error)")
        let queued = try DatabaseProbe(path: harness.databasePath).jobs()
        #expect(queued.count < 100_000, "the walk was cut short")
        #expect(queued.count % 10_000 == 0, "whole transactions only: \(queued.count)")
        #expect(Set(queued.map(\.source)).count == queued.count, "each file once")
        #expect(cut.error.contains("\(queued.count) files of"), "the message counts what was queued: \(cut.error)")
    }

    @Test("SIGKILL during a large walk leaves whole transactions: every file queued once, and giving the folder again completes it", .enabled(if: canMount))
    func killDuringWalk() async throws {
        let (_, harness, nas) = try await rig()
        var agent = try await harness.start(["--nas-root", nas])
        _ = try await harness.call(.pauseSync)
        let disk = try TmpfsMount(kilobytes: 256 * 1024)
        let tree = disk.path + "/big"
        let expected = try manyFiles(50_000, in: tree)
        let slow = try await SlowSyscall(pid: agent.pid, call: "getdents64", delay: .milliseconds(5))
        async let added = harness.ctl(["sync", "add", tree])
        try await eventually("the walk under way") { try await harness.property(.queuedJobs).flatMap(\.uint32) ?? 0 > 0 }
        agent.signal(SIGKILL)
        _ = await agent.exitStatus()
        slow.stop()
        #expect(try await added.status == 1)
        let after = try DatabaseProbe(path: harness.databasePath).jobs()
        #expect(after.count % 10_000 == 0 && after.count < 50_000, "whole transactions: \(after.count)")
        #expect(Set(after.map(\.source)).count == after.count, "each file once")

        agent = try await harness.start(["--nas-root", nas])
        let again = try await harness.ctl(["sync", "add", tree])
        #expect(again.status == 0, "\(again.error)")
        #expect(again.output.contains("queued 50000 files"), "\(again.output)")
        #expect(try await harness.ctl(["quit"]).status == 0)
        #expect(await agent.exitStatus() == 0)
        let all = try DatabaseProbe(path: harness.databasePath).jobs()
        #expect(all.count == after.count + 50_000)
        #expect(Set(all.map(\.source)) == expected, "every file of the folder is queued")
    }
}
