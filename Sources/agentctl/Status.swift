import ArgumentParser
import QuiesceDBus
import QuiesceInterface

/// `agentctl status`: what the agent is doing.
struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show the agent's state, sessions and queue (exit 3 when it is not running).")

    @Flag(help: "Print JSON.")
    var json = false

    func run() throws {
        try Self.show(json: json)
    }

    /// The command's body, for ArgumentParser and for ``FastPath``: one call, on this thread.
    static func show(json: Bool) throws {
        guard let properties = AgentClient.propertiesNow() else {
            if json {
                printJSON(["running": false])
            } else {
                print("agent: not running")
            }
            throw ExitCode(3)
        }
        if json {
            var object = properties.mapValues(\.json)
            object["running"] = true
            printJSON(object)
            return
        }
        let state = properties[.state]?.string ?? "?"
        print("agent: \(state) (version \(properties[.version]?.string ?? "?"))")
        print("sessions: \(properties[.activeSessions]?.uint32 ?? 0) open")
        let paused = properties[.syncPaused]?.bool == true ? " (paused)" : ""
        print("sync: \(properties[.inFlightJobs]?.uint32 ?? 0) copying, \(properties[.queuedJobs]?.uint32 ?? 0) queued\(paused)")
        if let waiting = properties[.syncWaiting]?.string, !waiting.isEmpty {
            print("sync waits: \(waiting)")
        }
        if let deadline = properties[.deadline]?.int64, deadline > 0 {
            print("window runs out in \(max(0, deadline - nowMilliseconds()) / 1000) s")
        }
    }
}
