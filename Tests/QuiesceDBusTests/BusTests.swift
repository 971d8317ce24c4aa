import Foundation
import Synchronization
@testable import QuiesceDBus
import QuiesceTestSupport
import Testing

@Suite("Bus connections")
struct BusTests {
    /// How many match rules the bus daemon holds for `name` (from its Debug.Stats interface).
    private func matchRules(of name: String, on connection: BusConnection) async throws -> UInt32? {
        let call = try DBusMessage.methodCall(
            destination: "org.freedesktop.DBus", path: "/org/freedesktop/DBus", interface: "org.freedesktop.DBus.Debug.Stats",
            member: "GetConnectionStats", arguments: [.string(name)])
        return try await connection.call(call).arguments().first?.vardict?["MatchRules"]?.uint32
    }

    @Test("a call from a task cancelled before it calls returns an error, never hangs (the cancel can finish the reply first)")
    func cancelledBeforeCalling() async throws {
        let bus = try PrivateBus()
        let connection = try await BusConnection.open(address: bus.address)
        defer { connection.close() }
        let returned = Count()
        let calls = Task {
            await withTaskGroup(of: Void.self) { group in
                for _ in 0..<500 {
                    group.addTask {
                        withUnsafeCurrentTask { $0?.cancel() }
                        _ = try? await connection.call(try DBusMessage.methodCall(
                            destination: "org.freedesktop.DBus", path: "/org/freedesktop/DBus", interface: "org.freedesktop.DBus", member: "GetId"))
                        returned.add()
                    }
                }
            }
        }
        try await eventually("500 cancelled calls returning", limit: .seconds(20)) { returned.value == 500 }
        await calls.value
    }

    @Test("a signal stream receives what dbus-send emits, and its match rule lives exactly as long as the stream")
    func signalStreams() async throws {
        let bus = try PrivateBus()
        let connection = try await BusConnection.open(address: bus.address)
        defer { connection.close() }
        let name = try #require(connection.uniqueName)
        let before = try await matchRules(of: name, on: connection)

        do {
            let stream = try await connection.signals(matching: MatchRule(interface: "io.github.quiesce.Test", member: "Hello"))
            #expect(try await matchRules(of: name, on: connection) == before.map { $0 + 1 })
            // dbus-send, not `gdbus emit --address`: gdbus does not register on a bus given by
            // address, so the bus routes its broadcast to no one (only a monitor would see it).
            let emitted = try await run("/usr/bin/dbus-send", [
                "--bus=\(bus.address)", "--type=signal", "/io/github/quiesce/Test", "io.github.quiesce.Test.Hello", "string:world", "uint32:7",
            ])
            #expect(emitted.status == 0, "\(emitted.error)")
            var iterator = stream.makeAsyncIterator()
            let signal = try #require(await iterator.next())
            #expect(signal.member == "Hello")
            #expect(try signal.arguments() == [.string("world"), .uint32(7)])
        }
        // The stream is gone: its rule must go too.
        try await eventually("the match rule removed") {
            try await matchRules(of: name, on: connection) == before
        }
    }

    @Test("after leaving(), a subscription that ends stops delivering but leaves its rule to the bus (no RemoveMatch on the way out)")
    func leavingKeepsRules() async throws {
        let bus = try PrivateBus()
        let connection = try await BusConnection.open(address: bus.address)
        defer { connection.close() }
        let name = try #require(connection.uniqueName)
        let before = try #require(try await matchRules(of: name, on: connection))
        do {
            let stream = try await connection.signals(matching: MatchRule(interface: "io.github.quiesce.Test", member: "Hello"))
            #expect(try await matchRules(of: name, on: connection) == before + 1)
            connection.leaving()
            _ = stream
        }
        // The stream is gone. A RemoveMatch would have been queued before the next call and read
        // by the bus first: one look after it is enough.
        #expect(try await matchRules(of: name, on: connection) == before + 1, "the rule stays until the connection closes")
        let subscribed = try connection.sync { () throws(DBusError) in connection.subscriptions.count }
        #expect(subscribed == 0, "nothing is delivered to the ended stream")
    }

