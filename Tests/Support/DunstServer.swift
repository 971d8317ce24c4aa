import Foundation

/// dunst, a real notification server, under its own Xvfb display on a private session bus.
///
/// Its context menu goes through a "dmenu" of ours: a script that picks the action line whose
/// key a test wrote to a file, which is how a test clicks Force quit or Wait. dunst sends
/// `ActionInvoked` and `NotificationClosed` only to the connection that called `Notify`, and
/// does not close a notification after an action: the prompt must.
public final class DunstServer: @unchecked Sendable {
    // Safe: set once in init.
    public let bus: PrivateBus
    private let directory: TemporaryDirectory
    private let xvfb: PeerProcess
    private let dunst: PeerProcess
    private let display: String

    public init() async throws {
        for path in ["/usr/bin/Xvfb", "/usr/bin/dunst", "/usr/bin/dunstctl"] where !FileManager.default.isExecutableFile(atPath: path) {
            throw PeerMissing(what: "\(path) (Debian packages xvfb and dunst)")
        }
        bus = try PrivateBus()
        directory = TemporaryDirectory("quiesce-dunst")
        // Xvfb picks a free display and prints its number once it accepts clients, so dunst
        // never races a stale socket left by an earlier, killed server.
        let xvfb = try PeerProcess(rigScript, ["exec", "xvfb"], captureOutput: true)
        let printed = await withCheckedContinuation { continuation in
            DispatchQueue(label: "io.github.quiesce.test.xvfb").async {
                var text = Data()
                while !text.contains(UInt8(ascii: "\n")) {
                    let chunk = xvfb.output?.availableData ?? Data()
                    if chunk.isEmpty { break }
                    text.append(chunk)
                }
                continuation.resume(returning: String(decoding: text, as: UTF8.self))
            }
        }
        guard let number = Int(printed.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw PeerMissing(what: "an Xvfb display for dunst (it printed \(printed.debugDescription))")
        }
        self.xvfb = xvfb
        self.display = ":\(number)"

        var environment = bus.sessionEnvironment
        environment["DISPLAY"] = display
        dunst = try spawnRigPeer("dunst", [directory.path], environment: environment)
        let control = try await QuiesceDBus.BusConnection.open(address: bus.address)
        defer { control.close() }
        try await eventually("dunst owning org.freedesktop.Notifications") {
            try await control.nameOwner("org.freedesktop.Notifications") != nil
        }
    }

    deinit {
        dunst.stop()
        xvfb.stop()
    }

    /// Runs `dunstctl` against this dunst.
    public func control(_ arguments: [String]) async throws -> String {
        var environment = bus.sessionEnvironment
        environment["DISPLAY"] = display
        return try await run("/usr/bin/dunstctl", arguments, environment: environment).output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// How many notifications dunst shows now.
    public func displayed() async throws -> Int {
        Int(try await control(["count", "displayed"])) ?? -1
    }

    /// Picks the action `key` from the shown notification's context menu, as a user would.
    public func invoke(_ key: String) async throws {
        try key.write(toFile: directory.file("pick"), atomically: true, encoding: .utf8)
        _ = try await control(["context"])
    }
}

import QuiesceDBus
