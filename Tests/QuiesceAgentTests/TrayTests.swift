import Foundation
@testable import QuiesceAgent
import QuiesceCore
import QuiesceDBus
import QuiesceInterface
import QuiesceTestSupport
import Testing

/// The tray: its state in words and pictures, its menu, and its objects as hosts read them.
/// (A real host drawing it and clicking it: `TrayHostTests`.)
@Suite("The tray icon")
struct TrayTests {
    private func values(_ state: Phase, sessions: Int = 0, copies: Int = 0, queued: Int = 0, failed: Int = 0, waiting: String = "", paused: Bool = false) -> StatusBoard.Values {
        var values = StatusBoard.Values()
        values.state = state
        values.activeSessions = sessions
        values.inFlightJobs = copies
        values.queuedJobs = queued
        values.failedJobs = failed
        values.syncWaiting = waiting
        values.syncPaused = paused
        return values
    }

    @Test("each state: its icon, Status and words")
    func states() {
        let cases: [(StatusBoard.Values, String?, TrayIcon, String, String)] = [
            (values(.running), nil, .idle, "Active", "Idle"),
            (values(.running, sessions: 1), nil, .idle, "Active", "1 session open"),
            (values(.running, sessions: 2, queued: 1, paused: true), nil, .paused, "Active", "Sync paused, 1 queued; 2 sessions open"),
            (values(.running, copies: 2, queued: 14), "/mnt/nas", .syncing, "Active", "Syncing 2 files, 14 queued"),
            (values(.running, queued: 3, waiting: "the NAS root /mnt/nas is missing"), "/mnt/nas", .waiting, "NeedsAttention", "Waiting for the NAS at /mnt/nas, 3 queued"),
            (values(.running, queued: 3, waiting: "sync.nas_root is not set"), nil, .waiting, "NeedsAttention", "Waiting: sync.nas_root is not set, 3 queued"),
            (values(.running, queued: 3, paused: true), "/mnt/nas", .paused, "Active", "Sync paused, 3 queued"),
            (values(.running, failed: 2), "/mnt/nas", .attention, "NeedsAttention", "2 copies failed"),
            (values(.draining, sessions: 1), nil, .attention, "NeedsAttention", "Quitting: 1 session still running"),
            (values(.prompting, sessions: 1, copies: 1), nil, .attention, "NeedsAttention", "Asking whether to force quit: 1 session, 1 copy still running"),
        ]
        for (values, root, icon, status, text) in cases {
            let state = TrayState(values, nasRoot: root)
            #expect(state.icon == icon, "\(text)")
            #expect(state.status == status, "\(text)")
            #expect(state.text == text)
        }
        #expect(!TrayIcon.allCases.contains { TrayState(values(.running), nasRoot: nil).status == "Passive" && $0 == .idle })
    }

    @Test("every state has pixmaps of 22, 32 and 48 px, ARGB with opaque pixels")
    func pixmaps() {
        for icon in TrayIcon.allCases {
            let sizes = TrayPixmaps.value(for: icon).array ?? []
            #expect(sizes.count == 3, "\(icon)")
            for size in sizes {
                guard let fields = size.fields, let width = fields[0].int32, let bytes = fields[2].array else {
                    Issue.record("\(icon): \(size.signature)")
                    continue
                }
                #expect(bytes.count == Int(width * width) * 4)
                // ARGB: the first byte of each pixel is alpha; the middle of the icon is opaque.
                let middle = (Int(width / 2) * Int(width) + Int(width / 2)) * 4
                #expect(bytes[middle] == .byte(255), "\(icon) \(width) px: alpha first")
            }
        }
    }

    @Test("labels are escaped for mnemonics, the tooltip for markup; the menu follows the state")
    func escapingAndMenu() {
        #expect(TrayText.label("copying IMG_0042.raw") == "copying IMG__0042.raw")
        #expect(TrayText.markup("a<b> & c") == "a&lt;b&gt; &amp; c")
        let running = TrayMenu(state: TrayState(values(.running), nasRoot: nil))
        #expect(running.properties(of: .pauseResume)["label"] == .string("_Pause sync"))
        #expect(running.properties(of: .openFolder)["enabled"] == .boolean(false), "no root: nothing to open")
        #expect(running.properties(of: .status)["enabled"] == .boolean(false))
        let paused = TrayMenu(state: TrayState(values(.running, paused: true), nasRoot: "/mnt/nas"))
        #expect(paused.properties(of: .pauseResume)["label"] == .string("_Resume sync"))
        #expect(Set(TrayMenu.changed(from: running, to: paused)) == [.status, .pauseResume, .openFolder])
    }

    @Test("the agent's item and menu, read through python-dbus the way hosts read them (every dbusmenu method, GNOME's types)")
    func conformance() async throws {
        let session = try PrivateBus()
        let harness = try await AgentHarness(busAddress: session.address, owner: session)
        let agent = try await harness.start(["--tray"])
        let control = try await BusConnection.open(address: session.address, label: "test")
        defer { control.close() }
        let owner = try #require(try await control.nameOwner(AgentInterface.busName))
        let pid = try #require(try await control.credentials(of: owner).pid)
        let item = "org.kde.StatusNotifierItem-\(pid)-1"
        try await eventually("the item's name on the bus") { try await control.nameOwner(item) != nil }
        #expect(harness.log.contains("no tray host"), "no watcher: it says so once: \(harness.log)")
        let script = packageRoot + "/Tests/QuiesceAgentTests/Peers/tray_conformance.py"
        let result = try await runDetached("/usr/bin/python3", [script, item], environment: session.sessionEnvironment)
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.hasPrefix("ok "), "\(result.output)")
        #expect(try await harness.ctl(["quit"]).status == 0)
        #expect(await agent.exitStatus() == 0)
    }
}
