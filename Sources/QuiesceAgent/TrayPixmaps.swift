import Foundation
import QuiesceDBus

/// The tray's pictures as pixels, for hosts that draw `IconPixmap` rather than look a name up in
/// the icon theme (the agent's icons may not be installed where the host looks). Rendered from the
/// same SVGs as the theme icons by `scripts/render-icons.sh`; decoded once, on first use.
enum TrayPixmaps {
    /// `a(iiay)`: each size of `icon`, ARGB32 in network byte order.
    static func value(for icon: TrayIcon) -> DBusValue {
        .array(element: "(iiay)", decoded[icon] ?? [])
    }

    private static let decoded: [TrayIcon: [DBusValue]] = encoded.mapValues { sizes in
        sizes.compactMap { size in
            guard let bytes = Data(base64Encoded: size.argb), bytes.count == Int(size.width * size.height) * 4 else { return nil }
            return .structure([.int32(size.width), .int32(size.height), .array(element: "y", bytes.map { .byte($0) })])
        }
    }
}
