/// What the agent asks of `quiesce-copy`, and how the answer comes back.
///
/// The request is the child's arguments (`--key value` pairs after a command word), the answer
/// the child's standard output: fields separated by NUL, the one byte no path and no message can
/// hold. One request per process: a child the NAS holds is abandoned, never reused.
public enum CopierRequest: Sendable, Hashable {
    /// Copy one file, after checking the root can take it (as ``check(root:requireMount:localDirectory:)``).
    case copy(root: String, request: CopyRequest, requireMount: Bool, localDirectory: String?, kernelCopy: Bool)
    /// Can the root take copies now? (`requireMount` against `localDirectory`, as the worker asks.)
    case check(root: String, requireMount: Bool, localDirectory: String?)
    /// Remove what interrupted copies left: for each (destination, name), `.<name>.quiesce-partial`.
    case removePartials(root: String, [PartialCopy])

    /// The child's arguments.
    public var arguments: [String] {
        switch self {
        case .copy(let root, let request, let requireMount, let localDirectory, let kernelCopy):
            var arguments = [
                "copy", "--root", root, "--destination", request.destination, "--source", request.source,
                "--on-conflict", request.onConflict.rawValue, "--host", request.tag.host, "--date", request.tag.date,
                "--require-mount", requireMount ? "yes" : "no",
            ]
            if let localDirectory { arguments += ["--local-directory", localDirectory] }
            if let previous = request.previous {
                arguments += [
                    "--previous-name", previous.name, "--previous-size", String(previous.size),
                    "--previous-checksum", previous.checksum, "--previous-confirmed", previous.confirmed ? "yes" : "no",
                ]
            }
            if !kernelCopy { arguments += ["--kernel-copy", "no"] }
            return arguments
        case .check(let root, let requireMount, let localDirectory):
            var arguments = ["check", "--root", root, "--require-mount", requireMount ? "yes" : "no"]
            if let localDirectory { arguments += ["--local-directory", localDirectory] }
            return arguments
        case .removePartials(let root, let partials):
            return ["remove-partials", "--root", root] + partials.flatMap { ["--item", $0.destination, $0.name] }
        }
    }

    /// Reads the child's arguments back; `nil` for anything the agent would not have sent.
    public init?(arguments: [String]) {
        guard let command = arguments.first else { return nil }
        var options: [String: String] = [:]
        var partials: [PartialCopy] = []
        var index = 1
        while index < arguments.count {
            if arguments[index] == "--item", index + 2 < arguments.count {
                partials.append(PartialCopy(destination: arguments[index + 1], name: arguments[index + 2]))
                index += 3
                continue
            }
            guard arguments[index].hasPrefix("--"), index + 1 < arguments.count else { return nil }
            options[String(arguments[index].dropFirst(2))] = arguments[index + 1]
            index += 2
        }
        guard let root = options["root"] else { return nil }
        switch command {
        case "copy":
            guard let source = options["source"], let destination = options["destination"],
                let policy = options["on-conflict"].flatMap(ConflictPolicy.init(rawValue:)),
                let host = options["host"], let date = options["date"]
            else { return nil }
            var previous: Landing?
            if let name = options["previous-name"] {
                guard let size = options["previous-size"].flatMap({ Int64($0) }), let checksum = options["previous-checksum"]
                else { return nil }
                previous = Landing(name: name, size: size, checksum: checksum, confirmed: options["previous-confirmed"] != "no")
            }
            let request = CopyRequest(
                source: source, destination: destination, onConflict: policy, previous: previous,
                tag: ConflictTag(host: host, date: date))
            self = .copy(
                root: root, request: request, requireMount: options["require-mount"] == "yes",
                localDirectory: options["local-directory"], kernelCopy: options["kernel-copy"] != "no")
        case "check":
            self = .check(root: root, requireMount: options["require-mount"] == "yes", localDirectory: options["local-directory"])
        case "remove-partials":
            self = .removePartials(root: root, partials)
        default:
            return nil
        }
    }
}

/// A copy's partial file: `.<name>.quiesce-partial` in `destination`.
public struct PartialCopy: Sendable, Hashable {
    public var destination: String
    public var name: String

    public init(destination: String, name: String) {
        self.destination = destination
        self.name = name
    }
}

/// The child's answer: a copy's result, or why it did not happen.
public enum CopierReply: Sendable, Hashable {
    /// A copy was made (or found identical).
    case copied(CopyResult)
    /// A check or removal found nothing wrong.
    case fine
    case failed(CopyError)

    /// The bytes the child writes to its standard output.
    public var encoded: [UInt8] {
        let fields: [String]
        switch self {
        case .copied(let result):
            fields = ["copied", String(result.size), result.checksum, result.name, result.outcome.rawValue]
        case .fine:
            fields = ["fine"]
        case .failed(let error):
            fields = ["failed"] + error.wireFields
        }
        return fields.flatMap { Array($0.utf8) + [0] }
    }

