import Glibc
import QuiesceCopy
import QuiesceThreads

/// How the worker carries out copies and looks at the NAS root.
///
/// The agent uses ``process(executable:grace:)``: every touch of the NAS happens in a
/// `quiesce-copy` child, so a network NAS that stops answering can hold that child in the kernel
/// but never the agent, which stops within its deadline and leaves the child to the kernel.
/// ``inProcess`` is for tests and for programs that embed the worker and accept that a hung NAS
/// holds them.
public struct Copier: Sendable {
    enum Mode: Sendable {
        case inProcess
        case process(executable: String, grace: Duration)
    }

    let mode: Mode

    /// Copies on threads of this process.
    public static let inProcess = Copier(mode: .inProcess)

    /// Copies in `executable` (`quiesce-copy`), one process a request.
    /// - Parameter grace: how long a copy told to stop (`SIGTERM`) has to remove its partial file
    ///   before it is killed and abandoned.
    public static func process(executable: String, grace: Duration = .milliseconds(500)) -> Copier {
        Copier(mode: .process(executable: executable, grace: grace))
    }

    /// Carries out `request`. `abort` stops it; after `timeout` (only honoured by a child
    /// process) it is abandoned with ``CopyError/nasNotAnswering(path:seconds:)``.
    func run(_ request: CopierRequest, abort: AbortFlag, timeout: Duration? = nil) async -> CopierReply {
        switch mode {
        case .inProcess:
            await DetachedThread.run(name: "quiesce-copy") { CopierCommand.run(request, abort: abort) }
        case .process(let executable, let grace):
            await CopierProcess.run(executable: executable, request: request, abort: abort, grace: grace, timeout: timeout)
        }
    }
}

extension Copier {
    /// `quiesce-copy` could not be found.
    public struct NotFound: Error, CustomStringConvertible {
        public let looked: [String]
        public var description: String {
            "cannot find quiesce-copy, the program agentd copies with (looked at \(looked.joined(separator: ", "))); reinstall Quiesce, or set QUIESCE_COPIER to its path"
        }
    }

    /// Where `quiesce-copy` is: `$QUIESCE_COPIER` (a test's wrapper), else beside this program
    /// (a build folder), else `../libexec/quiesce/` from it (an installation).
    public static func locate(environment: [String: String]) throws(NotFound) -> String {
        if let path = environment["QUIESCE_COPIER"], !path.isEmpty { return path }
        var buffer = [CChar](repeating: 0, count: 4096)
        let length = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        let program = length > 0 ? String(decoding: buffer[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self) : ""
        let directory = program.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        let candidates = ["\(directory)/quiesce-copy", "\(directory)/../libexec/quiesce/quiesce-copy"]
        if let found = candidates.first(where: { access($0, X_OK) == 0 }) { return found }
        throw NotFound(looked: candidates)
    }
}
