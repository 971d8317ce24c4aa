@_spi(ExperimentalCustomExecutors) import _Concurrency
import Glibc

/// Runs a program's tasks on threads of its own instead of libdispatch, so an idle process
/// makes no wake-ups (see ``TaskPool``).
///
/// Built on the standard library's executor factory (`_createExecutors(factory:)`, with
/// `MainExecutor` and `SchedulingExecutor`), which Swift 6.3 ships as experimental SPI: the
/// only way to replace the executor `Task.sleep` falls back to (the runtime's enqueue hooks see
/// no sleeps). Should a later toolchain change it, this file is what to adapt.
public enum QuiesceExecutors {
    /// Installs the executors, runs `main` as the program's first task and exits with its status.
    /// Call first thing in a synchronous `static func main()`: nothing may be enqueued before.
    public static func run(threads: Int = defaultThreads, _ main: @escaping @Sendable () async -> Int32) -> Never {
        Factory.pool = TaskPool(threads: threads)
        _createExecutors(factory: Factory.self)
        Task.detached {
            let status = await main()
            fflush(nil)
            exit(status)
        }
        do {
            try Factory.main.run()
        } catch {}
        exit(0)
    }

    /// Two threads, or one a core beyond that (the pool is for short jobs; blocking work has
    /// threads of its own).
    public static var defaultThreads: Int {
        max(2, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    }

    private enum Factory: ExecutorFactory {
        nonisolated(unsafe) static var pool: TaskPool!
        static let main = MainThreadExecutor()
        static var mainExecutor: any MainExecutor { main }
        static var defaultExecutor: any TaskExecutor { pool }
    }
}
