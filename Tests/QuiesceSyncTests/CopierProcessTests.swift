import Glibc
@testable import QuiesceCopy
import QuiesceSpawn
@testable import QuiesceSync
import QuiesceTestSupport
import Testing

/// The copy in a child process: what it answers, and that it can always be let go of.
@Suite("The copier process")
struct CopierProcessTests {
    let temp = TemporaryDirectory()
    let executable = builtProduct("quiesce-copy")
    var copier: Copier { .process(executable: executable, grace: .milliseconds(200)) }

    init() {
        mkdir(temp.file("nas"), 0o755)
        mkdir(temp.file("src"), 0o755)
    }

    private func request(_ source: String, into destination: String = "") -> CopierRequest {
        .copy(
            root: temp.file("nas"),
            request: CopyRequest(source: source, destination: destination, tag: ConflictTag(host: "laptop", date: "2026-11-30")),
            requireMount: false, localDirectory: nil, kernelCopy: true)
    }

    @Test("a copy through the child gives the same file and result as one in this process")
    func copiesLikeInProcess() async throws {
        let bytes = pseudoRandomBytes(count: 3 * FileCopier.chunkSize + 99, seed: 7)
        writeFile(temp.file("src/a.bin"), bytes)
        let reply = await copier.run(request(temp.file("src/a.bin"), into: "child"), abort: AbortFlag())
        let local = await Copier.inProcess.run(request(temp.file("src/a.bin"), into: "local"), abort: AbortFlag())
        guard case .copied(let child) = reply, case .copied(let mine) = local else {
            Issue.record("expected two copies, got \(reply) and \(local)")
            return
        }
        #expect(child == mine)
        #expect(readFile(temp.file("nas/child/a.bin")) == bytes)
    }

    @Test("errors cross the process boundary intact")
    func errorsCross() async throws {
        let reply = await copier.run(request(temp.file("src/missing.txt")), abort: AbortFlag())
        guard case .failed(.sourceUnreadable(let path, let reason)) = reply else {
            Issue.record("expected sourceUnreadable, got \(reply)")
            return
        }
        #expect(path == temp.file("src/missing.txt") && reason == "No such file or directory")
        let gone = await copier.run(.check(root: temp.file("not-there"), requireMount: false, localDirectory: nil), abort: AbortFlag())
        #expect(gone == .failed(.nasRootUnavailable(path: temp.file("not-there"), reason: "No such file or directory")))
    }

    @Test("every reply survives encoding: results and each kind of error")
    func wireRoundTrip() {
        let landing = Landing(name: "a (conflict h d).txt", size: 12, checksum: "xxh64:0123456789abcdef")
        let errors: [CopyError] = [
            .nasRootNotConfigured, .nasRootUnavailable(path: "/n", reason: "r"), .nasRootNotMounted(path: "/n", sameAs: "/"),
            .nasReadOnly(path: "/n", reason: "r"), .noSpace(path: "/n/a"), .escapesRoot(destination: "d", component: "c", reason: "r"),
            .sourceUnreadable(path: "/s", reason: "r"), .sourceNotAFile(path: "/s"), .sourceChanged(path: "/s"),
            .verificationFailed(path: "/p", expected: "e", found: "f"), .destinationIsDirectory(path: "/p"),
            .io(operation: "o", path: "/p\twith tab\nand newline", reason: "r"), .conflict(path: "/p"),
            .nasUnreachable(path: "/n", reason: "r"), .nasNotAnswering(path: "/n", seconds: 10),
            .notDurable(path: "/p", reason: "r", landed: landing), .copierFailed(reason: "r"), .aborted,
        ]
        for error in errors {
            #expect(CopierReply(decoding: CopierReply.failed(error).encoded) == .failed(error))
        }
        let result = CopyResult(size: 5, checksum: "xxh64:0000000000000001", name: "ü b.txt", outcome: .keptBoth)
        #expect(CopierReply(decoding: CopierReply.copied(result).encoded) == .copied(result))
        #expect(CopierReply(decoding: CopierReply.fine.encoded) == .fine)
        #expect(CopierReply(decoding: Array("copied\0".utf8)) == nil, "a reply cut short is not taken for an answer")
        let copy = request("/src/a b.txt", into: "x/y")
        #expect(CopierRequest(arguments: copy.arguments) == copy)
    }

