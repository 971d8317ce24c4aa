import ArgumentParser
import Glibc
import QuiesceDBus
import QuiesceInterface

/// `agentctl session open|close|list`.
struct Session: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Open, close and list sessions (work the agent must not cut off).",
        subcommands: [Open.self, Close.self, List.self])

    struct Open: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Open a session and print its id. It stays open until closed: agentctl session close ID.")

        @Argument(help: "What the session is, shown in the prompt.")
        var label: String

        func run() async throws {
            let client = try await AgentClient.connect()
            // Not bound: agentctl exits now, and a bound session would close with it.
            let reply = try await client.call(.openSession, [.string(label), .vardict(["bind": .boolean(false)])])
            print(reply.first?.string ?? "")
        }
    }

    struct Close: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Close a session.")

        @Argument(help: "The session's id (agentctl session list).")
        var id: String

        func run() async throws {
            let client = try await AgentClient.connect()
            _ = try await client.call(.closeSession, [.string(id)])
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List open sessions.")

        @Flag(help: "Print JSON.")
        var json = false

        func run() async throws {
            let client = try await AgentClient.connect()
            // Page by page (the agent answers at most 10,000 a call), each after the last one seen.
            var sessions: [[DBusValue]] = []
            let page: UInt32 = 1000
            while true {
                var filter: [String: DBusValue] = ["limit": .uint32(page)]
                if let last = sessions.last?.first?.string { filter["after"] = .string(last) }
                let rows = ((try await client.call(.listSessions, [.vardict(filter)])).first?.array ?? []).compactMap(\.fields)
                sessions += rows
                if rows.count < page { break }
            }
            if json {
                printJSON(sessions.map { fields in
                    ["id": fields[0].json, "label": fields[1].json, "owner": fields[2].json, "bound": fields[3].json, "opened": fields[4].json]
                })
                return
            }
            if sessions.isEmpty {
                print("no open sessions")
                return
            }
            for fields in sessions {
                let opened = localTimeOfDay(milliseconds: fields[4].int64 ?? 0)
                let bound = fields[3].bool == true ? "bound to \(fields[2].string ?? "?")" : "unbound"
                print("\(fields[0].string ?? "")  \(fields[1].string ?? "")  (\(bound), opened \(opened))")
            }
        }
    }
}
