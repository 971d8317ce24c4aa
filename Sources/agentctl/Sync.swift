import ArgumentParser
import Foundation
import QuiesceDBus
import QuiesceInterface

/// `agentctl sync add|list|retry|cancel|pause|resume`.
struct Sync: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Queue copies to the NAS and look after the queue.",
        subcommands: [Add.self, List.self, Retry.self, Cancel.self, Pause.self, Resume.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Queue files for copying to the NAS; prints the job ids once they are safely queued.")

        @Argument(help: "Files to copy.")
        var paths: [String]

        @Option(help: ArgumentHelp("Directory inside the NAS root to copy into.", valueName: "dir"))
        var to = ""

        func run() async throws {
            var sources: [String] = []
            for path in paths {
                // A name that is not UTF-8 cannot travel in a D-Bus string: say so, and send nothing.
                guard let absolute = Self.absolute(path) else {
                    throw ValidationError("\(path.debugDescription): the file name is not valid UTF-8, which D-Bus cannot carry; rename the file")
                }
                var isDirectory: ObjCBool = false
                guard FileManager.default.fileExists(atPath: absolute, isDirectory: &isDirectory), !isDirectory.boolValue else {
                    throw ValidationError("\(path): no such file (directories are not copied; give the files in them)")
                }
                sources.append(absolute)
            }
            let client = try await AgentClient.connect()
            let reply = try await client.call(.enqueue, [.strings(sources), .string(to), .vardict([:])], timeout: .seconds(120))
            let ids = reply.first?.array?.compactMap(\.uint64) ?? []
            print("queued \(ids.count) file(s): \(ids.map(String.init).joined(separator: " "))")
        }

        /// The path made absolute, or nil when its bytes on the command line are not UTF-8 (Swift
        /// would have replaced them with U+FFFD, naming a file that does not exist).
        static func absolute(_ path: String) -> String? {
            if path.contains("\u{FFFD}") && Self.commandLineHasInvalidUTF8() { return nil }
            let url = URL(fileURLWithPath: path, relativeTo: URL(fileURLWithPath: FileManager.default.currentDirectoryPath))
            return url.standardizedFileURL.path
        }

        private static func commandLineHasInvalidUTF8() -> Bool {
            (0..<Int(CommandLine.argc)).contains { index in
                guard let argument = CommandLine.unsafeArgv[index] else { return false }
                let bytes = UnsafeBufferPointer(start: UnsafeRawPointer(argument).assumingMemoryBound(to: UInt8.self), count: strlen(argument))
                return String(validating: bytes, as: UTF8.self) == nil
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List jobs, newest first.")

        @Option(help: ArgumentHelp("Only jobs in this state: queued, in_flight, done, failed, cancelled.", valueName: "state"))
        var state: String?

        @Option(help: "At most this many jobs.")
        var limit: UInt32 = 100

        @Flag(help: "Print JSON.")
        var json = false

        func run() async throws {
            var filter: [String: DBusValue] = ["limit": .uint32(limit)]
            if let state { filter["state"] = .string(state) }
            let client = try await AgentClient.connect()
            let jobs = ((try await client.call(.listJobs, [.vardict(filter)])).first?.array ?? []).compactMap(\.fields)
            if json {
                printJSON(jobs.map { fields in
                    [
                        "id": fields[0].json, "source": fields[1].json, "destination": fields[2].json, "state": fields[3].json,
                        "attempts": fields[4].json, "error": fields[5].json, "next_attempt": fields[6].json,
                        "outcome": fields[7].json, "landed_as": fields[8].json,
                    ]
                })
                return
            }
            if jobs.isEmpty {
                print("no jobs")
                return
            }
            for fields in jobs {
                var line = "\(fields[0].uint64 ?? 0)  \(fields[3].string ?? "")  \(fields[1].string ?? "") → \(fields[2].string.map { $0.isEmpty ? "/" : $0 } ?? "")"
                if let error = fields[5].string, !error.isEmpty { line += "  (\(fields[4].uint32 ?? 0) attempts; \(error))" }
                if let note = Self.landing(outcome: fields[7].string ?? "", name: fields[8].string ?? "") { line += "  (\(note))" }
                print(line)
            }
        }

        /// How a done job landed, when that is worth a word: a person must know when a copy sits
        /// beside a different file instead of under its own name.
        static func landing(outcome: String, name: String) -> String? {
            switch outcome {
            case "kept-both": "a different file had its name on the NAS and was kept; this copy is \"\(name)\""
            case "identical": "the same bytes were already there\(name.isEmpty ? "" : " as \"\(name)\"")"
            case "replaced": "replaced its earlier copy\(name.isEmpty ? "" : " \"\(name)\"")"
            default: nil
            }
        }
    }

    struct Retry: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Retry a failed or waiting job now.")
        @Argument(help: "The job's id (agentctl sync list).")
        var id: UInt64

        func run() async throws {
            let client = try await AgentClient.connect()
            _ = try await client.call(.changeJob, [.uint64(id), .string("retry")])
        }
    }

    struct Cancel: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Cancel a queued job.")
        @Argument(help: "The job's id (agentctl sync list).")
        var id: UInt64

        func run() async throws {
            let client = try await AgentClient.connect()
            _ = try await client.call(.changeJob, [.uint64(id), .string("cancel")])
        }
    }

    struct Pause: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Pause sync: nothing new is copied until resumed (copies under way finish; kept across restarts).")

        func run() async throws {
            let client = try await AgentClient.connect()
            _ = try await client.call(.pauseSync)
            print("sync paused; agentctl sync resume copies again")
        }
    }

    struct Resume: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Resume sync: queued copies start again.")

        func run() async throws {
            let client = try await AgentClient.connect()
            _ = try await client.call(.resumeSync)
            print("sync resumed")
        }
    }
}

/// Unix time in milliseconds.
func nowMilliseconds() -> Int64 {
    Int64(Date().timeIntervalSince1970 * 1000)
}
