import Foundation
import QuiesceDBus
import QuiesceInterface
import QuiesceSpawn
import QuiesceTestSupport
import Testing

/// The NAS as users have it: a network filesystem (sshfs over OpenSSH's sshd on 127.0.0.1) that
/// is slow, drops and hangs. Serialized: each test runs its own sshd and sshfs, and 2 cores are
/// better spent on one at a time.
@Suite("A network NAS", .serialized)
struct NetworkNASTests {
    private func rig() async throws -> (NetworkNAS, NotificationMock, AgentHarness) {
        let nas = try await NetworkNAS()
        let mock = try await NotificationMock()
        let harness = try await AgentHarness(busAddress: mock.bus.address, owner: mock)
        return (nas, mock, harness)
    }

    /// A sparse file of `size` bytes with some data in it: quick to make, copied like any other.
    private func bigFile(_ path: String, size: Int64) throws {
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        let handle = try #require(FileHandle(forWritingAtPath: path))
        for offset in stride(from: Int64(0), to: size, by: 64 << 20) {
            try handle.seek(toOffset: UInt64(offset))
            handle.write(Data(pseudoRandomBytes(count: 4096, seed: UInt64(offset))))
        }
        try handle.truncate(atOffset: UInt64(size))
        try handle.close()
    }

    private func jobs(_ harness: AgentHarness) async throws -> [[DBusValue]] {
        (try await harness.call(.listJobs, [.vardict([:])]).first?.array ?? []).compactMap(\.fields)
    }

    @Test("copies reach the server byte for byte, a second file of one name lands beside the first, and nothing partial is left")
    func copiesOverSSHFS() async throws {
        let (nas, _, harness) = try await rig()
        let agent = try await harness.start(["--nas-root", nas.mount])
        let sources = harness.home.file("camera")
        try FileManager.default.createDirectory(atPath: sources + "/b", withIntermediateDirectories: true)
        writeFile(sources + "/IMG_0001.JPG", pseudoRandomBytes(count: 3 << 20, seed: 1))
        writeFile(sources + "/b/IMG_0001.JPG", pseudoRandomBytes(count: 1 << 20, seed: 2))
        writeFile(sources + "/notes é.txt", Array("hello".utf8))
        for path in [sources + "/IMG_0001.JPG", sources + "/notes é.txt", sources + "/b/IMG_0001.JPG"] {
            #expect(try await harness.ctl(["sync", "add", path, "--to", "photos/2026"]).status == 0)
        }
        try await eventually("all three copied", limit: .seconds(60)) {
            try await jobs(harness).allSatisfy { $0[3].string == "done" }
        }
        let server = nas.export + "/photos/2026"
        #expect(sameContents(server + "/IMG_0001.JPG", sources + "/IMG_0001.JPG"))
        #expect(sameContents(server + "/notes é.txt", sources + "/notes é.txt"))
        let beside = try #require(try await jobs(harness).first { $0[1].string == sources + "/b/IMG_0001.JPG" }?[8].string)
        #expect(beside.hasPrefix("IMG_0001 (conflict "))
        #expect(sameContents(server + "/" + beside, sources + "/b/IMG_0001.JPG"))
        #expect(allFiles(under: nas.export).count == 3, "\(allFiles(under: nas.export))")
        let list = try await harness.ctl(["sync", "list"])
        #expect(list.output.contains("a different file had its name on the NAS and was kept"), "\(list.output)")
        #expect(try await harness.ctl(["quit"]).status == 0)
        #expect(await agent.exitStatus() == 0)
    }

