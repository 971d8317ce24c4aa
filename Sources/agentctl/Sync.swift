import ArgumentParser
import Glibc
import QuiesceDBus
import QuiesceInterface

/// `agentctl sync add|list|retry|cancel|pause|resume`.
struct Sync: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Queue copies to the NAS and look after the queue.",
        subcommands: [Add.self, List.self, Retry.self, Cancel.self, Pause.self, Resume.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Queue files and folders for copying to the NAS; says what was queued once it is safely on disk.",
            discussion: """
                A folder is copied with everything in it, its tree kept under the destination \
                (agentctl sync add ~/Pictures/2026 --to photos fills photos/2026/…). Symbolic links, \
                sockets, devices and FIFOs in it are skipped and listed, as are subfolders that \
                cannot be read. On a terminal, the count of files queued shows while the folder is walked.
                """)

        @Argument(help: "Files and folders to copy.")
        var paths: [String]

        @Option(help: ArgumentHelp("Directory inside the NAS root to copy into.", valueName: "dir"))
        var to = ""

        @Flag(name: .customLong("no-recursive"), help: "Refuse folders instead of copying everything in them.")
        var noRecursive = false

        func run() async throws {
            var sources: [String] = []
            for path in paths {
                // A name that is not UTF-8 cannot travel in a D-Bus string: say so, and send nothing.
                guard let absolute = Self.absolute(path) else {
                    throw ValidationError("\(path.debugDescription): the file name is not valid UTF-8, which D-Bus cannot carry; rename the file")
                }
                sources.append(absolute)
            }
            let client = try await AgentClient.connect()
            // The agent reports a folder's walk to us alone: subscribe before asking.
            let progress = try await client.connection.signals(matching: MatchRule(
                interface: AgentInterface.interface, member: AgentInterface.Signal.enqueueProgress.name, path: AgentInterface.path))
            let terminal = isatty(1) == 1
            let shown = Task {
                var last = 0
                for await message in progress {
                    guard let values = try? message.arguments(), values.count == 4,
                        let queued = values[0].uint64, let skipped = values[1].uint64
                    else { continue }
                    for entry in values[3].array ?? [] {
                        guard let fields = entry.fields, fields.count == 2 else { continue }
                        if terminal { writeOut("\r\u{1B}[K") }
                        print(error: "skipped \(fields[0].string ?? ""): \(fields[1].string ?? "")")
                    }
                    last = Int(skipped)
                    if terminal {
                        writeOut("\r\u{1B}[Kqueued \(queued) files, \(skipped) skipped…")
                    }
                    if values[2].bool == true { break }
                }
                return last
            }
            let options: [String: DBusValue] = noRecursive ? [:] : ["recursive": .boolean(true)]
            let reply: [DBusValue]
            do {
                reply = try await client.call(.enqueue, [.strings(sources), .string(to), .vardict(options)], timeout: .seconds(3600))
            } catch {
                shown.cancel()
                if terminal { writeOut("\r\u{1B}[K") }
                throw error
            }
            let ids = reply.first?.array?.compactMap(\.uint64) ?? []
            // The last report (finished) comes just before the reply: it is here already.
            let skipped = await shown.value
            if terminal { writeOut("\r\u{1B}[K") }
            print(Self.summary(ids: ids, skipped: skipped))
        }

        /// "queued 3 files: 7 8 9", or for many "queued 12000 files (ids 7 to 12006)".
        static func summary(ids: [UInt64], skipped: Int) -> String {
            let noun = ids.count == 1 ? "file" : "files"
            var text = "queued \(ids.count) \(noun)"
            if ids.count <= 20 {
                if !ids.isEmpty { text += ": " + ids.map(String.init).joined(separator: " ") }
            } else if let first = ids.min(), let last = ids.max() {
                text += last - first + 1 == UInt64(ids.count) ? " (ids \(first) to \(last))" : " (ids from \(first) to \(last))"
            }
            if skipped > 0 { text += "; \(skipped) skipped (listed above)" }
            return text
        }

        /// The path made absolute, or nil when its bytes on the command line are not UTF-8 (Swift
        /// would have replaced them with U+FFFD, naming a file that does not exist).
        static func absolute(_ path: String) -> String? {
            if path.contains("\u{FFFD}") && Self.commandLineHasInvalidUTF8() { return nil }
            return absolutePath(path)
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

        @Option(help: "At most this many jobs (up to 10000).")
        var limit: UInt32 = 100

        @Option(help: ArgumentHelp("Only jobs older than this id (the next page after a list that ended with it).", valueName: "id"))
        var before: UInt64?

        @Flag(help: "Print JSON.")
        var json = false

        func run() async throws {
            var filter: [String: DBusValue] = ["limit": .uint32(limit)]
            if let before { filter["before"] = .uint64(before) }
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

