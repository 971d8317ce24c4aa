import QuiesceCore
import QuiesceDBus

/// The first part to stop: from then on the agent's connections are about to close, so the
/// subscriptions the other parts end as they stop leave their match rules to the bus, which
/// forgets a connection's rules with it (``BusConnection/leaving()``).
///
/// Why: the tray's and the session manager's watchers each told the bus to forget their rule
/// as they stopped, two `RemoveMatch` messages sent and handled on the way to the close that
/// a client following the quit waits for.
struct BusDeparture: Component {
    let name = "bus"
    let connections: [BusConnection]

    func start() async throws {}

    func stop() async throws {
        for connection in connections { connection.leaving() }
    }
}