    @Test("a quote in a rule's value is written as the bus reads it: the bus takes the rule and matches exactly that value")
    func quotedRuleValue() async throws {
        let bus = try PrivateBus()
        let connection = try await BusConnection.open(address: bus.address)
        defer { connection.close() }
        let value = "it's a 'test'"
        #expect(MatchRule(member: "Hello", arg0: value).description == #"type='signal',member='Hello',arg0='it'\''s a '\''test'\'''"#)
        // The bus refused the rule as it used to be written (a backslash too many): this threw.
        // `Done` follows the rest, so a rule the bus read as another value ends the wait too.
        let stream = try await connection.signals(matchingAny: [
            MatchRule(interface: "io.github.quiesce.Test", member: "Hello", arg0: value),
            MatchRule(interface: "io.github.quiesce.Test", member: "Done"),
        ])
        for (member, argument) in [("Hello", "its a test"), ("Hello", value), ("Done", "")] {
            let emitted = try await run("/usr/bin/dbus-send", [
                "--bus=\(bus.address)", "--type=signal", "/io/github/quiesce/Test", "io.github.quiesce.Test.\(member)", "string:\(argument)",
            ])
            #expect(emitted.status == 0, "\(emitted.error)")
        }
        // Signals arrive in the order sent: the first one received is the one the rule names.
        var iterator = stream.makeAsyncIterator()
        let signal = try #require(await iterator.next())
        #expect(signal.member == "Hello")
        #expect(try signal.arguments() == [.string(value)])
    }

    @Test("a well-known name is taken with do-not-queue: the second asker is told it exists")
    func requestName() async throws {
        let bus = try PrivateBus()
        let first = try await BusConnection.open(address: bus.address)
        let second = try await BusConnection.open(address: bus.address)
        defer { second.close() }
        #expect(try await first.requestName("io.github.quiesce.Test.Name") == .primaryOwner)
        #expect(try await first.requestName("io.github.quiesce.Test.Name") == .alreadyOwner)
        #expect(try await second.requestName("io.github.quiesce.Test.Name") == .exists)
        #expect(try await second.nameOwner("io.github.quiesce.Test.Name") == first.uniqueName)
        first.close()
        try await eventually("the name free again") { try await second.nameOwner("io.github.quiesce.Test.Name") == nil }
        #expect(try await second.requestName("io.github.quiesce.Test.Name") == .primaryOwner)
        await #expect(throws: DBusError.self) { try await second.requestName("not a name") }
    }