    @Test("the server stops answering mid-copy: a force quit still ends the agent (exit 3), and the job completes once the NAS answers")
    func hungServerDoesNotHoldTheAgent() async throws {
        let (nas, _, harness) = try await rig()
        let agent = try await harness.start(["--nas-root", nas.mount])
        let source = harness.home.file("disk.img")
        try bigFile(source, size: 400 << 20)
        #expect(try await harness.ctl(["sync", "add", source, "--to", "images"]).status == 0)
        try await eventually("the copy under way on the server", limit: .seconds(30)) {
            let partial = nas.export + "/images/.disk.img.quiesce-partial"
            return ((try? FileManager.default.attributesOfItem(atPath: partial)[.size] as? Int) ?? 0) > 0
        }
        try await nas.hang()
        // The copier is now held in the kernel by the NAS. The agent is not.
        #expect(try await harness.ctl(["quit", "--force"]).status == 3)
        #expect(await agent.exitStatus() == 3)
        #expect(harness.log.contains("back in the queue"), "\(harness.log)")

        try await nas.unhang()
        let again = try await harness.start(["--nas-root", nas.mount])
        try await eventually("the job copied once the NAS answers", limit: .seconds(120)) {
            try await jobs(harness).first?[3].string == "done"
        }
        #expect(sameContents(nas.export + "/images/disk.img", source))
        #expect(allFiles(under: nas.export) == ["images/disk.img"], "no partial file left: \(allFiles(under: nas.export))")
        #expect(try await harness.ctl(["quit"]).status == 0)
        #expect(await again.exitStatus() == 0)
    }

    @Test("the server goes away: jobs wait saying the NAS is unreachable, count no attempt, and copy when it is back")
    func lostServerWaits() async throws {
        let (nas, _, harness) = try await rig()
        let agent = try await harness.start(["--nas-root", nas.mount])
        try await nas.killServer()
        let sources = (1...3).map { harness.home.file("scan-\($0).pdf") }
        for (index, path) in sources.enumerated() { writeFile(path, pseudoRandomBytes(count: 100_000, seed: UInt64(index))) }
        #expect(try await harness.ctl(["sync", "add"] + sources + ["--to", "scans"]).status == 0)
        try await eventually("status saying the NAS is unreachable", limit: .seconds(30)) {
            try await harness.ctl(["status"]).output.contains("unreachable")
        }
        // A copy that had started before the worker knew (two run at once) may still be failing:
        // in flight for a moment, then back in the queue. What must hold: every job ends up
        // waiting in the queue, and none has an attempt counted.
        try await eventually("every job back in the queue", limit: .seconds(30)) {
            try await jobs(harness).allSatisfy { $0[3].string == "queued" }
        }
        let waiting = try await jobs(harness)
        #expect(
            waiting.allSatisfy { $0[3].string == "queued" && $0[4].uint32 == 0 },
            "no attempt counted: \(waiting); the agent's log: \(harness.log.suffix(3000))")

        try await nas.restartServer()
        try await eventually("copied once the NAS is back", limit: .seconds(60)) {
            try await jobs(harness).allSatisfy { $0[3].string == "done" }
        }
        for path in sources {
            #expect(sameContents(nas.export + "/scans/" + (path as NSString).lastPathComponent, path))
        }
        #expect(try await harness.ctl(["quit"]).status == 0)
        #expect(await agent.exitStatus() == 0)
    }

    @Test("a file over 1 GiB copies to sshfs byte for byte, the copier's memory staying bounded")
    func largeFileBoundedMemory() async throws {
        let nas = try await NetworkNAS()
        let home = TemporaryDirectory("quiesce-large")
        let source = home.file("video.mkv")
        try bigFile(source, size: (1 << 30) + 12345)
        let stdin = try Spawn.pipe()
        let output = try Spawn.pipe()
        let arguments = [
            "copy", "--root", nas.mount, "--destination", "videos", "--source", source, "--on-conflict", "keep-both",
            "--host", "test", "--date", "2026-11-30", "--require-mount", "no",
        ]
        let pid = try Spawn.start(
            builtProduct("quiesce-copy"), arguments, environment: [:], stdin: .descriptor(stdin.read),
            stdout: .descriptor(output.write), stderr: .inherit)
        close(stdin.read)
        close(output.write)
        defer { close(stdin.write) }
        var peak = 0
        let exited = Task { await Spawn.waitForExit(pid) }
        while let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8), !status.contains("State:\tZ") {
            if let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
                let kilobytes = Int(line.split(separator: " ").dropFirst().first ?? "")
            {
                peak = max(peak, kilobytes)
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        #expect(await exited.value == 0)
        let reply = FileHandle(fileDescriptor: output.read, closeOnDealloc: true).readDataToEndOfFile()
        #expect(String(decoding: reply, as: UTF8.self).hasPrefix("copied\0"), "\(String(decoding: reply, as: UTF8.self))")
        #expect(sameContents(nas.export + "/videos/video.mkv", source))
        #expect(peak > 0 && peak < 64 * 1024, "peak resident memory \(peak) kB for a 1 GiB copy")
    }
}
