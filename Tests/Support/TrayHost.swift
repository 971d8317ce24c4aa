import Foundation

/// A real tray host: xfce4-panel 4.18's systray on Xvfb, on a private session bus
/// (`scripts/rig/tray-host.sh`). Its wrapper owns `org.kde.StatusNotifierWatcher` and draws the
/// items it is given; tests click it with xdotool and read its pixels. Stopped with everything it
/// started when released.
public final class TrayHost: @unchecked Sendable {
    // Safe: every stored property is set once in init.
    public let directory: TemporaryDirectory
    /// DIR/env: the bus, DISPLAY, the panel's pids and geometry.
    public let environment: [String: String]
    private static let script = RigScript("tray-host.sh")

    public init() async throws {
        directory = TemporaryDirectory("quiesce-tray")
        environment = try await Self.script.start(in: directory, what: "xfce4-panel's tray on Xvfb")
    }

    deinit {
        Self.script.stop(directory)
    }

    public var busAddress: String { environment["DBUS_SESSION_BUS_ADDRESS"] ?? "" }
    public var display: String { environment["DISPLAY"] ?? "" }

    /// `scripts/rig/tray-host.sh COMMAND DIR ARGS`.
    @discardableResult
    public func rig(_ command: String, _ arguments: [String] = []) async throws -> (status: Int32, output: String) {
        try await Self.script.run(command, in: directory, arguments)
    }

    /// The colour of the screen at (x, y), "RRGGBB".
    public func pixel(_ x: Int, _ y: Int) async throws -> String {
        try await rig("pixel", ["\(x)", "\(y)"]).output.trimmingCharacters(in: .whitespacesAndNewlines).uppercased()
    }

    /// Clicks mouse `button` at (x, y) on the host's display.
    public func click(_ x: Int, _ y: Int, button: Int = 1) async throws {
        var environment = ProcessInfo.processInfo.environment
        environment["DISPLAY"] = display
        let clicked = try await runDetached("/usr/bin/xdotool", ["mousemove", "\(x)", "\(y)", "click", "\(button)"], environment: environment)
        guard clicked.status == 0 else { throw PeerMissing(what: "xdotool (Debian package xdotool): \(clicked.output)") }
    }
}

/// What a colour looks like, roughly: enough to tell the tray's states apart on screen.
public enum Hue: String, Sendable {
    case blue, green, grey, amber, red, background, other

    /// Classifies "RRGGBB".
    public init(_ hex: String) {
        guard hex.count == 6, let value = Int(hex, radix: 16) else { self = .other; return }
        let (r, g, b) = (value >> 16 & 255, value >> 8 & 255, value & 255)
        if r > 230 && g > 230 && b > 230 { self = .background; return }
        if abs(r - g) < 20 && abs(g - b) < 20 { self = .grey; return }
        if b > r + 40 && b > g { self = .blue; return }
        if g > r + 30 && g > b + 30 { self = .green; return }
        if r > b + 60 && g > b + 40 && r >= g { self = .amber; return }
        if r > g + 60 && r > b + 60 { self = .red; return }
        self = .other
    }
}
