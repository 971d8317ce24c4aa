import Glibc

/// A thread could not be started (the process or the user is at its limit of threads).
public struct ThreadStartError: Error, Sendable, CustomStringConvertible {
    public let name: String
    public let code: Int32
    public var description: String {
        "cannot start the thread \(name): \(String(cString: strerror(code))) (the process or the user has too many threads)"
    }
}

/// Plain threads for work that blocks (a `read` on a pipe, `waitpid`, a folder walk, an fsync):
/// such work must never sit on the task pool, whose few threads every task shares; and it must
/// not go to libdispatch either, whose worker pool, once started, wakes the process every second
/// for good. A thread of our own costs ~30 µs to start and nothing while it waits.
public enum DetachedThread {
    /// Starts `body` on a new detached thread named `name` (as `top -H` shows it: 15 bytes).
    public static func start(name: String, _ body: @escaping @Sendable () -> Void) throws(ThreadStartError) {
        let started = spawn(Body(name: name, run: body))
        guard started == 0 else { throw ThreadStartError(name: name, code: started) }
    }

    /// pthread_create with `body` as its argument; returns its result.
    private static func spawn(_ body: Body) -> Int32 {
        let context = Unmanaged.passRetained(body).toOpaque()
        var thread = pthread_t()
        let started = pthread_create(&thread, nil, threadMain, context)
        if started == 0 {
            pthread_detach(thread)
        } else {
            Unmanaged<Body>.fromOpaque(context).release()
        }
        return started
    }

    /// Runs blocking `body` on a thread of its own and returns its result. Should no thread
    /// start, `body` runs on the caller's thread: slower for everyone, never lost.
    public static func run<T: Sendable>(name: String, _ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            do {
                try start(name: name) { continuation.resume(returning: body()) }
            } catch {
                continuation.resume(returning: body())
            }
        }
    }

    /// Names the calling thread (Glibc's `pthread_setname_np` is not visible to Swift).
    static func nameCurrentThread(_ name: String) {
        let file = open("/proc/thread-self/comm", O_WRONLY | O_CLOEXEC)
        guard file >= 0 else { return }
        let short = String(decoding: name.utf8.prefix(15), as: UTF8.self)
        _ = short.withCString { write(file, $0, strlen($0)) }
        close(file)
    }

    fileprivate final class Body: Sendable {
        let name: String
        let run: @Sendable () -> Void
        init(name: String, run: @escaping @Sendable () -> Void) {
            self.name = name
            self.run = run
        }
    }
}

/// Every detached thread's first function.
private func threadMain(_ context: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    let body = Unmanaged<DetachedThread.Body>.fromOpaque(context!).takeRetainedValue()
    DetachedThread.nameCurrentThread(body.name)
    body.run()
    return nil
}
