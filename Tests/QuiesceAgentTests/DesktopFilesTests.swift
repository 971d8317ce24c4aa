import Foundation
import QuiesceTestSupport
import Testing

/// What the desktop knows the agent by: GNOME's logout dialog names an inhibitor only when its app
/// id matches an installed desktop file, and shows that file's name and icon.
@Suite("The desktop file and the icons")
struct DesktopFilesTests {
    @Test("the desktop file, as make install writes it, passes desktop-file-validate and names the app id's icon")
    func desktopFile() async throws {
        let validator = "/usr/bin/desktop-file-validate"
        guard FileManager.default.isExecutableFile(atPath: validator) else {
            throw PeerMissing(what: "\(validator) (Debian package desktop-file-utils)")
        }
        let directory = TemporaryDirectory("quiesce-desktop")
        let template = try String(contentsOfFile: packageRoot + "/desktop/io.github.quiesce.Agent.desktop.in", encoding: .utf8)
        let installed = directory.file("io.github.quiesce.Agent.desktop")
        try template.replacingOccurrences(of: "@BINDIR@", with: "/usr/bin").write(toFile: installed, atomically: true, encoding: .utf8)
        let validation = try await runDetached(validator, [installed])
        #expect(validation.status == 0 && validation.output.isEmpty, "desktop-file-validate: \(validation.output)")
        #expect(template.contains("\nIcon=io.github.quiesce.Agent\n"))
        #expect(template.contains("\nNoDisplay=true\n"), "an agent, not an application to launch from the menu")
    }

    @Test("the icon: a scalable SVG and PNGs of exactly 22, 32 and 48 px in the hicolor layout")
    func icons() throws {
        let root = packageRoot + "/desktop/icons/hicolor"
        let svg = try String(contentsOfFile: root + "/scalable/apps/io.github.quiesce.Agent.svg", encoding: .utf8)
        #expect(svg.contains("<svg"))
        for size in [22, 32, 48] {
            let png = try Data(contentsOf: URL(fileURLWithPath: "\(root)/\(size)x\(size)/apps/io.github.quiesce.Agent.png"))
            #expect(png.prefix(8) == Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]), "a PNG")
            // IHDR: width and height, big-endian, at bytes 16 and 20.
            let width = png[16..<20].reduce(0) { $0 << 8 | Int($1) }
            let height = png[20..<24].reduce(0) { $0 << 8 | Int($1) }
            #expect(width == size && height == size, "\(size) px: \(width)×\(height)")
        }
    }
}
