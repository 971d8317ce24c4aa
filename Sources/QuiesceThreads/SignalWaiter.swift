import Glibc

/// Termination and reload signals as an async sequence, without libdispatch: the signals are
/// blocked in every thread and one thread of ours takes them with `sigwaitinfo`, sleeping in
/// the kernel until one comes. (swift-service-lifecycle's `UnixSignalsSequence` uses a
/// dispatch source, which starts libdispatch's pool and its once-a-second wake-up.)
public enum SignalWaiter {
    /// Blocks `signals` in the calling thread, and so in every thread it starts after this call.
    /// Call at the top of `main`, before any thread exists. Children started through
    /// `Spawn` get a clean mask.
    public static func block(_ signals: [Int32]) {
        var set = sigset_t()
        sigemptyset(&set)
        for signal in signals { sigaddset(&set, signal) }
        pthread_sigmask(SIG_BLOCK, &set, nil)
    }

    /// The blocked `signals` as they arrive. Block them first (``block(_:)``) in every thread.
    public static func signals(_ signals: [Int32]) throws(ThreadStartError) -> AsyncStream<Int32> {
        let (stream, continuation) = AsyncStream<Int32>.makeStream()
        try DetachedThread.start(name: "quiesce-signals") {
            var set = sigset_t()
            sigemptyset(&set)
            for signal in signals { sigaddset(&set, signal) }
            while true {
                let signal = sigwaitinfo(&set, nil)
                if signal > 0 { continuation.yield(signal) }
            }
        }
        return stream
    }
}