    @Test("the bus vouches for a caller's uid and pid")
    func credentials() async throws {
        let bus = try PrivateBus()
        let connection = try await BusConnection.open(address: bus.address)
        defer { connection.close() }
        let credentials = try await connection.credentials(of: try #require(connection.uniqueName))
        #expect(credentials.uid == getuid())
        #expect(credentials.pid == UInt32(getpid()))
    }

    @Test("a client that goes away is seen in NameOwnerChanged")
    func clientVanishes() async throws {
        let bus = try PrivateBus()
        let watcher = try await BusConnection.open(address: bus.address)
        defer { watcher.close() }
        let client = try await BusConnection.open(address: bus.address)
        let clientName = try #require(client.uniqueName)
        let changes = try await watcher.nameOwnerChanges(of: clientName)
        client.close()
        var iterator = changes.makeAsyncIterator()
        let change = await iterator.next()
        #expect(change?.name == clientName)
        #expect(change?.oldOwner == clientName)
        #expect(change?.newOwner == "")
    }

    @Test("departures() hears a client leave and not arrive: the bus matches the empty new owner")
    func departuresOnly() async throws {
        let bus = try PrivateBus()
        let watcher = try await BusConnection.open(address: bus.address)
        defer { watcher.close() }
        let departures = try await watcher.departures()
        // Arrives (its Hello is a NameOwnerChanged with a new owner), takes a name, leaves.
        let client = try await BusConnection.open(address: bus.address)
        let clientName = try #require(client.uniqueName)
        _ = try await client.requestName("io.github.quiesce.Departures")
        client.close()
        var seen: [BusConnection.NameOwnerChange] = []
        for await change in departures {
            seen.append(change)
            if change.name == clientName { break }
        }
        // Before: the client's arrival and its name's came first, with an owner.
        #expect(seen.allSatisfy { $0.newOwner.isEmpty }, "\(seen)")
        #expect(Set(seen.map(\.name)) == [clientName, "io.github.quiesce.Departures"], "\(seen)")
    }

    @Test("a bus that dies is reported, and calls then fail with an error instead of hanging")
    func busDies() async throws {
        var bus: PrivateBus? = try PrivateBus()
        let connection = try await BusConnection.open(address: bus!.address)
        defer { connection.close() }
        let lost = Recorder()
        connection.onDisconnect { lost.mark() }
        bus = nil
        try await eventually("the disconnection seen") { lost.marked }
        #expect(!connection.isConnected)
        await #expect(throws: DBusError.self) { _ = try await connection.nameOwner("org.freedesktop.DBus") }
    }

    @Test("a call still waiting when its connection is closed fails at once instead of hanging")
    func closeFailsPendingCalls() async throws {
        let bus = try PrivateBus()
        let server = try await BusConnection.open(address: bus.address)
        defer { server.close() }
        let entered = Recorder()
        try server.export(ExportedObject(
            path: "/slow", interfaces: [DBusInterface("io.github.quiesce.Test.Slow", methods: [
                DBusMethod("Never") { _ in
                    entered.mark()
                    try await Task.sleep(for: .seconds(3600))
                    return []
                }
            ])], introspectionXML: "<node/>"))
        let client = try await BusConnection.open(address: bus.address)
        let finished = Recorder()
        let call = Task {
            defer { finished.mark() }
            _ = try await client.call(try DBusMessage.methodCall(
                destination: server.uniqueName, path: "/slow", interface: "io.github.quiesce.Test.Slow", member: "Never"))
        }
        try await eventually("the call in flight") { entered.marked }
        client.close()
        try await eventually("the waiting call failed", limit: .seconds(5)) { finished.marked }
        await #expect(throws: DBusError.self) { try await call.value }
    }

    @Test("invalid names and strings are errors, never crashes")
    func invalidInput() async throws {
        #expect(throws: DBusError.self) { _ = try DBusMessage.methodCall(destination: nil, path: "no/leading/slash", interface: nil, member: "M") }
        #expect(throws: DBusError.self) { _ = try DBusMessage.methodCall(destination: nil, path: "/a", interface: "no dots", member: "M") }
        #expect(throws: DBusError.self) { _ = try DBusMessage.methodCall(destination: nil, path: "/a", interface: nil, member: "M", arguments: [.string("nul\0inside")]) }
        #expect(throws: DBusError.self) { _ = try DBusMessage.methodCall(destination: nil, path: "/a", interface: nil, member: "M", arguments: [.array(element: "s", [.uint32(1)])]) }
        #expect(throws: DBusError.self) { _ = try DBusMessage.methodCall(destination: nil, path: "/a", interface: nil, member: "M", arguments: [.objectPath("bad path")]) }
    }

    @Test("handlersFinished waits for a handler still computing its reply, so closing right after loses no answer")
    func handlersFinishedBeforeClose() async throws {
        let bus = try PrivateBus()
        let server = try await BusConnection.open(address: bus.address)
        let entered = Recorder()
        try server.export(ExportedObject(
            path: "/slow", interfaces: [DBusInterface("io.github.quiesce.Test.Slow", methods: [
                DBusMethod("Later", out: "s") { _ in
                    entered.mark()
                    try await Task.sleep(for: .milliseconds(300))
                    return [.string("answered")]
                }
            ])], introspectionXML: "<node/>"))
        let client = try await BusConnection.open(address: bus.address)
        defer { client.close() }
        let call = Task {
            try await client.call(try DBusMessage.methodCall(
                destination: server.uniqueName, path: "/slow", interface: "io.github.quiesce.Test.Slow", member: "Later"))
        }
        try await eventually("the handler running") { entered.marked }
        await server.handlersFinished()
        // Closed the moment the handlers are done: the reply must already be on its way.
        server.close()
        #expect(try await call.value.arguments() == [.string("answered")])
        // With nothing running it returns at once.
        await server.handlersFinished()
    }

    /// Something that happened, from any thread.
    final class Recorder: @unchecked Sendable {
        private let lock = NSLock()
        private var happened = false
        func mark() { lock.lock(); happened = true; lock.unlock() }
        var marked: Bool { lock.lock(); defer { lock.unlock() }; return happened }
    }
}

/// The poller thread's own failures (issue 16's review): reported, never silent, never a crash.
@Suite("The connection's thread failing")
struct PollerFailureTests {
    @Test("poll failing ends the connection as a disconnection: a waiting call fails at once, onDisconnect runs")
    func pollFails() async throws {
        let bus = try PrivateBus()
        let failing = AbortLikeFlag()
        let connection = try await BusConnection.open(address: bus.address, register: true, label: "bus") { () throws(DBusError) in
            try WatchPoller.make(poll: { descriptors, count, timeout in
                if failing.isSet {
                    errno = EINVAL
                    return -1
                }
                return Glibc.poll(descriptors, count, timeout)
            })
        }
        defer { connection.close() }
        // A peer whose method never answers: the call can only end by the failure.
        let server = try await BusConnection.open(address: bus.address)
        defer { server.close() }
        let entered = BusTests.Recorder()
        try server.export(ExportedObject(
            path: "/never", interfaces: [DBusInterface("io.github.quiesce.Test.Never", methods: [
                DBusMethod("Never") { _ in
                    entered.mark()
                    try await Task.sleep(for: .seconds(3600))
                    return []
                }
            ])], introspectionXML: "<node/>"))
        let lost = BusTests.Recorder()
        connection.onDisconnect { lost.mark() }
        let destination = server.uniqueName ?? ""
        let call = try DBusMessage.methodCall(destination: destination, path: "/never", interface: "io.github.quiesce.Test.Never", member: "Never")
        let waiting = Task { _ = try await connection.call(call, timeout: .seconds(60)) }
        try await eventually("the call waiting for its answer") { entered.marked }
        failing.set()
        // A second call with an earlier reply timeout wakes the thread; its next poll fails.
        let wake = try DBusMessage.methodCall(destination: destination, path: "/never", interface: "io.github.quiesce.Test.Never", member: "Never")
        _ = try? await connection.call(wake, timeout: .seconds(30))
        do {
            try await waiting.value
            Issue.record("the call answered though the connection's thread had stopped")
        } catch let error as DBusError {
            #expect(error.kind == .disconnected)
            #expect(error.message.contains("poll failed: Invalid argument"), "\(error.message)")
        }
        try await eventually("the disconnection reported") { lost.marked }
        #expect(!connection.isConnected)
    }

