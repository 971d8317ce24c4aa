import QuiesceDBus
import QuiesceInterface
import QuiesceTestSupport

extension InputTorture {
    /// Random calls: random members, signatures and values, from a seeded generator so a
    /// failure repeats. Quit is left out: an empty option dictionary is a valid quit.
    static func fuzz(_ harness: AgentHarness, calls: Int, seed: UInt64, tally: inout Tally) async throws {
        var random = SplitMix64(seed: seed)
        let members = AgentInterface.Method.all.filter { $0 != .quit }.map(\.name) + ["Nope", "X"]
        let allowed: Set<String> = [
            "io.github.quiesce.Error.ShuttingDown", "io.github.quiesce.Error.NotFound", "io.github.quiesce.Error.InvalidArgument",
            "org.freedesktop.DBus.Error.InvalidArgs", "org.freedesktop.DBus.Error.UnknownMethod",
        ]
        var answered = 0, refused = 0
        for _ in 0..<calls {
            let member = members[Int(random.next() % UInt64(members.count))]
            let arguments = (0..<Int(random.next() % 4)).map { _ in randomValue(&random, depth: 0) }
            tally.tried += 1
            do throws(DBusError) {
                _ = try await harness.call(member: member, arguments)
                answered += 1
                tally.survived += 1
            } catch where allowed.contains(error.name.rawValue) {
                refused += 1
                tally.survived += 1
            } catch {
                tally.fail("\(member)\(shape(arguments)): \(error)")
            }
        }
        if refused <= calls / 2 { tally.fail("only \(refused) of \(calls) random calls were refused: the generator has gone tame") }
        if answered == 0 { tally.fail("no random call got through: the generator never makes a valid one") }
        tally.figures = ["\(answered) answered", "\(refused) refused with a named error", "none else"]
    }

    /// A random value: basic types with awkward contents, arrays, dictionaries, structs, variants.
    private static func randomValue(_ random: inout SplitMix64, depth: Int) -> DBusValue {
        let strings = [
            "", "x", "..", "../../etc", "/abs/path", "/etc/hostname", "label", String(repeating: "é", count: 300), "s-unknown", "force",
            "wait", "retry", "cancel", "queued",
        ]
        let kinds = depth > 2 ? 8 : 13
        switch random.next() % UInt64(kinds) {
        case 0: return .string(strings[Int(random.next() % UInt64(strings.count))])
        case 1: return .boolean(random.next() % 2 == 0)
        case 2: return .uint32(UInt32(truncatingIfNeeded: random.next()))
        case 3: return .uint64(random.next() % 3 == 0 ? random.next() % 5 : random.next())
        case 4: return .int64(Int64(bitPattern: random.next()))
        case 5: return .double(Double(bitPattern: random.next()))
        case 6: return .byte(UInt8(truncatingIfNeeded: random.next()))
        case 7: return .objectPath(AgentInterface.path)
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
