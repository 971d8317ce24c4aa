import Foundation
import QuiesceDBus
import QuiesceInterface
import QuiesceTestSupport
import Testing

/// The tray icon on a real host: xfce4-panel's systray on Xvfb draws it, and real clicks (xdotool)
/// reach it. Coordinates: the panel is 800×32 at the top; one item's 22 px icon is at x 1…22,
/// y 5…26 (measured by scripts/rig/tray-host.sh); its menu's rows are 25 px high from y 36.
@Suite("The tray icon on xfce4-panel")
struct TrayHostTests {
    /// Where to click the icon, and a point of its face away from the glyph: its colour tells the state.
    static let icon = (x: 12, y: 16)
    static let face = (x: 5, y: 23)
    /// The menu's rows: the state line, Pause/Resume sync, Open NAS folder, (separator), Quit.
    static let pauseRow = (x: 60, y: 73)
    static let quitRow = (x: 60, y: 124)

    /// An agent on the host's bus with a NAS root, and xdg-open set to record what it is asked to
    /// open (the real xdg-open, with a handler of ours for directories as the "file manager").
    private func agent(on host: TrayHost) async throws -> (AgentHarness, PeerProcess, nas: String, opened: String) {
        let data = TemporaryDirectory("quiesce-xdg")
        let opened = data.file("opened")
        let opener = data.file("opener.sh")
        try "#!/bin/sh\necho \"$1\" >> '\(opened)'\n".write(toFile: opener, atomically: true, encoding: .utf8)
        chmod(opener, 0o755)
        try FileManager.default.createDirectory(atPath: data.file("applications"), withIntermediateDirectories: true)
        try "[Desktop Entry]\nType=Application\nName=Recorder\nExec=\(opener) %f\nMimeType=inode/directory;\n".write(
            toFile: data.file("applications/quiesce-test-opener.desktop"), atomically: true, encoding: .utf8)
        let harness = try await AgentHarness(
            busAddress: host.busAddress, owner: [host, data] as AnyObject,
            extraEnvironment: ["DISPLAY": host.display, "XDG_DATA_HOME": data.path, "XDG_DATA_DIRS": data.path])
        try FileManager.default.createDirectory(atPath: harness.home.file("config"), withIntermediateDirectories: true)
        try "[Default Applications]\ninode/directory=quiesce-test-opener.desktop\n".write(
            toFile: harness.home.file("config/mimeapps.list"), atomically: true, encoding: .utf8)
        let nas = harness.home.file("nas")
        try FileManager.default.createDirectory(atPath: nas, withIntermediateDirectories: true)
        let agent = try await harness.start(["--tray", "--nas-root", nas])
        return (harness, agent, nas, opened)
    }

    private func face(_ host: TrayHost, is hue: Hue, _ what: String) async throws {
        var seen = ""
        do {
            try await eventually(what) {
                seen = try await host.pixel(Self.face.x, Self.face.y)
                return Hue(seen) == hue
            }
        } catch {
            let shot = host.directory.file("failed.png")
            _ = try? await host.rig("screenshot", [shot])
            throw PeerMissing(what: "\(what): the icon's face is \(seen) (\(Hue(seen))), not \(hue); screenshot \(shot)")
        }
    }

    /// Right-clicks the icon, waits for the menu, clicks a row.
    private func choose(_ host: TrayHost, _ row: (x: Int, y: Int)) async throws {
        try await host.click(Self.icon.x, Self.icon.y, button: 3)
        let menu = try await host.rig("wait-menu", ["5"])
        #expect(menu.status == 0, "the menu opened: \(menu.output)")
        try await host.click(row.x, row.y)
    }

    @Test("drawn by the host; a left click opens the NAS folder; the menu pauses and resumes (icon and property follow) and quits")
    func clicks() async throws {
        let host = try await TrayHost()
        let (harness, agent, nas, opened) = try await agent(on: host)
        try await eventually("registered with the panel") { harness.log.contains("tray icon registered") }
        try await face(host, is: .blue, "the idle icon drawn")

        try await host.click(Self.icon.x, Self.icon.y)
        try await eventually("xdg-open asked to open the NAS folder") {
            (try? String(contentsOfFile: opened, encoding: .utf8))?.contains(nas) == true
        }

        try await choose(host, Self.pauseRow)
        try await eventually("paused from the menu") { try await harness.property(.syncPaused) == .boolean(true) }
        try await face(host, is: .grey, "the paused icon")
        let shot = host.directory.file("paused.png")
        #expect(try await host.rig("screenshot", [shot]).status == 0)

        try await choose(host, Self.pauseRow)
        try await eventually("resumed from the menu") { try await harness.property(.syncPaused) == .boolean(false) }
        try await face(host, is: .blue, "the idle icon again")

        try await choose(host, Self.quitRow)
        #expect(await agent.exitStatus() == 0, "Quit from the menu, idle: a clean quit: \(harness.log)")
        #expect(harness.log.contains("tray: Quit chosen"))
    }

    @Test("the panel restarts: the icon is registered with the new watcher and drawn again; attention shows while quitting")
    func panelRestart() async throws {
        let host = try await TrayHost()
        let (harness, agent, _, _) = try await agent(on: host)
        try await face(host, is: .blue, "the icon drawn")
        #expect(try await host.rig("restart-panel").status == 0)
        try await eventually("registered again") {
            harness.log.components(separatedBy: "tray icon registered").count == 3
        }
        try await face(host, is: .blue, "drawn by the new panel")

        _ = try await harness.call(.openSession, [.string("recording lab-3"), .vardict(["bind": .boolean(false)])])
        _ = try await harness.ctl(["quit", "--no-wait"])
        try await face(host, is: .red, "the attention icon while quitting")
        #expect(try await harness.ctl(["quit", "--force"]).status == 3)
        #expect(await agent.exitStatus() == 3)
    }
}
