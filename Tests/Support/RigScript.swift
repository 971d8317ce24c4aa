import Foundation

/// One of the rig's scripts under `scripts/rig/` that starts a set of peers in a directory and
/// writes their environment to DIR/env (`start DIR`, `stop DIR`, other commands on DIR).
struct RigScript: Sendable {
    let path: String

    init(_ name: String) {
        path = packageRoot + "/scripts/rig/" + name
    }

    /// Starts the peers in `directory`; returns this process's environment with DIR/env over it.
    /// - Throws: ``PeerMissing`` naming `what` and what the script said, when it fails.
    func start(in directory: TemporaryDirectory, what: String) async throws -> [String: String] {
        let started = try await runDetached(path, ["start", directory.path])
        guard started.status == 0 else {
            throw PeerMissing(what: "\(what) (\(path) start failed: \(started.output))")
        }
        var environment = ProcessInfo.processInfo.environment
        for line in try String(contentsOfFile: directory.file("env"), encoding: .utf8).split(separator: "\n") where line.hasPrefix("export ") {
            let assignment = line.dropFirst("export ".count)
            guard let equals = assignment.firstIndex(of: "=") else { continue }
            environment[String(assignment[..<equals])] = String(assignment[assignment.index(after: equals)...])
                .trimmingCharacters(in: CharacterSet(charactersIn: "'"))
        }
        return environment
    }

    /// Stops everything `start` started, by pid; waits for it (from a deinit, so synchronously).
    func stop(_ directory: TemporaryDirectory) {
        let stop = Process()
        stop.executableURL = URL(fileURLWithPath: path)
        stop.arguments = ["stop", directory.path]
        try? stop.run()
        stop.waitUntilExit()
    }

    /// `SCRIPT COMMAND DIR ARGS`.
    func run(_ command: String, in directory: TemporaryDirectory, _ arguments: [String] = []) async throws -> (status: Int32, output: String) {
        try await runDetached(path, [command, directory.path] + arguments)
    }
}
