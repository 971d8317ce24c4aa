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
    private static let script = RigScript("gnome-session.sh")

    public init() async throws {
        directory = TemporaryDirectory("quiesce-gnome")
        environment = try await Self.script.start(in: directory, what: "gnome-session 43")
        control = try await BusConnection.session(environment: environment)
    }

    deinit {
        control.close()
        Self.script.stop(directory)
    }

    /// The session manager, through our own proxy.
    public var manager: SessionManagerProxy { SessionManagerProxy(connection: control) }

    /// `scripts/rig/gnome-session.sh COMMAND DIR ARGS`.
    @discardableResult
    public func rig(_ command: String, _ arguments: [String] = []) async throws -> (status: Int32, output: String) {
        try await Self.script.run(command, in: directory, arguments)
    }

    /// gnome-session's own log (it runs with --debug): what it sent and heard.
    public var log: String {
        (try? String(contentsOfFile: directory.file("logs/gnome-session.log"), encoding: .utf8)) ?? ""
    }
}
