import Foundation
public import QuiesceDBus

/// The real gnome-session 43, headless on private buses, with gnome-shell's end-session dialog
/// and screensaver as python-dbusmock stand-ins (`scripts/rig/gnome-session.sh`). Stopped, with
/// everything it started, when released.
public final class GnomeSession: @unchecked Sendable {
    // Safe: every stored property is set once in init.
    public let directory: TemporaryDirectory
    /// DIR/env: the private session and system buses, DISPLAY.
    public let environment: [String: String]
    /// A connection to its session bus, for the test's own calls.
    public let control: BusConnection
    private static let script = packageRoot + "/scripts/rig/gnome-session.sh"

    public init() async throws {
        directory = TemporaryDirectory("quiesce-gnome")
        let started = try await runDetached(Self.script, ["start", directory.path])
        guard started.status == 0 else {
            throw PeerMissing(what: "gnome-session 43 (scripts/rig/gnome-session.sh start failed: \(started.output))")
        }
        var environment = ProcessInfo.processInfo.environment
        let text = try String(contentsOfFile: directory.file("env"), encoding: .utf8)
        for line in text.split(separator: "\n") where line.hasPrefix("export ") {
            let assignment = line.dropFirst("export ".count)
            guard let equals = assignment.firstIndex(of: "=") else { continue }
            environment[String(assignment[..<equals])] = String(assignment[assignment.index(after: equals)...]).trimmingCharacters(in: CharacterSet(charactersIn: "'"))
        }
        self.environment = environment
        control = try await BusConnection.session(environment: environment)
    }

    deinit {
        control.close()
        let stop = Process()
        stop.executableURL = URL(fileURLWithPath: Self.script)
        stop.arguments = ["stop", directory.path]
        try? stop.run()
        stop.waitUntilExit()
    }

    /// The session manager, through our own proxy.
    public var manager: SessionManagerProxy { SessionManagerProxy(connection: control) }

    /// `scripts/rig/gnome-session.sh COMMAND DIR ARGS`.
    @discardableResult
    public func rig(_ command: String, _ arguments: [String] = []) async throws -> (status: Int32, output: String) {
        try await runDetached(Self.script, [command, directory.path] + arguments)
    }

    /// gnome-session's own log (it runs with --debug): what it sent and heard.
    public var log: String {
        (try? String(contentsOfFile: directory.file("logs/gnome-session.log"), encoding: .utf8)) ?? ""
    }
}
