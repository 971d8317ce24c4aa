import Foundation
import QuiesceDBus
import QuiesceStore
import QuiesceTestSupport
import Testing

/// Random calls at the real agent: random members, signatures and values. Every reply must be a
/// success or a named error, the agent must stay up, and its database must stay whole.
@Suite("agentd under random calls")
struct FuzzTests {
    static let calls = 10_000

    @Test("10,000 random calls: each answered with a success or a named error; the agent stays up; the database is whole")
    func randomCalls() async throws {
        let session = try PrivateBus()
        let harness = try await AgentHarness(busAddress: session.address, owner: session)
        let agent = try await harness.start()
        var random = SplitMix64(seed: 20_261_122)
        // Quit is left out: an empty option dictionary is a valid quit, and the agent would stop.
        let members = ["OpenSession", "CloseSession", "ListSessions", "Enqueue", "ListJobs", "ChangeJob", "Answer", "Nope", ""]
        let allowed: Set<String> = [
            "io.github.quiesce.Error.ShuttingDown", "io.github.quiesce.Error.NotFound", "io.github.quiesce.Error.InvalidArgument",
            "org.freedesktop.DBus.Error.InvalidArgs", "org.freedesktop.DBus.Error.UnknownMethod",
        ]
        var answered = 0, refused = 0, others = 0
        var unexpected: [String] = []
        for _ in 0..<Self.calls {
            let member = members[Int(random.next() % UInt64(members.count))]
            let arguments = (0..<Int(random.next() % 4)).map { _ in randomValue(&random, depth: 0) }
            guard let message = try? DBusMessage.methodCall(
                destination: AgentHarness.busName, path: AgentHarness.path, interface: AgentHarness.busName,
                member: member.isEmpty ? "X" : member, arguments: arguments)
            else {
                Issue.record("could not build a call to \(member)")
                continue
            }
            do {
                _ = try await harness.control.call(message, timeout: .seconds(10))
                answered += 1
            } catch {
                if allowed.contains(error.name.rawValue) {
                    refused += 1
                } else {
                    others += 1
                    if unexpected.count < 10 { unexpected.append("\(member)(\(arguments.map(\.signature).joined())): \(error)") }
                }
            }
        }
        #expect(others == 0, "replies that were neither a success nor a named error: \(unexpected)")
        #expect(answered + refused == Self.calls)
        #expect(refused > Self.calls / 2, "most random calls are refused (\(refused))")
        #expect(answered > 0, "and some get through (\(answered))")
        #expect(agent.isRunning)
        #expect(try await harness.property("State") == .string("running"))
        #expect(try await harness.ctl(["quit", "--force"]).status != 1)
        _ = await agent.exitStatus()
        let store = try Store(path: harness.databasePath)  // runs integrity_check
        store.close()
        print("fuzz: \(Self.calls) calls, \(answered) answered, \(refused) refused with a named error, agent up, database whole")
    }

    /// A random value: basic types with awkward contents, arrays, dictionaries, structs, variants.
    private func randomValue(_ random: inout SplitMix64, depth: Int) -> DBusValue {
        let strings = ["", "x", "..", "../../etc", "/abs/path", "/etc/hostname", "label", String(repeating: "é", count: 300), "s-unknown", "force", "wait", "retry", "cancel", "queued"]
        let kinds = depth > 2 ? 8 : 13
        switch random.next() % UInt64(kinds) {
        case 0: return .string(strings[Int(random.next() % UInt64(strings.count))])
        case 1: return .boolean(random.next() % 2 == 0)
        case 2: return .uint32(UInt32(truncatingIfNeeded: random.next()))
        case 3: return .uint64(random.next() % 3 == 0 ? random.next() % 5 : random.next())
        case 4: return .int64(Int64(bitPattern: random.next()))
        case 5: return .double(Double(bitPattern: random.next()))
        case 6: return .byte(UInt8(truncatingIfNeeded: random.next()))
        case 7: return .objectPath("/io/github/quiesce/Agent1")
        case 8: return .strings((0..<Int(random.next() % 3)).map { _ in strings[Int(random.next() % UInt64(strings.count))] })
        case 9:
            var entries: [String: DBusValue] = [:]
            for _ in 0..<Int(random.next() % 3) {
                let key = ["bind", "force", "timeout", "state", "limit", "interactive", "zzz"][Int(random.next() % 7)]
                entries[key] = randomValue(&random, depth: depth + 1)
            }
            return .vardict(entries)
        case 10: return .variant(randomValue(&random, depth: depth + 1))
        case 11: return .structure([randomValue(&random, depth: depth + 1), randomValue(&random, depth: depth + 1)])
        default: return .array(element: "t", (0..<Int(random.next() % 3)).map { _ in .uint64(random.next() % 10) })
        }
    }
}

/// A small seeded generator, so a failing run can be repeated exactly.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
