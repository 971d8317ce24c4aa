import Foundation
import QuiesceDBus

/// The D-Bus round trip: `GetId` on the bus daemon, one call after another, through QuiesceDBus —
/// beside a minimal C libdbus client (`bench/dbus_roundtrip.c`) making the same calls on the same
/// bus in the same run. The daemon answers both, so the difference is the client's: building the
/// message, our loop on its serial queue, the pending-call bridge to `async`, decoding the reply.
/// Measured on the connection's executor (the goal) and, for comparison, from the cooperative pool.
enum DBusRoundTrip {
    static func run(address: String, baseline: String, calls: Int, rounds: Int) async throws -> Row {
        let connection = try await BusConnection.open(address: address, label: "bench")
        defer { connection.close() }
        _ = try await measureOurs(connection, calls: 200)  // warm-up
        _ = try await withTaskExecutorPreference(connection.executor) { try await measureOurs(connection, calls: 200) }
        var ours = Samples()
        var pooled = Samples()
        var theirs = Samples()
        // Interleaved rounds, so a noisy moment hits all sides alike.
        for _ in 0..<rounds {
            let onConnection = try await withTaskExecutorPreference(connection.executor) {
                try await measureOurs(connection, calls: calls)
            }
            for sample in onConnection.values { ours.append(sample) }
            for sample in try await measureOurs(connection, calls: calls).values { pooled.append(sample) }
            let output = try runBaseline(baseline, [address, "\(calls)"]).output
            for line in output.split(separator: "\n") {
                if let nanoseconds = Int64(line) { theirs.append(.nanoseconds(nanoseconds)) }
            }
        }
        let ratio = ours.median.milliseconds / theirs.median.milliseconds
        let poolRatio = pooled.median.milliseconds / theirs.median.milliseconds
        return Row(
            what: "D-Bus method call round trip (n=\(ours.count))",
            baseline: "C libdbus client, blocking calls (n=\(theirs.count)): median \(theirs.median.readable), p99 \(theirs.p99.readable)",
            goal: "≤ 1.2× the C client (median), from the connection's executor and from the cooperative pool",
            measured: "median \(ours.median.readable), p99 \(ours.p99.readable) = \(ratio.ratio) (from the cooperative pool: median \(pooled.median.readable) = \(poolRatio.ratio))",
            passed: ratio <= 1.2 && poolRatio <= 1.2,
            howToRead: """
                one `org.freedesktop.DBus.GetId` call to the bus daemon and its reply, timed per call, \
                through `BusConnection.call` from async Swift, against a C program calling \
                `dbus_connection_send_with_reply_and_block` on the same private bus. The daemon's work \
                is the same on both sides, so the ratio is the cost of our client path. Measured is a \
                task that runs on the connection's executor (`withTaskExecutorPreference(connection.executor)`, \
                the way a client that calls one method after another should), where the reply resumes \
                the caller on the thread that read it, as in the C client; in brackets the same calls \
                from a task on the cooperative pool. A thread waiting for the connection's queue is \
                handed it by the one before (it used to go through the queue's own thread: two more \
                wake-ups). The pool's caller used to pay one more wake-up per reply than the C \
                client (3,000 calls timed step by step, medians: the send 23 µs, the daemon and the \
                poller's wake-up 125 µs, reading the reply 24 µs, and from resuming the caller to \
                its running again 37–76 µs, a futex wake of one of libdispatch's workers, here a \
                virtual CPU woken from idle: 1.22–1.48× in nine runs). Now a caller off the \
                connection's thread first waits for its reply in its own thread, asleep in \
                `poll(2)` on the socket for at most 1 ms (`ReplyWait`): the reply's arrival wakes it \
                as the kernel wakes the C client, with the poller, which reads the reply while the \
                caller looks for it; nothing is resumed, so no second thread is woken (A/B, six \
                rounds alternating the two builds: 1.07–1.12× against 1.15–1.65×). After a reply later than \
                the wait, the connection's next 32 calls suspend at once: a slow peer holds a pool \
                thread 1 ms at most, and then not again for 32 calls.
                """)
    }

    private static func measureOurs(_ connection: BusConnection, calls: Int) async throws -> Samples {
        var samples = Samples()
        let clock = ContinuousClock()
        for _ in 0..<calls {
            let start = clock.now
            let reply = try await connection.call(try DBusMessage.methodCall(
                destination: "org.freedesktop.DBus", path: "/org/freedesktop/DBus", interface: "org.freedesktop.DBus",
                member: "GetId"))
            guard try reply.arguments().first?.string != nil else {
                throw BenchmarkError(message: "GetId answered without an id")
            }
            samples.append(start.duration(to: clock.now))
        }
        return samples
    }
}
