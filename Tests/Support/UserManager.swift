import Foundation

/// A real systemd user manager (`systemd --user`) in a cgroup and mount namespace of its own
/// (`scripts/rig/user-manager.sh`): the agent's own unit file runs under it as on a desktop.
/// Stopped, with everything it started, when released.
public final class UserManager: @unchecked Sendable {
    // Safe: every stored property is set once in init.
    public let directory: TemporaryDirectory
    /// DIR/env: XDG_RUNTIME_DIR, DBUS_SESSION_BUS_ADDRESS (its dbus.socket), HOME, XDG_*.
    public let environment: [String: String]
    private static let script = RigScript("user-manager.sh")

    public init() async throws {
        directory = TemporaryDirectory("quiesce-user-manager")
        environment = try await Self.script.start(in: directory, what: "a systemd user manager")
    }

    deinit {
        Self.script.stop(directory)
    }

    /// Where the manager reads user units from.
    public var unitDirectory: String { environment["QUIESCE_USER_MANAGER_UNITS"] ?? directory.file("home/.config/systemd/user") }

    /// Runs `command` where the manager runs (its namespace and environment); what it writes on
    /// either stream is the output (systemd-analyze warns on stderr).
    public func run(_ command: [String]) async throws -> (status: Int32, output: String) {
        try await Self.script.run("exec", in: directory, ["/bin/sh", "-c", "\"$@\" 2>&1", "sh"] + command)
    }

    /// `systemctl --user ARGS`.
    public func systemctl(_ arguments: [String]) async throws -> (status: Int32, output: String) {
        try await run(["systemctl", "--user"] + arguments)
    }

    /// `systemctl --user show -p …` as a dictionary.
    public func show(_ unit: String, _ properties: [String]) async throws -> [String: String] {
        let shown = try await systemctl(["show", unit] + properties.flatMap { ["-p", $0] })
        var values: [String: String] = [:]
        for line in shown.output.split(separator: "\n") {
            guard let equals = line.firstIndex(of: "=") else { continue }
            values[String(line[..<equals])] = String(line[line.index(after: equals)...])
        }
        return values
    }
}
