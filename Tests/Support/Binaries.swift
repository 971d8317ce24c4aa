public import Foundation

/// Where SwiftPM put this package's executables: beside the test bundle.
public func builtProduct(_ name: String) -> String {
    let me = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    var directory = URL(fileURLWithPath: me).deletingLastPathComponent()
    if directory.lastPathComponent.hasSuffix(".xctest") { directory.deleteLastPathComponent() }
    return directory.appendingPathComponent(name).path
}

/// A child process whose standard output is collected as it arrives.
public final class ChildProcess: @unchecked Sendable {
    // Safe: `output` is only touched under `lock`; `process` is read-only after init.
    public let process = Process()
    private let pipe = Pipe()
    private let lock = NSLock()
    private var output = Data()
    /// When the process was started, and (once it has been waited for) when it was seen to exit.
    public let started: ContinuousClock.Instant
    public private(set) var ended: ContinuousClock.Instant?

    public init(_ executable: String, _ arguments: [String]) throws {
        started = ContinuousClock.now
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = pipe
        process.standardError = FileHandle.standardError
        pipe.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let data = handle.availableData
            guard let self, !data.isEmpty else { return }
            self.lock.lock()
            self.output.append(data)
            self.lock.unlock()
        }
        try process.run()
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
        lock.lock()
        defer { lock.unlock() }
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
        lock.lock()
        if ended == nil { ended = ContinuousClock.now }
        lock.unlock()
        let rest = pipe.fileHandleForReading.readDataToEndOfFile()
        pipe.fileHandleForReading.readabilityHandler = nil
        lock.lock()
        output.append(rest)
        lock.unlock()
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
