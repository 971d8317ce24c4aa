import Glibc
import Logging
import QuiesceCopy
import QuiesceCore
import QuiesceStore
@testable import QuiesceSync
import QuiesceTestSupport
import Testing

/// fsync failures are not successes (PostgreSQL's "fsyncgate"): with `EIO` injected into the
/// copier's `fsync` calls by `strace --inject`, a job is never marked done; it is copied again
/// from scratch and the NAS ends with the source's bytes.
@Suite("A failed fsync is not a copy")
struct DurabilityTests {
    let temp = TemporaryDirectory()
    let logger = Logger(label: "test")

    init() {
        mkdir(temp.file("nas"), 0o755)
        mkdir(temp.file("src"), 0o755)
    }

    /// A copier that, on its first run only, gets `EIO` from its `which`-th `fsync` (1: the
    /// partial file's, 2: the directory's after the rename).
    private func failingCopier(fsync which: Int) throws -> Copier {
        try failingCopier("-e trace=fsync -e inject=fsync:error=EIO:when=\(which)")
    }

    /// A copier that, on its first run only, runs under strace with `injections`.
    private func failingCopier(_ injections: String) throws -> Copier {
        let strace = "/usr/bin/strace"
        try #require(access(strace, X_OK) == 0, "strace is missing (Debian package strace; make setup installs it)")
        let script = temp.file("copier-eio.sh")
        writeFile(script, Array("""
            #!/bin/sh
            if mkdir '\(temp.file("injected"))' 2>/dev/null; then
                exec \(strace) -f -qq -o /dev/null \(injections) '\(builtProduct("quiesce-copy"))' "$@"
            fi
            exec '\(builtProduct("quiesce-copy"))' "$@"

            """.utf8))
        chmod(script, 0o755)
        return .process(executable: script)
    }

    /// Runs one job through a worker whose first copy meets the failure; returns the job after that
    /// attempt and after the retry.
    private func copyOnce(failingFsync which: Int) async throws -> (afterFailure: JobRecord, afterRetry: JobRecord, source: String) {
        try await copyOnce(with: try failingCopier(fsync: which))
    }

    private func copyOnce(with copier: Copier) async throws -> (afterFailure: JobRecord, afterRetry: JobRecord, source: String) {
        let store = try Store(path: temp.file("agent.db"))
        // Retries wait an hour: the test retries by hand, so it can look at the job in between.
        let worker = SyncWorker(
            store: store, nasRoot: temp.file("nas"), claims: Gate(name: "claims", open: true),
            retry: RetryPolicy(base: .seconds(3600), cap: .seconds(3600), random: { 0 }),
            copier: copier, logger: logger)
        try await worker.start()
        let source = temp.file("src/ledger.db")
        writeFile(source, pseudoRandomBytes(count: 300_000, seed: 11))
        let id = try store.enqueue(sources: [source], destination: "books")[0]
        worker.wake()
        try await eventually("the failed attempt recorded") { try store.job(id: id).attempts == 1 }
        let failed = try store.job(id: id)
        try store.retry(id: id)
        worker.wake()
        try await eventually("copied on the retry") { try store.job(id: id).state == .done }
        try await worker.stop()
        return (failed, try store.job(id: id), source)
    }

    @Test("EIO from the partial file's fsync: not done, nothing under the final name, copied again")
    func partialFileFsync() async throws {
        let (failed, done, source) = try await copyOnce(failingFsync: 1)
        #expect(failed.state == .queued)
        #expect(failed.lastError?.contains("Input/output error") == true, "\(failed.lastError ?? "no error")")
        #expect(done.outcome == "copied")
        #expect(sameContents(temp.file("nas/books/ledger.db"), source))
        #expect(allFiles(under: temp.file("nas")) == ["books/ledger.db"], "no partial file left")
    }

    @Test("EIO from the directory's fsync after the rename: not done though the file has its name; rewritten from scratch")
    func directoryFsync() async throws {
        let (failed, done, source) = try await copyOnce(failingFsync: 2)
        #expect(failed.state == .queued)
        #expect(failed.lastError?.contains("could not confirm") == true, "\(failed.lastError ?? "no error")")
        // Identical bytes under the name are not trusted after a failed fsync: the retry writes
        // the file again (replacing what this agent put there) rather than counting it done.
        #expect(done.outcome == "replaced")
        #expect(sameContents(temp.file("nas/books/ledger.db"), source))
        #expect(allFiles(under: temp.file("nas")) == ["books/ledger.db"])
    }

    @Test("where renaming without replacing is refused (sshfs: EINVAL), the copy lands by link and unlink; EIO from that unlink is a failure, not a copy with its partial name left as a second link")
    func unlinkAfterLinkFails() async throws {
        // renameat2(RENAME_NOREPLACE) refused as on sshfs; the 2nd unlinkat (the partial's, after
        // the link; the 1st clears a stale partial before writing) fails as a server that went away.
        let copier = try failingCopier(
            "-e trace=renameat2,unlinkat -e inject=renameat2:error=EINVAL -e inject=unlinkat:error=EIO:when=2")
        let (failed, done, source) = try await copyOnce(with: copier)
        #expect(failed.state == .queued)
        #expect(failed.lastError?.contains("Input/output error") == true, "\(failed.lastError ?? "no error")")
        #expect(done.state == .done)
        #expect(sameContents(temp.file("nas/books/ledger.db"), source))
        #expect(allFiles(under: temp.file("nas")) == ["books/ledger.db"], "no partial name left: \(allFiles(under: temp.file("nas")))")
    }
}