    @Test("no descriptor for the wake-up (EMFILE) fails opening with the reason instead of crashing")
    func noWakeDescriptor() async throws {
        let bus = try PrivateBus()
        await #expect {
            _ = try await BusConnection.open(address: bus.address, register: true, label: "session bus") { () throws(DBusError) in
                try WatchPoller.make(wakeDescriptor: {
                    errno = EMFILE
                    return -1
                })
            }
        } throws: { error in
            (error as? DBusError)?.message.contains("eventfd): Too many open files") == true
        }
    }

    @Test("a call started as a caller is seen leaves before the answer to that caller: the bus has it first")
    func callStartedFromTheQueue() async throws {
        let bus = try PrivateBus()
        let server = try await BusConnection.open(address: bus.address)
        defer { server.close() }
        let client = try await BusConnection.open(address: bus.address)
        defer { client.close() }
        let serverName = try #require(server.uniqueName)
        let started = Mutex<[StartedCall]>([])
        try server.export(ExportedObject(
            path: "/io/github/quiesce/Test",
            interfaces: [DBusInterface("io.github.quiesce.Test.Ping", methods: [DBusMethod("Ping") { _ in [] }])],
            introspectionXML: "",
            callerSeen: { _ in
                // On the connection's queue, as the call is read; must not block.
                guard let request = try? BusConnection.busCall("RequestName", [.string("io.github.quiesce.Test.Seen"), .uint32(4)]) else { return }
                let call = server.callStarted(request)
                started.withLock { $0.append(call) }
            }))
        // Introspect is answered on the queue, right after the hook: nothing else can come first.
        _ = try await client.call(try DBusMessage.methodCall(
            destination: serverName, path: "/io/github/quiesce/Test", interface: "org.freedesktop.DBus.Introspectable", member: "Introspect"))
        // The bus takes a connection's messages in order: the name was asked for before the answer.
        #expect(try await client.nameOwner("io.github.quiesce.Test.Seen") == server.uniqueName)
        let call = try #require(started.withLock { $0.first })
        #expect(try await call.reply().arguments().first?.uint32 == 1, "primary owner")
    }
}

/// A flag set from a test, read from the poller thread.
final class AbortLikeFlag: Sendable {
    private let value = Atomic<Bool>(false)
    func set() { value.store(true, ordering: .sequentiallyConsistent) }
    var isSet: Bool { value.load(ordering: .sequentiallyConsistent) }
}