    @Test("a copy stuck in the kernel is abandoned: told to stop, killed after the grace, answered aborted")
    func stuckCopyIsAbandoned() async throws {
        // Opening a FIFO for reading blocks until a writer comes: the child sits in open(2), and
        // SIGTERM does not get it out (glibc restarts the call), as with a NAS that stopped answering.
        mkfifo(temp.file("src/stuck.fifo"), 0o600)
        let abort = AbortFlag()
        let copier = self.copier
        let stuck = request(temp.file("src/stuck.fifo"))
        async let reply = copier.run(stuck, abort: abort)
        // This test's copier is the child of ours whose arguments name this FIFO (other tests of
        // the same process start copiers of their own meanwhile).
        var found: Int32?
        try await eventually("the child is blocked opening the FIFO") {
            found = childPID(of: getpid(), withArgument: temp.file("src/stuck.fifo"))
            return found != nil
        }
        let pid = try #require(found)
        abort.raise()
        #expect(await reply == .failed(.aborted))
        try await eventually("the child is gone") { kill(pid, 0) != 0 }
    }

    @Test("a root check that gets no answer is abandoned as not answering")
    func checkTimesOut() async throws {
        let script = temp.file("silent.sh")
        writeFile(script, Array("#!/bin/sh\nexec sleep 600\n".utf8))
        chmod(script, 0o755)
        let silent = Copier.process(executable: script, grace: .milliseconds(100))
        let reply = await silent.run(.check(root: "/nas", requireMount: false, localDirectory: nil), abort: AbortFlag(), timeout: .milliseconds(300))
        #expect(reply == .failed(.nasNotAnswering(path: "/nas", seconds: 0)))
    }

    @Test("a child that ends without answering is a failed copy, not a success; one that cannot start says why")
    func childWithoutAnswer() async throws {
        let script = temp.file("crash.sh")
        writeFile(script, Array("#!/bin/sh\nexit 9\n".utf8))
        chmod(script, 0o755)
        let crashed = await Copier.process(executable: script).run(request("/src/a"), abort: AbortFlag())
        #expect(crashed == .failed(.copierFailed(reason: "it ended (exit status 9) without saying how the copy went")))
        let missing = await Copier.process(executable: temp.file("nope")).run(request("/src/a"), abort: AbortFlag())
        guard case .failed(.copierFailed(let reason)) = missing else {
            Issue.record("expected copierFailed, got \(missing)")
            return
        }
        #expect(reason.contains("No such file or directory"))
    }

    @Test("the child kills itself when the agent is gone (its standard input closes), even while stuck in a call")
    func diesWithTheAgent() async throws {
        mkfifo(temp.file("src/stuck.fifo"), 0o600)
        let stdin = try Spawn.pipe()
        let arguments = request(temp.file("src/stuck.fifo")).arguments
        let pid = try Spawn.start(executable, arguments, environment: [:], stdin: .descriptor(stdin.read), stderr: .inherit)
        close(stdin.read)
        try await eventually("the child is blocked opening the FIFO") { processState(pid) == "S" }
        close(stdin.write)
        #expect(await Spawn.waitForExit(pid) == 128 + SIGKILL)
    }
}

/// The pid of a child of `parent` one of whose arguments is `argument`, if one runs now.
func childPID(of parent: Int32, withArgument argument: String) -> Int32? {
    directoryEntries("/proc").compactMap(Int32.init).first { pid in
        guard let stat = readFile("/proc/\(pid)/stat").map({ String(decoding: $0, as: UTF8.self) }),
            let close = stat.lastIndex(of: ")"),
            let arguments = readFile("/proc/\(pid)/cmdline")
        else { return false }
        let fields = stat[stat.index(close, offsetBy: 2)...].split(separator: " ")
        return fields.count > 1 && Int32(fields[1]) == parent
            && arguments.split(separator: 0).contains { String(decoding: $0, as: UTF8.self) == argument }
    }
}

/// The state letter of a process (`R`, `S`, `D`, `Z`…), or nil when it is gone.
func processState(_ pid: Int32) -> String? {
    guard let stat = readFile("/proc/\(pid)/stat").map({ String(decoding: $0, as: UTF8.self) }),
        let close = stat.lastIndex(of: ")")
    else { return nil }
    return stat[stat.index(close, offsetBy: 2)...].split(separator: " ").first.map(String.init)
}
