import Synchronization
@testable import QuiesceSync
import QuiesceTestSupport
import Testing

@Suite("The worker's wake-up")
struct WakeupTests {
    @Test("a wait whose timer fires before the waiter is registered still returns (a due retry never stalls)")
    func timerBeforeRegistration() async throws {
        let wakeup = Wakeup()
        let returned = Count()
        // A zero timeout's timer races the waiter's registration: before the fix, a timer that
        // won found no waiter to wake, and the waiter then slept until the next wake().
        let waiting = Task {
            for _ in 0..<2_000 {
                await wakeup.wait(after: wakeup.generation, timeout: .zero)
                returned.add()
            }
        }
        try await eventually("2,000 waits with a zero timeout returning", limit: .seconds(60)) {
            returned.value == 2_000
        }
        await waiting.value
    }

    @Test("a wake before the wait, and a wake during it, both end it")
    func wakes() async throws {
        let wakeup = Wakeup()
        let seen = wakeup.generation
        wakeup.wake()
        await wakeup.wait(after: seen, timeout: nil)
        let later = wakeup.generation
        async let waited: Void = wakeup.wait(after: later, timeout: nil)
        try await Task.sleep(for: .milliseconds(10))
        wakeup.wake()
        await waited
    }
}
