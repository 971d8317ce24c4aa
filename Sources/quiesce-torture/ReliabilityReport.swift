import Foundation
import QuiesceTestSupport
import QuiesceTorture

/// The reliability suite's table, and `docs/reliability.md` around it.
struct ReliabilityReport {
    let tallies: [Tally]
    let elapsed: Duration
    let quick: Bool

    var table: String {
        var text = "| scenario | tried | survived | lost | figures |\n|---|---|---|---|---|\n"
        for tally in tallies {
            let figures = (tally.figures + tally.failures.map { "**failed:** \($0)" }).joined(separator: "; ")
            text += "| \(tally.name) | \(tally.tried) | \(tally.survived) | \(tally.lost) | \(figures.replacingOccurrences(of: "|", with: "\\|")) |\n"
        }
        return text
    }

    func write(to path: String) throws {
        let text = """
            # Reliability

            Written by `make torture`\(quick ? " --quick (a short run: not the figures to quote)" : "") on \(ISO8601DateFormatter().string(from: Date())), \
            in \(elapsed.components.seconds / 60) min \(elapsed.components.seconds % 60) s. Every scenario runs the real `agentd` \
            and `agentctl` on private D-Bus buses (loopback only) with real peers: `dbus-daemon`, `systemd-logind`, \
            python-dbusmock's notification server, tmpfs mounts, OpenSSH's sshd and sshfs on 127.0.0.1, real `SIGKILL`s. **lost** counts acknowledged jobs, \
            sessions and copied files that did not come through whole: it must be 0. **survived** counts the attempts \
            after which every check held.

            \(table)
            The machine:
            \(describeMachine())

            ## What each scenario checks

            - **Crash** — `agentd` is killed with `SIGKILL` at a random moment (20–400 ms into a round) while one \
            client enqueues batches of 1–4 files (sizes from 16 KiB to 4 MiB) and another opens and closes bound and \
            unbound sessions, and the worker copies. With the agent down, the database is read straight through SQLite \
            (not through our store): `integrity_check` is ok; every acknowledged job is there exactly once with its \
            source and destination (a call whose reply died with the agent may have committed, once, or not at all; \
            nothing else may appear); every done job's file is byte-identical to its source; every unbound session \
            acknowledged open is still open. After the restart: no partial file of the dead instance is left (same \
            inode and change time), and its bound sessions are closed as abandoned. At the end the queue drains \
            completely, every file matches, and no `.quiesce-partial` remains anywhere.
            - **Faults** — no notification server, one without `actions`, one killed while the prompt shows: the agent \
            forces at the deadline (exit 3) and the queued job survives. logind absent at start, then appearing, killed \
            and restarted: the agent's delay lock is in logind's `ListInhibitors` each time. The session bus killed \
            during copies: the agent exits within its hard deadline (4 s), the database is whole, and the next start \
            completes every copy. The NAS root full (tmpfs), remounted read-only, or removed mid-copy: jobs stay queued \
            with the reason (in the job for a full or read-only NAS; in `SyncWaiting` for a root that is gone, which \
            the agent waits for without counting attempts), none is given up, no partial file stays, and the agent's \
            own retries complete every copy once the NAS is back. The database locked by another process at start: exit 1 saying it is in use, and the \
            queue is intact once it is free. The database's disk full (tmpfs): `StorageFailed` saying so, the agent \
            stays up, nothing acknowledged is lost, and it carries on once there is room.
            - **Network NAS** — the NAS on sshfs over OpenSSH's sshd on 127.0.0.1 (`scripts/rig/nas-sshfs.sh`), each \
            round with 20 files (16 KiB to 24 MiB) queued into a new folder: `agentd` `SIGKILL`ed while copies run \
            (the database and the server's disk checked with the agent down, as in Crash); the server killed during \
            copies and more queued after (jobs wait *unreachable* in `SyncWaiting` with no attempt counted, and copy \
            once the server is restarted); the server hung (its `sftp-server` stopped) during a copy, then a force \
            quit: the agent exits 3 within its deadline although its copier is held in the kernel, and the job \
            completes after the server answers and the agent restarts. At the end every job is done and identical \
            on the server's disk and no partial file is left. What a network NAS can and cannot promise (a hang \
            holds the copy under way and a quit waits for it like any copy; a directory `fsync` is a no-op on sshfs) \
            is in `docs/storage.md`, "A network NAS".
            - **Bad input** — every method with wrong signatures, empty and 1 MiB strings, unknown ids, destinations \
            with `..` or absolute, a destination through a symlink out of the NAS root (nothing written outside), a file \
            name that is not UTF-8 through `agentctl sync add` (refused with a reason, nothing queued); then random calls \
            (random members, signatures and values, seeded): each answered with a success or a named error, the agent \
            up and running, `integrity_check` ok.
            - **Security** — a second user made with `useradd`, on a bus whose policy lets it connect, calls every \
            method with well-formed arguments: each refused with `AccessDenied`, nothing changed. The database is \
            0600 (with its WAL, shared memory and lock files) in a 0700 directory. Neither binary imports `system`, \
            `popen`, `wordexp` or the `execl` family, and `agentctl run -- /bin/echo '$(touch …)'` prints its argument \
            as given (no shell).
            - **Load** — clients, each on its own connection, open bound sessions, enqueue, and close, while a quit is \
            requested: no session is admitted by a call sent after the quit was answered, every admitted session's \
            close is accepted (the agent waited for it), the agent exits 0, every acknowledged job is in the database. \
            The soak runs the agent for 10 minutes under steady traffic (beside the other scenarios) and compares its \
            resident memory after the warm-up with the end (growth over \(Soak.allowedGrowthKiB / 1024) MiB fails).

            `make test` runs the same scenarios small (`Tests/QuiesceAgentTests/ReliabilityTests.swift`); \
            `make torture` runs them at full size. Scenario code: `Tests/Torture/`.

            """
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }
}