    /// Reads what a child wrote; `nil` for anything else (a child that died half-way).
    public init?(decoding bytes: [UInt8]) {
        guard bytes.last == 0 else { return nil }
        let fields = bytes.dropLast().split(separator: 0, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
        switch fields.first {
        case "copied":
            guard fields.count == 5, let size = Int64(fields[1]), let outcome = CopyOutcome(rawValue: fields[4]) else { return nil }
            self = .copied(CopyResult(size: size, checksum: fields[2], name: fields[3], outcome: outcome))
        case "fine" where fields.count == 1:
            self = .fine
        case "failed":
            guard let error = CopyError(wireFields: Array(fields.dropFirst())) else { return nil }
            self = .failed(error)
        default:
            return nil
        }
    }
}

extension CopyError {
    /// The case's name, then its values.
    var wireFields: [String] {
        switch self {
        case .nasRootNotConfigured: ["nasRootNotConfigured"]
        case .nasRootUnavailable(let path, let reason): ["nasRootUnavailable", path, reason]
        case .nasRootNotMounted(let path, let sameAs): ["nasRootNotMounted", path, sameAs]
        case .nasReadOnly(let path, let reason): ["nasReadOnly", path, reason]
        case .noSpace(let path): ["noSpace", path]
        case .escapesRoot(let destination, let component, let reason): ["escapesRoot", destination, component, reason]
        case .sourceUnreadable(let path, let reason): ["sourceUnreadable", path, reason]
        case .sourceNotAFile(let path): ["sourceNotAFile", path]
        case .sourceChanged(let path): ["sourceChanged", path]
        case .verificationFailed(let path, let expected, let found): ["verificationFailed", path, expected, found]
        case .destinationIsDirectory(let path): ["destinationIsDirectory", path]
        case .io(let operation, let path, let reason): ["io", operation, path, reason]
        case .conflict(let path): ["conflict", path]
        case .nasUnreachable(let path, let reason): ["nasUnreachable", path, reason]
        case .nasNotAnswering(let path, let seconds): ["nasNotAnswering", path, String(seconds)]
        case .notDurable(let path, let reason, let landed):
            ["notDurable", path, reason, landed.name, String(landed.size), landed.checksum, landed.confirmed ? "confirmed" : "unconfirmed"]
        case .copierFailed(let reason): ["copierFailed", reason]
        case .aborted: ["aborted"]
        }
    }

    init?(wireFields fields: [String]) {
        guard let tag = fields.first else { return nil }
        let values = Array(fields.dropFirst())
        func take(_ count: Int) -> [String]? { values.count == count ? values : nil }
        switch tag {
        case "nasRootNotConfigured": guard take(0) != nil else { return nil }; self = .nasRootNotConfigured
        case "nasRootUnavailable": guard let v = take(2) else { return nil }; self = .nasRootUnavailable(path: v[0], reason: v[1])
        case "nasRootNotMounted": guard let v = take(2) else { return nil }; self = .nasRootNotMounted(path: v[0], sameAs: v[1])
        case "nasReadOnly": guard let v = take(2) else { return nil }; self = .nasReadOnly(path: v[0], reason: v[1])
        case "noSpace": guard let v = take(1) else { return nil }; self = .noSpace(path: v[0])
        case "escapesRoot":
            guard let v = take(3) else { return nil }
            self = .escapesRoot(destination: v[0], component: v[1], reason: v[2])
        case "sourceUnreadable": guard let v = take(2) else { return nil }; self = .sourceUnreadable(path: v[0], reason: v[1])
        case "sourceNotAFile": guard let v = take(1) else { return nil }; self = .sourceNotAFile(path: v[0])
        case "sourceChanged": guard let v = take(1) else { return nil }; self = .sourceChanged(path: v[0])
        case "verificationFailed":
            guard let v = take(3) else { return nil }
            self = .verificationFailed(path: v[0], expected: v[1], found: v[2])
        case "destinationIsDirectory": guard let v = take(1) else { return nil }; self = .destinationIsDirectory(path: v[0])
        case "io": guard let v = take(3) else { return nil }; self = .io(operation: v[0], path: v[1], reason: v[2])
        case "conflict": guard let v = take(1) else { return nil }; self = .conflict(path: v[0])
        case "nasUnreachable": guard let v = take(2) else { return nil }; self = .nasUnreachable(path: v[0], reason: v[1])
        case "nasNotAnswering":
            guard let v = take(2), let seconds = Int(v[1]) else { return nil }
            self = .nasNotAnswering(path: v[0], seconds: seconds)
        case "notDurable":
            guard let v = take(6), let size = Int64(v[3]) else { return nil }
            self = .notDurable(
                path: v[0], reason: v[1], landed: Landing(name: v[2], size: size, checksum: v[4], confirmed: v[5] == "confirmed"))
        case "copierFailed": guard let v = take(1) else { return nil }; self = .copierFailed(reason: v[0])
        case "aborted": guard take(0) != nil else { return nil }; self = .aborted
        default: return nil
        }
    }
}
