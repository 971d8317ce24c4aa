import Glibc

/// A pthread mutex with one condition variable on the monotonic clock: the only way a thread of
/// ours waits. A thread blocked here makes no wake-ups at all, which is the point of this module.
final class ThreadCondition: @unchecked Sendable {
    // Safe: pthread objects at fixed addresses, used only through pthread calls.
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    init() {
        pthread_mutex_init(mutex, nil)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(condition, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    func lock() { pthread_mutex_lock(mutex) }
    func unlock() { pthread_mutex_unlock(mutex) }

    /// Runs `body` with the mutex held.
    func locked<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }

    /// Waits (the mutex held) until signalled.
    func wait() { pthread_cond_wait(condition, mutex) }

    /// Waits (the mutex held) until signalled or the monotonic clock reaches `deadline` (ns).
    func wait(until deadline: UInt64) {
        var time = timespec(tv_sec: Int(deadline / 1_000_000_000), tv_nsec: Int(deadline % 1_000_000_000))
        _ = pthread_cond_timedwait(condition, mutex, &time)
    }

    func signal() { pthread_cond_signal(condition) }

    /// Another condition on this one's mutex: for a second kind of waiter, so that waking one
    /// kind never wakes the other (each wake-up is a context switch).
    func companion() -> Companion { Companion(mutex: mutex) }

    final class Companion: @unchecked Sendable {
        // Safe: as for ThreadCondition; `mutex` is its owner's, which outlives it.
        private let mutex: UnsafeMutablePointer<pthread_mutex_t>
        private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

        fileprivate init(mutex: UnsafeMutablePointer<pthread_mutex_t>) {
            self.mutex = mutex
            pthread_cond_init(condition, nil)
        }

        deinit {
            pthread_cond_destroy(condition)
            condition.deallocate()
        }

        /// Waits with the owner's mutex held (as ``ThreadCondition/wait()``).
        func wait() { pthread_cond_wait(condition, mutex) }
        func broadcast() { pthread_cond_broadcast(condition) }
    }
    func broadcast() { pthread_cond_broadcast(condition) }

    /// The monotonic clock in nanoseconds.
    static func now(_ clock: clockid_t = CLOCK_MONOTONIC) -> UInt64 {
        var time = timespec()
        clock_gettime(clock, &time)
        return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
    }
}
