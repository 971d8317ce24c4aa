public import Foundation

/// Where SwiftPM put this package's executables: beside the test bundle.
public func builtProduct(_ name: String) -> String {
    let me = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    var directory = URL(fileURLWithPath: me).deletingLastPathComponent()
    if directory.lastPathComponent.hasSuffix(".xctest") { directory.deleteLastPathComponent() }
    return directory.appendingPathComponent(name).path
}

/// A child process whose standard output is collected as it arrives.
///
/// Read by a thread of its own with blocking reads, not a `readabilityHandler`: tearing down a
/// handler's dispatch read source races its cancellation, and libdispatch's manager thread then
/// crashes in `_dispatch_event_loop_drain` on a dangling epoll registration — seen here once,
/// taking the whole test run with it (swift-corelibs-foundation#5507 describes the same).
public final class ChildProcess: @unchecked Sendable {
    // Safe: `output` and `drained` are only touched under `condition`; `process` is read-only
    // after init.
    public let process = Process()
    private let pipe = Pipe()
    private let condition = NSCondition()
    private var output = Data()
    /// The reader has seen the end of the output (every writer closed the pipe).
    private var drained = false
    /// When the process was started, and (once it has been waited for) when it was seen to exit.
    public let started: ContinuousClock.Instant
    public private(set) var ended: ContinuousClock.Instant?

    public init(_ executable: String, _ arguments: [String]) throws {
        started = ContinuousClock.now
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = pipe
        process.standardError = FileHandle.standardError
        try process.run()
        let handle = pipe.fileHandleForReading
        Thread { [self] in
            while let data = try? handle.read(upToCount: 65536), !data.isEmpty {
                condition.lock()
                output.append(data)
                condition.unlock()
            }
            condition.lock()
            drained = true
            condition.broadcast()
            condition.unlock()
        }.start()
    }

    /// How long the process ran, once it has exited and been waited for.
    public var runtime: Duration? { ended.map { started.duration(to: $0) } }

    /// Sends `signal` after `delay`, timed by a dispatch timer: precise whatever the Swift thread
    /// pool is busy with.
    public func kill(after delay: Duration, _ signal: Int32 = SIGKILL) {
        onDispatchTimer(after: delay) { self.kill(signal) }
    }

    public var pid: Int32 { process.processIdentifier }

    /// Complete lines written so far (a line cut off by a kill is not included).
    public var lines: [String] {
        condition.lock()
        defer { condition.unlock() }
        let text = String(decoding: output, as: UTF8.self)
        var lines = text.components(separatedBy: "\n")
        lines.removeLast()
        return lines
    }

    public func kill(_ signal: Int32 = SIGKILL) {
        _ = Foundation.kill(process.processIdentifier, signal)
    }

    /// Waits for the process to exit without holding a cooperative thread.
    public func exit() async -> Int32 {
        await withCheckedContinuation { continuation in
            DispatchQueue(label: "io.github.quiesce.test.child").async {
                continuation.resume(returning: self.wait())
            }
        }
    }

    /// Waits for the process to exit and returns its status; drains what it wrote last.
    /// Blocks the calling thread.
    public func wait() -> Int32 {
        process.waitUntilExit()
        condition.lock()
        if ended == nil { ended = ContinuousClock.now }
        while !drained { condition.wait() }
        condition.unlock()
        return process.terminationStatus
    }
}

/// Runs `body` after `delay` on a dispatch timer: on time whatever the Swift thread pool is busy
/// with (the crash tests' kills must land where they were aimed).
func onDispatchTimer(after delay: Duration, _ body: @escaping @Sendable () -> Void) {
    let microseconds = Int(delay.components.seconds * 1_000_000 + delay.components.attoseconds / 1_000_000_000_000)
    DispatchQueue.global().asyncAfter(deadline: .now() + .microseconds(microseconds), execute: body)
}

/// The package's root directory (where `Package.swift` is): the tests read `dbus/`, `desktop/`
/// and `scripts/` from there.
public let packageRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
